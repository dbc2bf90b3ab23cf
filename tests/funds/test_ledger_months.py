"""The monthly sums the books read: written with every entry, never different from the entries themselves.

The overview's balance and month-by-month chart and the statement's opening balance read `ledger_months`
instead of summing every entry. Whatever the treasurer does — money in and out dated in any month,
reversals, pledge payments — every figure on those pages must be what a full SUM of the entries gives,
and `flask doctor` must find nothing to report.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, update

from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds import checks, pledges, reports, services
from merchant_alliance.funds.models import EntryKind, LedgerEntry, LedgerMonth, PaymentMethod, recount_after_bulk_load
from merchant_alliance.timeutil import local_day_start_utc, local_today, utcnow
from tests.fixtures.funds import reverse_one

KINDS = [EntryKind.CONTRIBUTION, EntryKind.SUBSIDY, EntryKind.DONATION, EntryKind.EXPENSE, EntryKind.REFUND]


def key() -> str:
    return uuid.uuid4().hex


def full_sums(fund_id: int, since=None, until=None) -> tuple[int, int, int]:
    """Balance, income and spending summed over every entry (between two moments, when given)."""
    amount = LedgerEntry.amount_fen
    where = [LedgerEntry.fund_id == fund_id]
    if since is not None:
        where.append(LedgerEntry.occurred_on >= since)
    if until is not None:
        where.append(LedgerEntry.occurred_on < until)
    row = db.session.execute(select(func.coalesce(func.sum(amount), 0),
                                    func.coalesce(func.sum(amount).filter(amount > 0), 0),
                                    func.coalesce(func.sum(-amount).filter(amount < 0), 0)).where(*where)).one()
    return tuple(int(value) for value in row)


def assert_pages_agree_with_the_entries(fund_id: int) -> None:
    totals = services.totals(fund_id)
    assert (totals.balance_fen, totals.income_fen, totals.spending_fen) == full_sums(fund_id)
    assert services.balance_fen(fund_id) == totals.balance_fen
    months = reports.months_up_to(reports.Month.of(utcnow()), 14)
    for flow in reports.monthly_flows(fund_id, months):
        _, income, spending = full_sums(fund_id, flow.month.starts_utc(), flow.month.ends_utc())
        assert (flow.income_fen, flow.spending_fen) == (income, spending), flow.month
    for month in (months[0], months[6], months[-1]):
        statement = reports.monthly_statement(fund_id, month)
        assert statement.opening_fen == full_sums(fund_id, until=month.starts_utc())[0]
        assert statement.closing_fen == full_sums(fund_id, until=month.ends_utc())[0]
        assert statement.line_count == len(statement.lines)
    assert list(checks.check_monthly_sums()) == list(checks.check_pledges_paid()) == []


step = st.one_of(
    st.tuples(st.just("record"), st.sampled_from(KINDS), st.integers(1, 500_000), st.integers(0, 400)),
    st.tuples(st.just("reverse"), st.integers(0, 1_000)),
    st.tuples(st.just("pledge"), st.integers(1, 300_000), st.booleans()),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_every_figure_of_the_books_is_the_sum_of_the_entries_after_any_sequence(world, fund, steps):
    treasurer, shop = world.a.treasurer, world.a.shop
    for operation, *values in steps:
        try:
            if operation == "record":
                kind, amount, days_ago = values
                occurred_on = local_day_start_utc(local_today() - timedelta(days=days_ago)) + timedelta(hours=10)
                services.record_entry(treasurer, fund, services.EntryDetails(
                    kind, amount, shop=shop if kind in (EntryKind.CONTRIBUTION, EntryKind.REFUND) else None,
                    method=PaymentMethod.BANK_TRANSFER, occurred_on=occurred_on), idempotency_key=key())
            elif operation == "reverse":
                reverse_one(treasurer, fund, values[0])
            else:
                amount, in_full = values
                pledge = pledges.create_pledge(treasurer, fund, shop, amount, local_today() + timedelta(days=30))
                services.record_entry(treasurer, fund, services.EntryDetails(
                    EntryKind.CONTRIBUTION, amount if in_full else max(amount // 2, 1), pledge=pledge),
                    idempotency_key=key())
        except DomainError:
            db.session.rollback()  # refused (e.g. more out than the fund holds): nothing written, nothing counted
        assert_pages_agree_with_the_entries(fund.id)


def test_the_first_entry_of_a_month_and_the_next_one_land_in_one_row(world, fund):
    for amount in (100_00, 250_00):
        services.record_entry(world.a.treasurer, fund,
                              services.EntryDetails(EntryKind.CONTRIBUTION, amount, shop=world.a.shop),
                              idempotency_key=key())
    rows = db.session.scalars(select(LedgerMonth).where(LedgerMonth.fund_id == fund.id)).all()
    assert [(row.kind, row.income_fen, row.spending_fen, row.entries) for row in rows] == \
        [(EntryKind.CONTRIBUTION, 350_00, 0, 2)]


def test_a_refused_entry_is_not_counted(world, fund):
    services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.SUBSIDY, 100_00),
                          idempotency_key=key())
    before = db.session.execute(select(LedgerMonth.kind, LedgerMonth.income_fen, LedgerMonth.spending_fen)).all()
    try:
        services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, 100_01),
                              idempotency_key=key())
    except DomainError:
        db.session.rollback()
    assert db.session.execute(select(LedgerMonth.kind, LedgerMonth.income_fen, LedgerMonth.spending_fen)).all() \
        == before
    assert_pages_agree_with_the_entries(fund.id)


def test_the_doctor_reports_monthly_sums_that_differ_from_the_entries(world, fund):
    services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.SUBSIDY, 100_00),
                          idempotency_key=key())
    assert list(checks.check_monthly_sums()) == list(checks.check_pledges_paid()) == []
    db.session.execute(update(LedgerMonth).values(income_fen=LedgerMonth.income_fen + 1))
    problems = list(checks.check_monthly_sums())
    assert len(problems) == 1 and f"fund {fund.id}" in problems[0] and "subsidy" in problems[0]


def test_a_pledge_knows_what_it_has_been_paid_through_payments_and_reversals(world, fund):
    treasurer, shop = world.a.treasurer, world.a.shop
    pledge = pledges.create_pledge(treasurer, fund, shop, 1_000_00, local_today() + timedelta(days=30))
    first = services.record_entry(treasurer, fund, services.EntryDetails(EntryKind.CONTRIBUTION, 400_00,
                                                                          pledge=pledge), idempotency_key=key())
    assert pledge.paid_fen == 400_00  # the object in hand, not only the database
    services.record_entry(treasurer, fund, services.EntryDetails(EntryKind.CONTRIBUTION, 600_00, pledge=pledge),
                          idempotency_key=key())
    assert [row.id for row in pledges.open_pledges(fund.id)] == []
    services.reverse_entry(treasurer, first, "记错了金额", idempotency_key=key())
    db.session.expire_all()
    assert db.session.get(type(pledge), pledge.id).paid_fen == 600_00
    (row,) = pledges.open_pledges(fund.id)
    assert (row.id, row.paid_fen, pledges.pledge_status(row)) == (pledge.id, 600_00, "open")
    assert list(checks.check_pledges_paid()) == []

    db.session.execute(update(type(pledge)).values(paid_fen=0))
    (problem,) = checks.check_pledges_paid()
    assert f"pledge {pledge.id}" in problem and "600.00" in problem


def test_entries_loaded_in_bulk_are_counted_by_the_recount(world, fund):
    """Benchmarks and imports insert entries without the ORM: the recount makes the kept figures right."""
    pledge = pledges.create_pledge(world.a.treasurer, fund, world.a.shop, 500_00, local_today() + timedelta(days=9))
    moment = utcnow() - timedelta(days=40)
    db.session.execute(insert(LedgerEntry), [
        {"fund_id": fund.id, "kind": EntryKind.CONTRIBUTION, "amount_fen": 300_00, "occurred_on": moment,
         "shop_id": world.a.shop.id, "pledge_id": pledge.id, "idempotency_key": key(),
         "entered_by_id": world.a.treasurer.id},
        {"fund_id": fund.id, "kind": EntryKind.SUBSIDY, "amount_fen": 1_000_00, "occurred_on": utcnow(),
         "idempotency_key": key(), "entered_by_id": world.a.treasurer.id},
    ])
    assert list(checks.check_monthly_sums()) and list(checks.check_pledges_paid())  # not counted yet
    recount_after_bulk_load(db.session.connection(), [fund.id])
    assert list(checks.check_monthly_sums()) == list(checks.check_pledges_paid()) == []
    assert_pages_agree_with_the_entries(fund.id)
