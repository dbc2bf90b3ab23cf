"""The fund's check-then-write steps hold when two people act at the same moment: approvals take turns, a
pledge is cancelled once and never paid after its cancellation, receipts are not slipped into a submitted
request, and a budget never changes under a funding that reserved its old share."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from merchant_alliance.accounts.models import User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, expenses, pledges, services
from merchant_alliance.funds.models import (
    EntryKind,
    ExpenseApproval,
    ExpenseRequest,
    ExpenseState,
    Fund,
    LedgerEntry,
    Pledge,
    ProjectBudget,
)
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.shops.models import Shop
from tests.concurrency import at_once, while_held
from tests.fixtures.funds import give, key, promise
from tests.fixtures.safety import permitted_project
from tests.funds.test_budgets import RULE
from tests.funds.test_expenses import THRESHOLD, ask
from tests.projects.helpers import upload

pytestmark = [pytest.mark.postgres_only, pytest.mark.usefixtures("in_request")]
E = ExpenseState


@pytest.fixture
def fund(world) -> Fund:
    fund = services.default_fund(world.a.alliance)
    db.session.commit()
    give(world.a.treasurer, fund, 50_000_00)
    return fund


def get(model, id_: int):
    return db.session.get(model, id_)


def events(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_two_leads_approving_a_large_expense_at_the_same_moment_both_count(app, cast, fund):
    """Each approval used to count only itself when both arrived together: two approvals, and the request
    stuck waiting for a second lead forever. Now they take turns and the second moves it on."""
    lead_ids = (cast.lead.id, cast.co_lead.id)
    requests = [ask(cast.treasurer, fund, THRESHOLD + 1_00 * n) for n in range(1, 6)]

    for request in requests:
        results = at_once(app, *[lambda lead_id=lead_id, request_id=request.id: expenses.approve(
            get(User, lead_id), get(ExpenseRequest, request_id)) for lead_id in lead_ids])
        assert sorted(results) == [False, True]
        assert db.session.scalar(select(ExpenseRequest.state).where(ExpenseRequest.id == request.id)) == E.APPROVED


def test_an_approval_arriving_while_the_request_is_being_rejected_is_refused(app, cast, fund, monkeypatch):
    """A lead rejects; another lead approves a moment later, before the rejection is saved. The approval
    waits, then finds the request rejected: no approval is recorded on a rejected request."""
    request = ask(cast.treasurer, fund, THRESHOLD + 1)
    ids = (cast.lead.id, cast.co_lead.id, request.id)

    outcome = while_held(
        app, monkeypatch,
        lambda: expenses.reject(get(User, ids[0]), get(ExpenseRequest, ids[2]), "报价过高"),
        lambda: expenses.approve(get(User, ids[1]), get(ExpenseRequest, ids[2])),
    )

    assert outcome.first is None and isinstance(outcome.second, DomainError)
    assert db.session.scalar(select(ExpenseRequest.state).where(ExpenseRequest.id == request.id)) == E.REJECTED
    assert db.session.scalar(select(func.count()).select_from(ExpenseApproval)) == 0
    assert events("expense.approved") == 0


def test_receipts_cannot_be_slipped_into_a_request_being_submitted(app, cast, fund, monkeypatch):
    """The leads review what was submitted: a receipt added while the submission is being saved is refused."""
    draft = ask(cast.treasurer, fund, 1_000_00, submit=False)
    photos = db.session.scalar(select(func.count()).select_from(Photo))
    treasurer_id, draft_id = cast.treasurer.id, draft.id

    outcome = while_held(
        app, monkeypatch,
        lambda: expenses.submit(get(User, treasurer_id), get(ExpenseRequest, draft_id)),
        lambda: expenses.add_receipts(get(User, treasurer_id), get(ExpenseRequest, draft_id),
                                      [upload(filename="补充发票.jpg")]),
    )

    assert outcome.first is None and isinstance(outcome.second, DomainError)
    assert len(get(ExpenseRequest, draft_id).receipts) == 1
    assert db.session.scalar(select(func.count()).select_from(Photo)) == photos


def test_a_pledge_cancelled_twice_at_once_is_cancelled_once(app, cast, fund, world):
    pledge = pledges.create_pledge(cast.owner, fund, world.a.shop, 500_00, pledges.today() + timedelta(days=30))
    ids = (cast.lead.id, cast.treasurer.id, pledge.id)

    results = at_once(app, *[lambda who=who: pledges.cancel_pledge(get(User, who), get(Pledge, ids[2]), "歇业")
                             for who in ids[:2]])

    assert sum(isinstance(r, DomainError) for r in results) == 1
    assert events("fund.pledge_cancelled") == 1


def test_a_payment_naming_a_pledge_being_cancelled_is_refused(app, cast, fund, world, monkeypatch):
    """The lead cancels the pledge while the treasurer records the shop's payment against it: the payment
    waits for the cancellation and is refused, instead of settling a pledge that no longer stands."""
    pledge = pledges.create_pledge(cast.owner, fund, world.a.shop, 500_00, pledges.today() + timedelta(days=30))
    ids = (cast.lead.id, cast.treasurer.id, pledge.id, fund.id, world.a.shop.id)
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))

    outcome = while_held(
        app, monkeypatch,
        lambda: pledges.cancel_pledge(get(User, ids[0]), get(Pledge, ids[2]), "歇业"),
        lambda: services.record_entry(get(User, ids[1]), get(Fund, ids[3]),
                                      services.EntryDetails(EntryKind.CONTRIBUTION, 500_00, shop=get(Shop, ids[4]),
                                                            pledge=get(Pledge, ids[2])),
                                      idempotency_key=key()),
    )

    assert outcome.first is None and isinstance(outcome.second, DomainError)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == entries


@pytest.mark.parametrize("first", ["fund", "budget"])
def test_a_budget_changed_while_the_project_is_funded_never_leaves_the_reservation_wrong(
        app, cast, fund, world, monkeypatch, first):
    """One lead confirms the funding while another changes the budget. Whichever comes first, the money
    reserved is the fund's share of the budget the project ends up with."""
    project = permitted_project(owner=cast.owner, shop=world.a.shop)
    budgets.set_budget(cast.lead, project, 10_000_00, RULE)  # the fund's share: ¥3,000 (30%, at most ¥3,000)
    promise(cast.owner, fund, project, 10_000_00)
    ids = (cast.lead.id, cast.co_lead.id, project.id)

    def confirm_funding():
        return projects.move(get(User, ids[0]), get(Project, ids[2]), "fund")

    def change_budget():
        return budgets.set_budget(get(User, ids[1]), get(Project, ids[2]), 5_000_00, RULE)  # share: ¥1,500

    actions = (confirm_funding, change_budget) if first == "fund" else (change_budget, confirm_funding)
    outcome = while_held(app, monkeypatch, *actions)

    budget = get(ProjectBudget, project.id)
    assert get(Project, project.id).state == ProjectState.FUNDED
    assert services.reserved_fen(fund.id, project.id) == budget.fund_fen
    if first == "fund":
        assert isinstance(outcome.second, DomainError) and budget.budget_fen == 10_000_00
    else:
        assert not isinstance(outcome.second, DomainError) and budget.budget_fen == 5_000_00
