"""The fund ledger: money recorded once, never edited, never below zero, balances summed by SQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.models import AppendOnlyError, EntryKind, Fund, LedgerEntry, PaymentMethod
from tests.fixtures.funds import entries, entry


def key() -> str:
    return uuid.uuid4().hex


def entry_count() -> int:
    return db.session.scalar(select(func.count(LedgerEntry.id)))


def contribute(world, fund, fen: int, idempotency_key: str | None = None) -> LedgerEntry:
    return entry(fund, EntryKind.CONTRIBUTION, fen, by=world.a.treasurer, shop=world.a.shop,
                 method=PaymentMethod.WECHAT_PAY, idempotency_key=idempotency_key)


def test_the_balance_is_what_came_in_minus_what_went_out(world, fund):
    contribute(world, fund, 500_00)
    entries(fund, [(EntryKind.SUBSIDY, 300_00, {"counterparty": "静安寺街道办"}),
                   (EntryKind.EXPENSE, 120_50, {"counterparty": "施工队"})], by=world.a.treasurer)
    assert services.balance_fen(fund.id) == 679_50
    totals = services.totals(fund.id)
    assert (totals.balance_fen, totals.income_fen, totals.spending_fen) == (679_50, 800_00, 120_50)


def test_the_same_form_submitted_twice_records_the_money_once(world, fund):
    form_key = key()
    first = contribute(world, fund, 200_00, form_key)
    second = contribute(world, fund, 200_00, form_key)
    assert first.id == second.id
    assert entry_count() == 1
    assert services.balance_fen(fund.id) == 200_00


def test_the_fund_never_pays_out_more_than_it_holds(world, fund):
    contribute(world, fund, 100_00)
    with pytest.raises(DomainError, match="100.00"):
        services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, 100_01),
                              idempotency_key=key())
    assert entry_count() == 1
    assert services.balance_fen(fund.id) == 100_00


@pytest.mark.parametrize("amount", [0, -1, 10**13, 1.5])
def test_impossible_amounts_are_refused_and_nothing_is_written(world, fund, amount):
    with pytest.raises(DomainError):
        contribute(world, fund, amount)
    assert entry_count() == 0


def test_only_the_treasurer_records_money(world, fund):
    for person in (world.a.lead, world.a.owner, world.a.officer, world.b.treasurer, world.admin):
        with pytest.raises(NotAllowed):
            services.record_entry(person, fund, services.EntryDetails(EntryKind.CONTRIBUTION, 100, shop=world.a.shop),
                                  idempotency_key=key())
    assert entry_count() == 0


def test_a_contribution_names_a_shop_of_the_same_alliance(world, fund):
    with pytest.raises(DomainError):
        services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.CONTRIBUTION, 100),
                              idempotency_key=key())
    with pytest.raises(DomainError):
        services.record_entry(world.a.treasurer, fund,
                              services.EntryDetails(EntryKind.CONTRIBUTION, 100, shop=world.b.shop),
                              idempotency_key=key())
    assert entry_count() == 0


def test_entries_cannot_be_edited_or_deleted_through_the_orm(world, fund):
    entry = contribute(world, fund, 100_00)
    entry.amount_fen = 1
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(LedgerEntry, entry.id))
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    assert services.balance_fen(fund.id) == 100_00


def test_entries_cannot_be_changed_even_by_plain_sql(world, fund):
    entry = contribute(world, fund, 100_00)
    with pytest.raises(DBAPIError):
        db.session.execute(update(LedgerEntry).where(LedgerEntry.id == entry.id).values(amount_fen=5))
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(text("DELETE FROM ledger_entries"))
    db.session.rollback()
    assert services.balance_fen(fund.id) == 100_00


def test_a_mistake_is_corrected_by_an_exact_reversal_once(world, fund):
    entry = contribute(world, fund, 300_00)
    reversal = services.reverse_entry(world.a.treasurer, entry, "记错了店铺", idempotency_key=key())
    assert reversal.amount_fen == -300_00 and reversal.reverses_id == entry.id
    assert services.balance_fen(fund.id) == 0
    with pytest.raises(DomainError):
        services.reverse_entry(world.a.treasurer, entry, "again", idempotency_key=key())
    with pytest.raises(DomainError):
        services.reverse_entry(world.a.treasurer, reversal, "undo the undo", idempotency_key=key())
    with pytest.raises(DomainError):
        services.reverse_entry(world.a.treasurer, entry, "  ", idempotency_key=key())
    assert entry_count() == 2


def test_reversing_income_that_was_already_spent_is_refused(world, fund):
    income = contribute(world, fund, 100_00)
    services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, 80_00),
                          idempotency_key=key())
    with pytest.raises(DomainError):
        services.reverse_entry(world.a.treasurer, income, "wrong shop", idempotency_key=key())
    assert services.balance_fen(fund.id) == 20_00


operations = st.lists(
    st.tuples(st.sampled_from(["in", "out", "reverse"]), st.integers(min_value=1, max_value=50_000_00)),
    min_size=1, max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_invariants_hold_after_any_sequence_of_operations(world, fund, steps):
    expected = services.balance_fen(fund.id)  # examples share the fixture's fund: start where the last ended
    for operation, amount in steps:
        try:
            if operation == "in":
                contribute(world, fund, amount)
                expected += amount
            elif operation == "out":
                services.record_entry(world.a.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, amount),
                                      idempotency_key=key())
                expected -= amount
            else:
                candidate = db.session.scalar(
                    select(LedgerEntry).where(LedgerEntry.fund_id == fund.id, LedgerEntry.kind != EntryKind.REVERSAL)
                    .order_by(LedgerEntry.id.desc()).limit(1))
                if candidate is not None:
                    services.reverse_entry(world.a.treasurer, candidate, "fix", idempotency_key=key())
                    expected -= candidate.amount_fen
        except DomainError:
            pass
        balance = services.balance_fen(fund.id)
        assert balance == expected >= 0
        summed = db.session.scalar(select(func.sum(LedgerEntry.amount_fen)).where(LedgerEntry.fund_id == fund.id))
        assert balance == (summed or 0)
    reversed_ids = db.session.scalars(select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.is_not(None)))
    for entry_id in reversed_ids:
        original = db.session.get(LedgerEntry, entry_id)
        reversal = db.session.scalar(select(LedgerEntry).where(LedgerEntry.reverses_id == entry_id))
        assert reversal.amount_fen == -original.amount_fen


@pytest.mark.postgres_only  # the row lock under real concurrency; SQLite serialises whole writes anyway
def test_twenty_concurrent_payments_and_expenses_on_postgresql(app, world, fund):
    contribute(world, fund, 1_000_00)
    treasurer_id, shop_id, fund_id = world.a.treasurer.id, world.a.shop.id, fund.id
    outcomes: list[str] = []
    barrier = threading.Barrier(20, timeout=30)

    def worker(n: int) -> None:
        with app.app_context():
            from merchant_alliance.accounts.models import User
            from merchant_alliance.shops.models import Shop

            treasurer, this_fund = db.session.get(User, treasurer_id), db.session.get(Fund, fund_id)
            db.session.commit()  # give the connection back: the pool has fewer than 20
            barrier.wait()
            try:
                if n % 2:
                    services.record_entry(treasurer, this_fund, services.EntryDetails(EntryKind.EXPENSE, 300_00),
                                          idempotency_key=key())
                    outcomes.append("out")
                else:
                    services.record_entry(treasurer, this_fund,
                                          services.EntryDetails(EntryKind.CONTRIBUTION, 50_00,
                                                                shop=db.session.get(Shop, shop_id)),
                                          idempotency_key=key())
                    outcomes.append("in")
            except DomainError:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.expire_all()
    expected = 1_000_00 + 50_00 * outcomes.count("in") - 300_00 * outcomes.count("out")
    assert len(outcomes) == 20 and outcomes.count("in") == 10
    assert services.balance_fen(fund_id) == expected >= 0
    assert entry_count() == 1 + outcomes.count("in") + outcomes.count("out")


def test_balances_are_per_fund(world, fund):
    contribute(world, fund, 10_00)
    other = services.default_fund(world.b.alliance)
    db.session.commit()
    services.record_entry(world.b.treasurer, other,
                          services.EntryDetails(EntryKind.CONTRIBUTION, 7_00, shop=world.b.shop),
                          idempotency_key=key())
    assert services.balance_fen(fund.id) == 10_00
    assert services.balance_fen(other.id) == 7_00
