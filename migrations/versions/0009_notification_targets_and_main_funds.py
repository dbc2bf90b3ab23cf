"""notifications name their page by endpoint; every alliance has its main fund from the start

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 16:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

IS_DEFAULT = sa.text("is_default")
MAIN_FUND_NAME = "资金池"  # funds.services.DEFAULT_FUND_NAME when this migration was written


def upgrade():
    # A notification stores the page it points to as an endpoint and its arguments, so services make
    # notifications without a request (the CLI, jobs, an API). Older rows keep their stored link.
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('endpoint', sa.String(length=80), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('endpoint_args', sa.JSON(), nullable=True))

    # The main fund used to be created by the first page that looked at it (a write on a GET). It is now
    # created with the alliance; alliances that never had their books opened get theirs here.
    connection = op.get_bind()
    connection.execute(sa.text(
        "INSERT INTO funds (alliance_id, name, is_default, created_at, fund_percent, fund_cap_fen, "
        "two_approvals_above_fen, shop_share_cover) "
        "SELECT a.id, :name, :yes, CURRENT_TIMESTAMP, 30, 300000, 500000, 'pledged' FROM alliances a "
        "WHERE NOT EXISTS (SELECT 1 FROM funds f WHERE f.alliance_id = a.id AND f.is_default)"
    ), {"name": MAIN_FUND_NAME, "yes": True})
    op.create_index('uq_funds_one_main_fund', 'funds', ['alliance_id'], unique=True,
                    sqlite_where=IS_DEFAULT, postgresql_where=IS_DEFAULT)


def downgrade():
    op.drop_index('uq_funds_one_main_fund', table_name='funds')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('endpoint_args')
        batch_op.drop_column('endpoint')
