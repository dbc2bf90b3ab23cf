"""The factories build through the services: a project reaches its state by the lifecycle's own moves (each one
on the timeline), money reaches the books through the treasurer's service, and a funded project has its share
set aside. Other tests rely on this to start from states people can really reach."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from merchant_alliance.audit import AuditEvent, events_for_object
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, services
from merchant_alliance.funds.models import EntryKind, LedgerEntry
from merchant_alliance.funds.shares import ShareRule
from merchant_alliance.projects.models import ProjectState
from tests.fixtures.funds import entries, entry, funded_project, give
from tests.fixtures.projects import make_project

pytestmark = pytest.mark.usefixtures("in_request")
S = ProjectState


@pytest.mark.parametrize(("state", "moves"), [
    (S.DRAFT, []),
    (S.SUBMITTED, ["project.submit"]),
    (S.CHANGES_REQUESTED, ["project.submit", "project.request_changes"]),
    (S.REJECTED, ["project.submit", "project.reject"]),
    (S.DESIGN_APPROVED, ["project.submit", "project.approve_design"]),
    (S.WITHDRAWN, ["project.withdraw"]),
    (S.PERMIT_REQUESTED, ["project.submit", "project.approve_design", "project.request_permit"]),
    (S.PERMIT_GRANTED, ["project.submit", "project.approve_design", "project.request_permit", "project.grant_permit"]),
    (S.PERMIT_DENIED, ["project.submit", "project.approve_design", "project.request_permit", "project.deny_permit"]),
])
def test_a_project_is_taken_to_its_state_by_the_lifecycles_own_moves(world, state, moves):
    """The owner proposes and submits, a lead of the alliance reviews, the owner sends the structural plan and the
    street's officer decides: the timeline shows each move, by them."""
    project = make_project(state, by=world.a.owner, shop=world.a.shop)
    assert project.state == state
    events = list(db.session.scalars(events_for_object(project).order_by(None).order_by(AuditEvent.id)))
    assert [e.action for e in events if e.action not in ("project.create", "project.version_added")] == moves
    reviewers = {e.actor_id for e in events if e.action in ("project.request_changes", "project.reject",
                                                             "project.approve_design")}
    assert reviewers <= {world.a.lead.id}
    assert {e.actor_id for e in events if e.action in ("project.grant_permit", "project.deny_permit")} <= {
        world.a.officer.id}
    assert len(project.latest_version.mockups) == 1 and len(project.latest_version.current_photos) == 1


def test_a_state_another_domain_moves_to_is_refused_and_one_no_move_reaches_yet_is_set(world):
    """Funding needs money, so it has a factory of its own; a permit is granted by the street's officer through
    the permit's service; a contract is made by selecting a quote (the works' factory); a state no move reaches
    is set directly."""
    with pytest.raises(ValueError, match="another domain"):
        make_project(S.FUNDED, by=world.a.owner, shop=world.a.shop)
    assert make_project(S.PERMIT_GRANTED, by=world.a.owner, shop=world.a.shop, title="另一块").state == \
        S.PERMIT_GRANTED
    with pytest.raises(ValueError, match="another domain"):
        make_project(S.CONTRACTED, by=world.a.owner, shop=world.a.shop, title="第三块")
    assert make_project(S.FAILED, by=world.a.owner, shop=world.a.shop, title="第四块").state == S.FAILED


def test_entries_are_recorded_by_the_treasurer_and_refused_as_the_service_refuses_them(world, fund):
    """Money goes in and out through record_entry: signed amounts, the treasurer as the one who entered it."""
    recorded = entries(fund, [(EntryKind.SUBSIDY, 300_00, {"counterparty": "静安寺街道办"}),
                              (EntryKind.CONTRIBUTION, 50_00, {"shop": world.a.shop}),
                              (EntryKind.EXPENSE, 120_50)])
    assert [(e.kind, e.amount_fen, e.entered_by_id) for e in recorded] == [
        (EntryKind.SUBSIDY, 300_00, world.a.treasurer.id), (EntryKind.CONTRIBUTION, 50_00, world.a.treasurer.id),
        (EntryKind.EXPENSE, -120_50, world.a.treasurer.id)]
    assert services.balance_fen(fund.id) == 229_50
    with pytest.raises(NotAllowed):
        entry(fund, EntryKind.SUBSIDY, 1_00, by=world.a.owner)
    with pytest.raises(DomainError):
        entry(fund, EntryKind.EXPENSE, 1_000_00)  # more than the fund holds
    db.session.rollback()
    assert len(db.session.scalars(select(LedgerEntry)).all()) == 3


def test_a_funded_project_has_its_shops_share_pledged_and_the_funds_share_set_aside(world, fund):
    """The lead sets the budget by the rule, the owner pledges the shop's share, the lead confirms the funding."""
    give(world.a.treasurer, fund, 5_000_00)
    project = funded_project(fund, owner=world.a.owner, shop=world.a.shop, budget_fen=10_000_00,
                             rule=ShareRule(fund_fen=2_000_00))
    assert project.state == S.FUNDED
    cover = budgets.cover(project)
    assert (cover.budget.shop_fen, cover.shop_pledged_fen, cover.reserved_fen) == (8_000_00, 8_000_00, 2_000_00)
    with pytest.raises(DomainError, match="only"):  # the fund has ¥3,000 left to set aside: not enough for ¥4,000
        funded_project(fund, owner=world.a.owner, shop=world.a.shop, budget_fen=10_000_00,
                       rule=ShareRule(fund_fen=4_000_00), title="第二块")
