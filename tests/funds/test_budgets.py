"""A project's budget and shares, and its funding: the fund's share is reserved only when the shop's share is
covered and the money is there; reserved money is spent on that project only, or released when it ends."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from merchant_alliance.accounts.models import User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, pledges, services
from merchant_alliance.funds.models import (
    EntryKind,
    ExpenseApproval,
    ExpenseRequest,
    Fund,
    LedgerEntry,
    Pledge,
    ProjectBudget,
    Reservation,
    ReservationReason,
    ShareCover,
    expense_receipts,
)
from merchant_alliance.funds.shares import ShareRule
from merchant_alliance.money import MAX_FEN
from merchant_alliance.notifications.models import Notification
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.lifecycle import Attempt, lifecycle
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.shops.models import Shop
from tests.fixtures.funds import approved_project, entry, funded_project, give, key, promise
from tests.fixtures.safety import permitted_project
from tests.projects.helpers import count, put_in_state, state_of, stored_files

pytestmark = pytest.mark.usefixtures("in_request")

S = ProjectState
RULE = ShareRule(fund_percent=Decimal(30), fund_cap_fen=3_000_00)  # the alliance's default


# --- helpers the other fund tests share (the factories are in tests/fixtures/funds.py) -----------


def books(app) -> dict[str, Any]:
    """Everything a refused money action must leave as it was: the rows it could touch, and the stored files."""
    db.session.rollback()

    def rows(*columns) -> list:
        return db.session.execute(select(*columns).order_by(columns[0])).all()

    counts = [select(func.count()).select_from(table).scalar_subquery()
              for table in (ExpenseApproval, expense_receipts, Photo, AuditEvent, Notification)]
    return {
        "projects": rows(Project.id, Project.state),
        "budgets": rows(ProjectBudget.project_id, ProjectBudget.budget_fen, ProjectBudget.shop_fen,
                        ProjectBudget.fund_fen, ProjectBudget.subsidy_fen, ProjectBudget.subsidy_source),
        "entries": rows(LedgerEntry.id, LedgerEntry.amount_fen, LedgerEntry.pledge_id),
        "reservations": rows(Reservation.id, Reservation.amount_fen),
        "pledges": rows(Pledge.id, Pledge.amount_fen, Pledge.due_on, Pledge.cancelled_at),
        "requests": rows(ExpenseRequest.id, ExpenseRequest.state, ExpenseRequest.paid_entry_id,
                         ExpenseRequest.decision_reason),
        "rules": rows(Fund.id, Fund.fund_percent, Fund.fund_cap_fen, Fund.two_approvals_above_fen,
                      Fund.shop_share_cover),
        # approvals, receipts, photos, audit events, notifications
        "counts": tuple(db.session.execute(select(*counts)).one()),
        "files": stored_files(app),
    }


def money(fund: Fund) -> tuple[int, int, int]:
    """(balance, reserved, available)."""
    totals = services.totals(fund.id)
    return totals.balance_fen, totals.reserved_fen, totals.available_fen


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def project(world) -> Project:
    """Yuyuan Road's project: its design approved and its structural permit granted, ready to be funded."""
    return permitted_project(owner=world.a.owner, shop=world.a.shop)


# --- setting the budget --------------------------------------------------------------------------


def test_the_default_rule_gives_the_fund_thirty_percent_up_to_three_thousand_yuan(app, cast, fund, project):
    rule = budgets.default_rule(fund)
    assert rule == RULE

    budget = budgets.set_budget(cast.lead, project, 8_000_00, rule)
    assert (budget.shop_fen, budget.fund_fen, budget.subsidy_fen) == (5_600_00, 2_400_00, 0)
    budget = budgets.set_budget(cast.lead, project, 12_000_00, rule)  # 30% would be ¥3,600: capped
    assert (budget.shop_fen, budget.fund_fen) == (9_000_00, 3_000_00)
    budget = budgets.set_budget(cast.co_lead, project, 20_000_00, rule)
    assert (budget.shop_fen, budget.fund_fen) == (17_000_00, 3_000_00)

    assert count(ProjectBudget) == 1  # changed, not added
    assert budgets.budget_of(project).set_by_id == cast.co_lead.id
    steps = [e for e in projects.timeline(project) if e.action == "project.budget_set"]
    assert [e.details["fund_fen"] for e in steps] == [2_400_00, 3_000_00, 3_000_00]

    # Only a lead changes the alliance's rule, within bounds; the next budget follows it.
    before = books(app)
    for who in ("treasurer", "owner", "officer", "admin", "lead_elsewhere"):
        with pytest.raises(NotAllowed):
            budgets.update_rules(getattr(cast, who), fund, fund_percent=Decimal(50), fund_cap_fen=None,
                                 two_approvals_above_fen=0, shop_share_cover=ShareCover.PAID)
    for percent, cap, threshold in [(Decimal("100.5"), None, 0), (Decimal(-1), None, 0),
                                    (Decimal(30), -1, 0), (Decimal(30), None, MAX_FEN + 1)]:
        with pytest.raises(DomainError):
            budgets.update_rules(cast.lead, fund, fund_percent=percent, fund_cap_fen=cap,
                                 two_approvals_above_fen=threshold, shop_share_cover=ShareCover.PAID)
        db.session.rollback()
    assert books(app) == before
    budgets.update_rules(cast.lead, fund, fund_percent=Decimal("12.5"), fund_cap_fen=None,
                         two_approvals_above_fen=1_000_00, shop_share_cover=ShareCover.PAID)
    budget = budgets.set_budget(cast.lead, project, 10_000_07, budgets.default_rule(fund))
    # 12.5% of ¥10,000.07 is ¥1,250.00875: the fund's share is rounded down, the shop's takes the rest.
    assert (budget.fund_fen, budget.shop_fen) == (1_250_00, 8_750_07)


def test_percentages_are_rounded_down_to_the_fen_and_the_shop_absorbs_the_remainder(cast, fund, project):
    budget = budgets.set_budget(cast.lead, project, 100_01, ShareRule(fund_percent=Decimal("33.33")))
    assert (budget.fund_fen, budget.shop_fen, budget.subsidy_fen) == (33_33, 66_68, 0)  # ¥33.333… → ¥33.33

    budget = budgets.set_budget(cast.lead, project, 100_01, ShareRule(fund_percent=Decimal(30),
                                                                      subsidy_percent=Decimal("33.33")),
                                subsidy_source="静安寺街道办")
    assert (budget.fund_fen, budget.subsidy_fen, budget.shop_fen) == (30_00, 33_33, 36_68)

    # Shares may be given as amounts too; a subsidy names who gives it.
    budget = budgets.set_budget(cast.lead, project, 12_000_00, ShareRule(fund_fen=2_000_00, subsidy_fen=1_000_00),
                                subsidy_source="  静安寺街道办  ")
    assert (budget.shop_fen, budget.fund_fen, budget.subsidy_fen) == (9_000_00, 2_000_00, 1_000_00)
    assert budget.subsidy_source == "静安寺街道办"
    budget = budgets.set_budget(cast.lead, project, 12_000_00, ShareRule(fund_fen=2_000_00),
                                subsidy_source="静安寺街道办")
    assert (budget.shop_fen, budget.subsidy_source) == (10_000_00, "")  # no subsidy, so nobody gives one


IMPOSSIBLE = [
    (0, RULE, "", "more than zero"),
    (-100_00, RULE, "", "more than zero"),
    (MAX_FEN + 1, RULE, "", "at most ¥100,000,000.00"),
    (1.5, RULE, "", "more than zero and at most"),  # not whole fen
    (10_000_00, ShareRule(fund_fen=6_000_00, subsidy_fen=5_000_00), "街道", "more than the budget"),
    (10_000_00, ShareRule(fund_fen=10_000_01), "", "more than the budget"),
    (10_000_00, ShareRule(fund_percent=Decimal(60), subsidy_percent=Decimal(41)), "街道", "more than the budget"),
    (10_000_00, ShareRule(fund_percent=Decimal("100.01")), "", "between 0 and 100"),
    (10_000_00, ShareRule(fund_percent=Decimal(-1)), "", "between 0 and 100"),
    (10_000_00, ShareRule(fund_fen=-1), "", "negative"),
    (10_000_00, ShareRule(fund_percent=Decimal(10), fund_fen=1_000_00), "", "not both"),
    (10_000_00, ShareRule(fund_fen=1_000_00, subsidy_fen=1_000_00), "", "who gives the subsidy"),
    (10_000_00, ShareRule(subsidy_percent=Decimal(10)), "   ", "who gives the subsidy"),
]


def test_impossible_budgets_are_refused_and_the_budget_stays_as_it_was(app, cast, fund, project):
    budgets.set_budget(cast.lead, project, 9_000_00, RULE)
    before = books(app)
    for budget_fen, rule, source, message in IMPOSSIBLE:
        with pytest.raises(DomainError, match=message):
            budgets.set_budget(cast.lead, project, budget_fen, rule, subsidy_source=source)
        assert books(app) == before, (budget_fen, rule)
    assert budgets.budget_of(project).budget_fen == 9_000_00


def test_only_a_lead_of_the_projects_alliance_sets_the_budget_and_only_before_funding(app, cast, fund, project):
    before = books(app)
    for who in ("owner", "co_owner", "neighbour", "treasurer", "officer", "contractor", "admin", "lead_next_door",
                "lead_elsewhere", "nobody"):
        with pytest.raises(NotAllowed):
            budgets.set_budget(getattr(cast, who), project, 12_000_00, RULE)
        assert books(app) == before, who

    for state in (S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.FUNDED, S.CONTRACTED, S.WITHDRAWN, S.REJECTED):
        put_in_state(project, state)
        db.session.commit()
        before = books(app)
        with pytest.raises(DomainError, match="after the design is approved"):
            budgets.set_budget(cast.lead, project, 12_000_00, RULE)
        assert books(app) == before, state
    assert budgets.budget_of(project) is None

    put_in_state(project, S.PERMIT_GRANTED)  # after the street office's permit, still before funding
    db.session.commit()
    assert budgets.set_budget(cast.lead, project, 12_000_00, RULE).fund_fen == 3_000_00


# --- funding -------------------------------------------------------------------------------------


def refused_funding(app, lead: User, project: Project, message: str) -> None:
    """The `fund` step is refused with `message`, and nothing at all changes."""
    assert message in lifecycle.refusal(lead, project, "fund", Attempt())
    before = books(app)
    with pytest.raises(DomainError, match=message):
        projects.move(lead, project, "fund")
    assert books(app) == before
    assert state_of(project) == S.PERMIT_GRANTED


def test_funding_waits_for_a_budget_and_for_the_shop_to_pledge_its_whole_share(app, cast, fund, project):
    give(cast.treasurer, fund, 10_000_00)
    refused_funding(app, cast.lead, project, "Set the budget")
    budgets.set_budget(cast.lead, project, 12_000_00, RULE)  # the shop's share is ¥9,000
    refused_funding(app, cast.lead, project, "¥9,000.00 is not yet covered")

    first = promise(cast.owner, fund, project, 5_000_00)
    refused_funding(app, cast.lead, project, "¥4,000.00 is not yet covered")
    elsewhere = approved_project(cast.owner, project.shop, "另一块招牌")  # a pledge for another project
    promise(cast.owner, fund, elsewhere, 4_000_00)
    cancelled = promise(cast.owner, fund, project, 4_000_00)
    pledges.cancel_pledge(cast.treasurer, cancelled, "店主改变主意")  # a withdrawn promise covers nothing
    refused_funding(app, cast.lead, project, "¥4,000.00 is not yet covered")

    promise(cast.owner, fund, project, 3_999_99)
    refused_funding(app, cast.lead, project, "¥0.01 is not yet covered")
    pledges.create_pledge(cast.lead, fund, project.shop, 1, pledges.today(), project=project)  # staff may too
    before = books(app)
    for who in ("owner", "treasurer", "officer", "admin", "lead_next_door", "lead_elsewhere"):
        with pytest.raises(NotAllowed):
            projects.move(getattr(cast, who), project, "fund")
        assert books(app) == before, who

    projects.move(cast.lead, project, "fund")
    assert state_of(project) == S.FUNDED
    assert first.cancelled_at is None


def test_when_the_share_must_be_paid_a_pledge_is_not_enough_but_the_payment_is(app, cast, fund, project):
    budgets.update_rules(cast.lead, fund, fund_percent=Decimal(30), fund_cap_fen=3_000_00,
                         two_approvals_above_fen=5_000_00, shop_share_cover=ShareCover.PAID)
    give(cast.treasurer, fund, 3_000_00)
    budgets.set_budget(cast.lead, project, 12_000_00, RULE)
    pledge = promise(cast.owner, fund, project, 9_000_00)
    refused_funding(app, cast.lead, project, "must be paid first: ¥9,000.00 is still missing")

    entry(fund, EntryKind.CONTRIBUTION, 8_000_00, by=cast.treasurer, pledge=pledge)
    refused_funding(app, cast.lead, project, "¥1,000.00 is still missing")
    entry(fund, EntryKind.CONTRIBUTION, 1_000_00, by=cast.treasurer, pledge=pledge)
    assert budgets.cover(project).shop_paid_fen == 9_000_00
    projects.move(cast.lead, project, "fund")
    assert state_of(project) == S.FUNDED
    assert money(fund) == (12_000_00, 3_000_00, 9_000_00)


def test_funding_is_refused_while_the_fund_cannot_set_its_share_aside(app, cast, fund, project):
    give(cast.treasurer, fund, 2_999_99)
    budgets.set_budget(cast.lead, project, 12_000_00, RULE)
    promise(cast.owner, fund, project, 9_000_00)
    refused_funding(app, cast.lead, project, "only ¥2,999.99 available; the fund's share is ¥3,000.00")
    give(cast.treasurer, fund, 1)
    projects.move(cast.lead, project, "fund")
    assert state_of(project) == S.FUNDED
    assert money(fund) == (3_000_00, 3_000_00, 0)


@pytest.fixture
def funded(world, cast, fund) -> Project:
    """Yuyuan Road's project, funded: the fund held ¥10,000 and set ¥3,000 aside for it (of a ¥12,000 budget)."""
    give(cast.treasurer, fund, 10_000_00)
    return funded_project(fund, owner=cast.owner, shop=world.a.shop, budget_fen=12_000_00, rule=RULE, lead=cast.lead)


def test_reserved_money_is_for_the_funded_project_only(app, world, cast, fund, funded):
    # The reservation lowers what is available, not the balance, and moves no money.
    assert state_of(funded) == S.FUNDED
    assert money(fund) == (10_000_00, 3_000_00, 7_000_00)
    reservation = db.session.scalar(select(Reservation))
    assert (reservation.reason, reservation.project_id, reservation.amount_fen, reservation.created_by_id) == (
        ReservationReason.RESERVE, funded.id, 3_000_00, cast.lead.id)
    assert count(LedgerEntry) == 1
    assert "project.fund" in [e.action for e in projects.timeline(funded)]

    # Spending for anything else cannot dip into it...
    other = permitted_project(owner=cast.neighbour, shop=world.a.other_shop, title="隔壁的招牌")
    before = books(app)
    for project in (None, other):
        with pytest.raises(DomainError, match="¥7,000.00 available"):
            services.record_entry(cast.treasurer, fund,
                                  services.EntryDetails(EntryKind.EXPENSE, 7_000_01, project=project,
                                                        counterparty="施工队"),
                                  idempotency_key=key())
        assert books(app) == before
    # ...nor can another project be funded with it.
    budgets.set_budget(cast.lead, other, 30_000_00, ShareRule(fund_fen=7_000_01))
    promise(cast.neighbour, fund, other, 22_999_99)
    refused_funding(app, cast.lead, other, "only ¥7,000.00 available")
    services.record_entry(cast.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, 7_000_00, counterparty="保洁"),
                          idempotency_key=key())
    assert money(fund) == (3_000_00, 3_000_00, 0)

    # An expense for the funded project uses its reservation, and uses it up.
    services.record_entry(cast.treasurer, fund,
                          services.EntryDetails(EntryKind.EXPENSE, 2_000_00, project=funded, counterparty="施工队"),
                          idempotency_key=key())
    assert money(fund) == (1_000_00, 1_000_00, 0)
    spend = db.session.scalar(select(Reservation).where(Reservation.reason == ReservationReason.SPEND))
    assert spend.amount_fen == -2_000_00 and spend.ledger_entry_id is not None
    before = books(app)
    with pytest.raises(DomainError, match="¥1,000.00 available"):
        services.record_entry(cast.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, 1_000_01, project=funded),
                              idempotency_key=key())
    assert books(app) == before
    services.record_entry(cast.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, 1_000_00, project=funded),
                          idempotency_key=key())
    assert money(fund) == (0, 0, 0)
    assert budgets.cover(funded).spent_fen == 3_000_00


def test_an_expense_beyond_the_reservation_and_withdrawing_release_the_rest(cast, fund, funded):
    services.record_entry(cast.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, 1_200_00, project=funded),
                          idempotency_key=key())
    assert money(fund) == (8_800_00, 1_800_00, 7_000_00)
    projects.move(cast.owner, funded, "withdraw")
    assert state_of(funded) == S.WITHDRAWN
    assert money(fund) == (8_800_00, 0, 8_800_00)
    release = db.session.scalar(select(Reservation).where(Reservation.reason == ReservationReason.RELEASE))
    assert (release.amount_fen, release.created_by_id) == (-1_800_00, cast.owner.id)

    # A second project: an expense larger than its reservation takes the rest from available money.
    second = funded_project(fund, owner=cast.owner, shop=funded.shop, budget_fen=2_000_00,
                            rule=ShareRule(fund_fen=1_000_00), lead=cast.lead, title="第二块招牌")
    assert money(fund) == (8_800_00, 1_000_00, 7_800_00)
    services.record_entry(cast.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, 1_500_00, project=second),
                          idempotency_key=key())
    assert money(fund) == (7_300_00, 0, 7_300_00)
    projects.move(cast.owner, second, "withdraw")  # nothing left to release
    assert count(Reservation) == 5  # reserve, spend, release; reserve, spend


def test_reversing_a_project_expense_gives_the_project_its_reservation_back(cast, fund, funded):
    paid = services.record_entry(cast.treasurer, fund,
                                 services.EntryDetails(EntryKind.EXPENSE, 1_200_00, project=funded),
                                 idempotency_key=key())
    assert money(fund) == (8_800_00, 1_800_00, 7_000_00)
    services.reverse_entry(cast.treasurer, paid, "付错了工程队", idempotency_key=key())
    assert money(fund) == (10_000_00, 3_000_00, 7_000_00)  # set aside for the project again, not for anyone
    restore = db.session.scalar(select(Reservation).where(Reservation.reason == ReservationReason.RESTORE))
    assert restore.amount_fen == 1_200_00 and restore.project_id == funded.id

    # Once the project has ended, a reversed expense of it is simply money available again.
    second = services.record_entry(cast.treasurer, fund,
                                   services.EntryDetails(EntryKind.EXPENSE, 500_00, project=funded),
                                   idempotency_key=key())
    projects.move(cast.owner, funded, "withdraw")
    assert money(fund) == (9_500_00, 0, 9_500_00)
    services.reverse_entry(cast.treasurer, second, "退回", idempotency_key=key())
    assert money(fund) == (10_000_00, 0, 10_000_00)


def test_an_expense_that_used_the_whole_reservation_reversed_after_the_project_ended_stays_available(cast, fund,
                                                                                                  funded):
    whole = services.record_entry(cast.treasurer, fund,
                                  services.EntryDetails(EntryKind.EXPENSE, 3_000_00, project=funded),
                                  idempotency_key=key())
    projects.move(cast.owner, funded, "withdraw")  # nothing was left to release
    assert money(fund) == (7_000_00, 0, 7_000_00)
    services.reverse_entry(cast.treasurer, whole, "工程取消，退回", idempotency_key=key())
    assert money(fund) == (10_000_00, 0, 10_000_00)


# --- the invariants, under any sequence of operations ------------------------------------------------

OPERATIONS = ["in", "out", "fund", "spend", "reverse", "withdraw"]
sequences = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(min_value=1, max_value=5_000_00),
              st.integers(min_value=0, max_value=100)),
    min_size=1, max_size=15,
)


def funded_projects(fund: Fund) -> list[Project]:
    return list(db.session.scalars(select(Project).where(Project.alliance_id == fund.alliance_id,
                                                         Project.state == S.FUNDED).order_by(Project.id)))


def fund_a_project(cast, shop: Shop, fund: Fund, share: int) -> Project:
    """A new project whose fund share is `share` and whose shop pledged its ¥100; the lead tries to fund it."""
    return funded_project(fund, owner=cast.owner, shop=shop, budget_fen=share + 100_00, rule=ShareRule(fund_fen=share),
                          lead=cast.lead, title=f"项目 {key()[:8]}")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=sequences)
def test_balance_and_reservations_stay_consistent_after_any_sequence(world, cast, fund, steps):
    # Examples share the fixture's fund: each one starts from where the last ended.
    balance = services.balance_fen(fund.id)
    reserved = {project_id: int(amount) for project_id, amount in db.session.execute(
        select(Reservation.project_id, func.sum(Reservation.amount_fen)).group_by(Reservation.project_id))}
    # Project expense id → what it took from its project's reservation; withdrawn projects (their reservation
    # was released). Both from the database too, as earlier examples left them.
    used: dict[int, int] = {entry_id: -amount for entry_id, amount in db.session.execute(
        select(Reservation.ledger_entry_id, Reservation.amount_fen)
        .where(Reservation.reason == ReservationReason.SPEND))}
    ended: set[int] = set(db.session.scalars(select(Project.id).where(Project.state == S.WITHDRAWN)))
    for operation, amount, pick in steps:
        funded = funded_projects(fund)
        if operation in ("spend", "withdraw") and not funded:
            continue  # nothing to spend on or withdraw yet
        try:
            if operation == "in":
                services.record_entry(cast.treasurer, fund,
                                      services.EntryDetails(EntryKind.CONTRIBUTION, amount, shop=world.a.shop),
                                      idempotency_key=key())
                balance += amount
            elif operation == "out":
                services.record_entry(cast.treasurer, fund, services.EntryDetails(EntryKind.EXPENSE, amount),
                                      idempotency_key=key())
                balance -= amount
            elif operation == "fund":
                project = fund_a_project(cast, world.a.shop, fund, amount)
                reserved[project.id] = amount
            elif operation == "spend":
                project = funded[pick % len(funded)]
                paid = services.record_entry(cast.treasurer, fund,
                                             services.EntryDetails(EntryKind.EXPENSE, amount, project=project),
                                             idempotency_key=key())
                balance -= amount
                used[paid.id] = min(amount, reserved[project.id])
                reserved[project.id] -= used[paid.id]
            elif operation == "reverse":
                reversal = aliased(LedgerEntry)
                candidates = list(db.session.scalars(
                    select(LedgerEntry).where(LedgerEntry.fund_id == fund.id, LedgerEntry.kind != EntryKind.REVERSAL,
                                              ~exists().where(reversal.reverses_id == LedgerEntry.id))
                    .order_by(LedgerEntry.id)))
                if not candidates:
                    continue
                entry = candidates[pick % len(candidates)]
                services.reverse_entry(cast.treasurer, entry, "记错了", idempotency_key=key())
                balance -= entry.amount_fen
                if entry.id in used and entry.project_id not in ended:  # the project gets its reservation back
                    reserved[entry.project_id] += used[entry.id]
            elif operation == "withdraw":
                project = funded[pick % len(funded)]
                projects.move(cast.owner, project, "withdraw")
                reserved[project.id] = 0
                ended.add(project.id)
        except DomainError:
            db.session.rollback()
            event(f"{operation} refused")
        else:
            event(f"{operation} done")  # --hypothesis-show-statistics: how often each kind of step happened

        totals = services.totals(fund.id)
        summed = db.session.scalar(select(func.sum(LedgerEntry.amount_fen)).where(LedgerEntry.fund_id == fund.id))
        assert totals.balance_fen == int(summed or 0) == balance >= 0
        assert 0 <= totals.reserved_fen <= totals.balance_fen
        assert totals.available_fen >= 0
        assert totals.reserved_fen == sum(reserved.values())
        for project_id, expected in reserved.items():
            assert services.reserved_fen(fund.id, project_id) == expected >= 0
