"""the alliance's own renewal goal: how many signs it means to renew (set by its lead)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 06:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: existing alliances have no goal until their lead sets one.
    with op.batch_alter_table('alliances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('renewal_goal', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('alliances', schema=None) as batch_op:
        batch_op.drop_column('renewal_goal')
