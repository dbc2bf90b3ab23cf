"""Quotes and the choice of one: a lead asks contractors to quote once the permit is granted, they quote (or revise,
or decline), and the lead selects one with a reason, which makes the work order and tells the others."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, update

from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds.budgets import budget_of
from merchant_alliance.notifications.models import Notification
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.models import ProjectState
from merchant_alliance.timeutil import local_today
from merchant_alliance.works import quotes
from merchant_alliance.works.models import MilestoneKind, MilestoneState, OrderState, Quote, QuoteState, WorkOrder
from tests.fixtures.projects import make_project
from tests.fixtures.safety import permitted_project
from tests.fixtures.works import contracted_order, contractor_person, funded, make_contractor, offer
from tests.works.helpers import refused

pytestmark = pytest.mark.usefixtures("in_request")

S = ProjectState
Q = QuoteState


def test_quotes_are_asked_for_once_the_permit_is_granted_and_before_the_work_order(app, world, works):
    """Before the street office grants the permit there is nothing to quote for; once the work order is signed,
    nobody else is asked."""
    contractor = make_contractor(world.a)
    approved = make_project(S.DESIGN_APPROVED, by=world.a.owner, shop=world.a.shop)
    refused(app, DomainError, quotes.invite, world.a.lead, approved, [contractor],
            match="once the street office has granted the permit")

    permitted = permitted_project(owner=world.a.owner, shop=world.a.shop, title="侧门灯箱")
    (asked,) = quotes.invite(world.a.lead, permitted, [contractor], "请报价")
    assert (asked.state, asked.request_note, asked.invited_by_id) == (Q.INVITED, "请报价", world.a.lead.id)
    assert quotes.invite(world.a.lead, permitted, [contractor]) == []  # already asked: not asked twice
    told = db.session.scalars(select(Notification).where(Notification.user_id == world.a.contractor.id)).all()
    assert [n.message for n in told] == [quotes.NOTICES["invited"]]

    order = contracted_order(works)  # funded, then contracted
    spare, _ = contractor_person(world.a, "鑫达广告")
    refused(app, DomainError, quotes.invite, world.a.lead, order.project, [spare],
            match="once the street office has granted the permit")


def test_only_a_lead_invites_and_only_contractors_of_its_own_register(app, world, cast):
    """Nobody but the alliance's lead asks for quotes, and only from contractors of the alliance's own register."""
    project = permitted_project(owner=world.a.owner, shop=world.a.shop)
    contractor = make_contractor(world.a)
    elsewhere = make_contractor(world.b, "外区施工队")
    for who in ("owner", "treasurer", "contractor", "officer", "lead_elsewhere"):
        refused(app, NotAllowed, quotes.invite, getattr(cast, who), project, [contractor])
    refused(app, DomainError, quotes.invite, cast.lead, project, [elsewhere], match="not in this alliance's register")
    refused(app, DomainError, quotes.invite, cast.lead, project, [], match="at least one contractor")


def test_a_contractor_quotes_revises_or_declines_with_a_reason(app, world):
    """The contractor quotes, then revises its price; another contractor declines, saying why, and can no longer
    quote. Neither answers the other's request."""
    project = permitted_project(owner=world.a.owner, shop=world.a.shop)
    contractor = make_contractor(world.a)
    other, other_person = contractor_person(world.a, "鑫达广告")
    quote, declined = quotes.invite(world.a.lead, project, [contractor, other])
    refused(app, NotAllowed, quotes.submit, other_person, quote, offer())  # not its quote

    quotes.submit(world.a.contractor, quote, offer(9_000_00))
    quotes.submit(world.a.contractor, quote, offer(8_500_00, days=25))
    db.session.refresh(quote)
    assert (quote.state, quote.amount_fen, quote.duration_days, quote.submitted_by_id) == (
        Q.SUBMITTED, 8_500_00, 25, world.a.contractor.id)
    refused(app, DomainError, quotes.decline, world.a.contractor, quote, "太忙")  # quoted already

    refused(app, DomainError, quotes.decline, other_person, declined, "  ", match="reason")
    quotes.decline(other_person, declined, "  工期排不开  ")
    db.session.refresh(declined)
    assert (declined.state, declined.reason) == (Q.DECLINED, "工期排不开")
    refused(app, DomainError, quotes.submit, other_person, declined, offer(), match="can no longer change")


@pytest.mark.parametrize("change, said", [
    ({"amount_fen": 0}, "more than zero"),
    ({"scope": "  "}, "what the price includes"),
    ({"duration_days": 0}, "between 1 and 365 days"),
    ({"duration_days": 366}, "between 1 and 365 days"),
    ({"valid_until": -1}, "valid today or later"),  # yesterday
])
def test_an_incomplete_quote_is_refused(app, world, change, said):
    """A quote without an amount, a scope, a sensible duration or a validity from today on is refused, saying what."""
    project = permitted_project(owner=world.a.owner, shop=world.a.shop)
    (quote,) = quotes.invite(world.a.lead, project, [make_contractor(world.a)])
    good = offer()
    if "valid_until" in change:
        change = {"valid_until": local_today() + timedelta(days=change["valid_until"])}
    bad = quotes.Offer(**{"amount_fen": good.amount_fen, "scope": good.scope, "duration_days": good.duration_days,
                          "valid_until": good.valid_until} | change)
    refused(app, DomainError, quotes.submit, world.a.contractor, quote, bad, match=said)


def test_selecting_a_quote_makes_the_work_order_and_tells_the_others(app, world, works):
    """The lead selects the cheaper of two quotes, saying why: the work order has the five default milestones
    sharing the whole amount, the project is contracted, the other quotes (given or still awaited) are not
    selected and their contractors are told; the reason is on the project's timeline."""
    project = funded(works)
    chosen = make_contractor(world.a)
    dearer, dearer_person = contractor_person(world.a, "鑫达广告")
    silent, silent_person = contractor_person(world.a, "老王装修队")
    mine, theirs, awaited = quotes.invite(world.a.lead, project, [chosen, dearer, silent])
    quotes.submit(world.a.contractor, mine, offer(9_000_00, days=20))
    quotes.submit(dearer_person, theirs, offer(11_000_00))
    db.session.execute(delete(Notification))  # only what the selection says, below

    order = quotes.select_quote(world.a.lead, mine, "报价最低，工期二十天", start_on=local_today())
    assert (order.contractor_id, order.agreed_fen, order.value_fen, order.state, order.due_on) == (
        chosen.id, 9_000_00, 9_000_00, OrderState.CONTRACTED, local_today() + timedelta(days=20))
    assert [m.kind for m in order.milestones] == [MilestoneKind.DESIGN, MilestoneKind.REMOVAL,
                                                  MilestoneKind.FABRICATION, MilestoneKind.INSTALLATION,
                                                  MilestoneKind.CLEANUP]
    assert sum(m.share_percent for m in order.milestones) == Decimal(100)
    assert all(m.state == MilestoneState.PENDING and m.photos_needed >= 1 for m in order.milestones)
    assert [m.due_on for m in order.milestones] == sorted(m.due_on for m in order.milestones)
    assert order.milestones[-1].due_on == order.due_on
    assert (order.retention_percent, order.warranty_days) == (Decimal(3), 365)  # the alliance's defaults

    db.session.refresh(project)
    assert project.state == S.CONTRACTED
    states = dict(db.session.execute(select(Quote.id, Quote.state).where(Quote.project_id == project.id)).all())
    assert states == {mine.id: Q.SELECTED, theirs.id: Q.NOT_SELECTED, awaited.id: Q.NOT_SELECTED}
    told = {(n.user_id, n.message) for n in db.session.scalars(select(Notification))}
    assert {(dearer_person.id, quotes.NOTICES["not_select"]), (silent_person.id, quotes.NOTICES["not_select"]),
            (world.a.contractor.id, quotes.NOTICES["select"])} <= told

    timeline = [(e.action, e.details.get("reason")) for e in projects.timeline(project)]
    assert ("project.contract", "报价最低，工期二十天") in timeline
    assert ("quote.select", "报价最低，工期二十天") in timeline

    refused(app, DomainError, quotes.select_quote, world.a.lead, theirs, "改主意了")  # one order per project
    assert db.session.scalar(select(WorkOrder.id).where(WorkOrder.project_id == project.id)) == order.id


def test_selecting_needs_a_reason_a_funded_project_a_valid_quote_within_the_budget(app, world, works):
    """Each refusal says what is missing, and writes nothing."""
    contractor = make_contractor(world.a)
    permitted = permitted_project(owner=world.a.owner, shop=world.a.shop, title="侧门灯箱")
    (early,) = quotes.invite(world.a.lead, permitted, [contractor])
    quotes.submit(world.a.contractor, early, offer())
    refused(app, DomainError, quotes.select_quote, world.a.lead, early, "最便宜",
            match="not possible while the project is")  # the project is not funded yet

    project = funded(works, budget_fen=12_000_00)
    (quote,) = quotes.invite(world.a.lead, project, [contractor])
    quotes.submit(world.a.contractor, quote, offer(12_000_01))
    for reason in ("", "   "):
        refused(app, DomainError, quotes.select_quote, world.a.lead, quote, reason, match="reason")
    refused(app, NotAllowed, quotes.select_quote, world.a.owner, quote, "最便宜")
    refused(app, NotAllowed, quotes.select_quote, world.a.contractor, quote, "最便宜")
    refused(app, DomainError, quotes.select_quote, world.a.lead, quote, "最便宜",
            match=r"above the project's budget \(¥12,000.00\)")
    assert budget_of(project).budget_fen == 12_000_00

    quotes.submit(world.a.contractor, quote, offer(12_000_00))
    db.session.execute(update(Quote).where(Quote.id == quote.id).values(valid_until=local_today() - timedelta(days=1)))
    db.session.commit()
    db.session.expire(quote)
    refused(app, DomainError, quotes.select_quote, world.a.lead, quote, "最便宜", match="expired on")
    quotes.submit(world.a.contractor, quote, offer(12_000_00))  # revised: valid again
    assert quotes.select_quote(world.a.lead, quote, "最便宜").agreed_fen == 12_000_00
