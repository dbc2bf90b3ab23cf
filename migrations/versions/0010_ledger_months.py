"""monthly sums of each fund's ledger and what each pledge has been paid, kept with every entry

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 17:10:00

"""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SHANGHAI = ZoneInfo("Asia/Shanghai")


def upgrade():
    months = op.create_table(
        'ledger_months',
        sa.Column('fund_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('kind', sa.Enum('contribution', 'subsidy', 'donation', 'expense', 'refund', 'reversal',
                                  name='entrykind', native_enum=False, length=20), nullable=False),
        sa.Column('income_fen', sa.BigInteger(), nullable=False),
        sa.Column('spending_fen', sa.BigInteger(), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_ledger_months_fund_id_funds')),
        sa.PrimaryKeyConstraint('fund_id', 'month', 'kind', name=op.f('pk_ledger_months')),
    )
    # The sums of the entries already written, counted in one streamed pass (months are Shanghai's).
    connection = op.get_bind()
    sums: dict[tuple, list[int]] = {}
    entries = connection.execute(sa.text("SELECT fund_id, occurred_on, kind, amount_fen FROM ledger_entries")
                                 .execution_options(yield_per=10_000))
    for fund_id, occurred_on, kind, amount in entries:
        if isinstance(occurred_on, str):  # SQLite hands back the stored text
            occurred_on = datetime.fromisoformat(occurred_on)
        month = occurred_on.replace(tzinfo=UTC).astimezone(SHANGHAI).date().replace(day=1)
        totals = sums.setdefault((fund_id, month, kind), [0, 0, 0])
        totals[0 if amount > 0 else 1] += abs(int(amount))
        totals[2] += 1
    rows = [{"fund_id": fund_id, "month": month, "kind": kind, "income_fen": income, "spending_fen": spending,
             "entries": count} for (fund_id, month, kind), (income, spending, count) in sums.items()]
    if rows:
        op.bulk_insert(months, rows)

    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid_fen', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_index('ix_pledges_fund_due', ['fund_id', 'due_on', 'id'], unique=False)
    op.execute("UPDATE pledges SET paid_fen = (SELECT COALESCE(SUM(e.amount_fen), 0) FROM ledger_entries e "
               "WHERE e.pledge_id = pledges.id)")


def downgrade():
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_index('ix_pledges_fund_due')
        batch_op.drop_column('paid_fen')
    op.drop_table('ledger_months')
