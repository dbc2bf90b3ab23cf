"""form submissions, one open proposal per signboard, password reset requests

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

STILL_OPEN = sa.text("state NOT IN ('withdrawn', 'rejected', 'completed')")


def upgrade():
    op.create_table(
        'form_submissions',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('object_type', sa.String(length=40), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_form_submissions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_form_submissions')),
    )
    with op.batch_alter_table('form_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_submissions_user_id'), ['user_id'], unique=False)

    # Before the database held the rule, two requests at once could both open a proposal for one
    # signboard. Keep the newest open one; the older ones are withdrawn, so the rule can be enforced.
    connection = op.get_bind()
    duplicates = connection.execute(sa.text(
        "SELECT p.id FROM projects p WHERE p.state NOT IN ('withdrawn', 'rejected', 'completed') "
        "AND EXISTS (SELECT 1 FROM projects q WHERE q.signboard_id = p.signboard_id AND q.id > p.id "
        "AND q.state NOT IN ('withdrawn', 'rejected', 'completed'))"
    )).scalars().all()
    if duplicates:
        print(f"Withdrawing {len(duplicates)} older duplicate open proposal(s): {duplicates}")
        connection.execute(sa.text("UPDATE projects SET state = 'withdrawn' WHERE id IN :ids")
                           .bindparams(sa.bindparam("ids", expanding=True)), {"ids": duplicates})
    op.create_index('uq_projects_open_per_signboard', 'projects', ['signboard_id'], unique=True,
                    sqlite_where=STILL_OPEN, postgresql_where=STILL_OPEN)

    op.create_table(
        'password_reset_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=False),
        sa.Column('locale', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('handled_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_password_reset_requests')),
    )
    with op.batch_alter_table('password_reset_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_reset_requests_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('password_reset_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_reset_requests_created_at'))
    op.drop_table('password_reset_requests')
    op.drop_index('uq_projects_open_per_signboard', table_name='projects',
                  sqlite_where=STILL_OPEN, postgresql_where=STILL_OPEN)
    with op.batch_alter_table('form_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_submissions_user_id'))
    op.drop_table('form_submissions')
