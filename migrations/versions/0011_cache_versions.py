"""the version of what each scope's pages show, bumped by every transaction that changes it

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 20:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # No rows: a scope without one is at version 0, and the first change creates it.
    op.create_table(
        'cache_versions',
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('scope', name=op.f('pk_cache_versions')),
    )


def downgrade():
    op.drop_table('cache_versions')
