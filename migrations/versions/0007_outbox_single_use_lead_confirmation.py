"""outbox single use lead confirmation

The mail outbox (outbox_messages), and the street office's confirmation of lead appointments
(memberships.confirmed_at: every membership that exists already counts as confirmed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 13:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('sealed_body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('claim_token', sa.String(length=32), nullable=True),
    sa.Column('claimed_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_due', ['sent_at', 'next_attempt_at'], unique=False)

    # A plain nullable column: added in place on SQLite too, so no table is rebuilt.
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(), nullable=True))
    # Roles held before the street office confirmed appointments stay in force.
    op.execute("UPDATE memberships SET confirmed_at = created_at WHERE confirmed_at IS NULL")


def downgrade():
    # Without the column a pending appointment would become a lead's full powers: it goes instead.
    op.execute("DELETE FROM memberships WHERE confirmed_at IS NULL")
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')

    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_due')

    op.drop_table('outbox_messages')
