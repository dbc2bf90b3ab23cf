"""Change orders: the contractor or a lead proposes a change to the amount (+ or −) or the scope; a lead approves it.
A change that raises the cost takes effect only together with the same raise of the project's shares (the budget,
and the fund's reservation for its part); the order can never be worth less than what was asked for or paid."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds.budgets import budget_of
from merchant_alliance.funds.models import Reservation
from merchant_alliance.funds.shares import Shares
from merchant_alliance.money import MAX_FEN
from merchant_alliance.notifications.models import Notification
from merchant_alliance.works import orders, payments
from merchant_alliance.works.models import ChangeOrder, ChangeState, MilestoneKind, WorkOrder
from tests.fixtures.works import accepted, contracted_order, form_key, milestone, photos
from tests.works.helpers import refused

pytestmark = pytest.mark.usefixtures("in_request")

C = ChangeState


def value_of(order: WorkOrder) -> int:
    db.session.refresh(order)
    return order.value_fen


def reserved(project_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(Reservation.amount_fen), 0))
                             .where(Reservation.project_id == project_id))


def test_a_change_is_proposed_up_or_down_by_the_contractor_or_a_lead(app, world, works, cast):
    """The contractor asks for ¥500 more, a lead proposes ¥200 less: nothing changes until a lead decides. Only the
    contractor's people and the leads propose; only a lead approves or rejects (with a reason); only who proposed
    a change withdraws it."""
    order = contracted_order(works)
    up = orders.propose_change(world.a.contractor, order, 500_00, "  加装不锈钢保险绳  ")
    down = orders.propose_change(world.a.lead, order, -200_00, "取消灯带")
    assert [(c.number, c.amount_fen, c.scope, c.state) for c in (up, down)] == [
        (1, 500_00, "加装不锈钢保险绳", C.PROPOSED), (2, -200_00, "取消灯带", C.PROPOSED)]
    assert world.a.lead.id in set(db.session.scalars(select(Notification.user_id).where(
        Notification.message == orders.NOTICES["change"])))
    assert value_of(order) == 10_000_00  # nothing takes effect before a lead approves

    refused(app, DomainError, orders.propose_change, world.a.contractor, order, 100_00, " ", match="what changes")
    refused(app, DomainError, orders.propose_change, world.a.contractor, order, MAX_FEN + 1, "加钱",
            match="larger than")
    for who in ("owner", "treasurer", "officer", "lead_elsewhere"):
        refused(app, NotAllowed, orders.propose_change, getattr(cast, who), order, 100_00, "加钱")
        refused(app, NotAllowed, orders.approve_change, getattr(cast, who), down)
    refused(app, NotAllowed, orders.approve_change, world.a.contractor, down)
    refused(app, NotAllowed, orders.decide_change, world.a.lead, up, "withdraw")  # only who proposed it withdraws
    refused(app, DomainError, orders.decide_change, world.a.lead, up, "reject", "", match="reason")
    orders.decide_change(world.a.contractor, up, "withdraw")
    orders.decide_change(world.a.lead, down, "reject", "灯带是设计的一部分")
    db.session.refresh(up)
    db.session.refresh(down)
    assert (up.state, down.state, down.decision_reason) == (C.WITHDRAWN, C.REJECTED, "灯带是设计的一部分")
    assert value_of(order) == 10_000_00


def test_a_cost_raising_change_takes_effect_only_with_shares_adding_up_to_it(app, world, works):
    """Without shares, or with shares a fen short, the approval is refused and nothing is written: not the budget,
    not a reservation, not the order's value. With shares to the fen, all three grow together."""
    order = contracted_order(works)
    project = order.project
    budget_before, reserved_before = budget_of(project).budget_fen, reserved(project.id)
    change = orders.propose_change(world.a.contractor, order, 500_00, "加装不锈钢保险绳")

    refused(app, DomainError, orders.approve_change, world.a.lead, change, match="share it between the shop")
    refused(app, DomainError, orders.approve_change, world.a.lead, change, Shares(300_00, 150_00, 49_99),
            match="share it between the shop")
    assert (budget_of(project).budget_fen, reserved(project.id), value_of(order)) == (
        budget_before, reserved_before, 10_000_00)

    orders.approve_change(world.a.lead, change, Shares(300_00, 150_00, 50_00), "安全需要")
    budget = budget_of(project)
    db.session.refresh(budget)
    assert (budget.budget_fen, reserved(project.id), value_of(order)) == (
        budget_before + 500_00, reserved_before + 150_00, 10_500_00)
    assert budget.shop_fen + budget.fund_fen + budget.subsidy_fen == budget.budget_fen
    db.session.refresh(change)
    assert (change.state, change.shop_fen, change.fund_fen, change.subsidy_fen, change.decided_by_id) == (
        C.APPROVED, 300_00, 150_00, 50_00, world.a.lead.id)
    raised = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "project.budget_raised"))
    assert (raised.details["budget_fen"], raised.details["why"]) == (500_00, "CO-1")
    assert payments.position(order).value_fen == 10_500_00
    refused(app, DomainError, orders.approve_change, world.a.lead, change, Shares(300_00, 150_00, 50_00))


def test_a_cost_raising_change_the_fund_cannot_carry_is_refused_and_writes_nothing(app, world, works):
    """A ¥60,000 raise whose fund share is more than the fund has available: refused, saying what is available, and the
    change stays proposed (not approved without its money, even for a caller that carries on)."""
    order = contracted_order(works)  # the fund holds ¥50,000, of which ¥3,000 is set aside for this project
    change = orders.propose_change(world.a.contractor, order, 60_000_00, "整面墙改做幕墙")
    refused(app, DomainError, orders.approve_change, world.a.lead, change, Shares(0, 60_000_00, 0),
            match="The fund has only ¥47,000.00 available")
    db.session.refresh(change)
    assert change.state == C.PROPOSED and value_of(order) == 10_000_00


def test_a_lowering_change_needs_no_shares_and_never_goes_below_what_was_asked_for(app, world, works):
    """The order is worth ¥10,000; fabrication (¥4,000) and installation (¥3,000) are accepted and their payments
    asked for. A change down to less than ¥7,000 is refused when proposed and when approved."""
    order = contracted_order(works)
    early = orders.propose_change(world.a.lead, order, -6_000_00, "改用简易灯箱")  # fine while nothing is asked for
    refused(app, DomainError, orders.approve_change, world.a.lead, early, Shares(0, 100_00, 0),
            match="Only a change that raises the cost")
    for kind in (MilestoneKind.FABRICATION, MilestoneKind.INSTALLATION):
        step = accepted(milestone(order, kind))
        payments.request_milestone_payment(world.a.lead, step, photos(1, "发票.jpg"), idempotency_key=form_key())

    refused(app, DomainError, orders.approve_change, world.a.lead, early,
            match=r"less than what has already been asked for or paid \(¥7,000.00\)")
    refused(app, DomainError, orders.propose_change, world.a.lead, order, -3_000_01, "再减",
            match=r"less than what has already been asked for or paid \(¥7,000.00\)")
    last = orders.propose_change(world.a.lead, order, -3_000_00, "取消清场")
    orders.approve_change(world.a.lead, last)
    assert value_of(order) == 7_000_00
    assert db.session.get(ChangeOrder, early.id).state == C.PROPOSED
    position = payments.position(order)
    assert (position.value_fen, position.remaining_fen) == (7_000_00, 0)
