"""Quotes: a lead invites contractors to quote for a project with a granted permit; each contractor gives an amount,
scope, duration and validity with photos (or declines); the lead compares them and selects one with a reason, which
makes the work order and moves the project to `contracted`. The others are told.

Quotes move on the one state-machine engine (`quotes`); selecting one is the project's `contract` row, taken only
here (no button of its own on the project page).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds.budgets import budget_of
from merchant_alliance.funds.services import check_amount
from merchant_alliance.i18n import N_
from merchant_alliance.money import format_fen
from merchant_alliance.photos.services import save_documents, save_photos, split_attachments
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.timeutil import local_today, utcnow
from merchant_alliance.workflow import Attempt, Transition, Workflow, may
from merchant_alliance.works.contractors import settings_for
from merchant_alliance.works.models import (
    Contractor,
    Milestone,
    MilestoneKind,
    MilestoneState,
    PunchItem,
    Quote,
    QuoteState,
    WorkOrder,
)

Q = QuoteState
S = ProjectState

AUDIT_LABELS = {
    "quote.invited": _l("invited a contractor to quote"),
    "quote.submit": _l("gave a quote"),
    "quote.decline": _l("declined to quote"),
    "quote.select": _l("selected a quote"),
    "quote.not_select": _l("did not select a quote"),
    "project.contract": _l("signed the work order"),
}
AUDIT_OBJECTS = {"quote": _l("Quote")}

NOTICES = {
    "invited": N_("%(alliance)s asks you to quote for “%(title)s” (%(shop)s)."),
    "submit": N_("%(contractor)s quoted %(amount)s for “%(title)s”."),
    "decline": N_("%(contractor)s will not quote for “%(title)s”."),
    "select": N_("Your quote for “%(title)s” was selected: the work order is ready."),
    "not_select": N_("Another quote was selected for “%(title)s”. Thank you for quoting."),
}

# When quotes may be asked for: once the street office has granted the permit (DESIGN.md), before the contract.
QUOTE_STATES = (S.PERMIT_GRANTED, S.FUNDED)


def _describe(quote: Quote, transition: Transition | None = None) -> dict:
    """On the project's timeline: who quoted what."""
    return {"alliance_id": quote.alliance_id, "project_id": quote.project_id, "contractor": quote.contractor.name,
            "amount_fen": quote.amount_fen}


def answers(user: User, quote: Quote) -> bool:
    return authz.can(user, "answer", quote)


quotes: Workflow[Quote] = Workflow(
    "quote", Quote,
    not_now=_l("This is not possible while the quote is “%(state)s”."),
    conflict=_l("Someone else changed this quote a moment ago. Please look again."),
    describe=_describe,
)
quotes.add(
    Transition(Q.INVITED, "submit", Q.SUBMITTED, answers, _l("Send the quote")),
    Transition(Q.SUBMITTED, "submit", Q.SUBMITTED, answers, _l("Send the revised quote")),
    Transition(Q.INVITED, "decline", Q.DECLINED, answers, _l("Decline to quote"), needs_reason=True,
               style="secondary"),
    Transition(Q.SUBMITTED, "select", Q.SELECTED, may("choose"), _l("Select this quote"), needs_reason=True,
               button=False),
    *(Transition(state, "not_select", Q.NOT_SELECTED, may("choose"), _l("Not selected"), button=False)
      for state in (Q.INVITED, Q.SUBMITTED)),
)
quotes.explain("submit", _l("This quote is “%(state)s” and can no longer change."))


def register_workflow_rows() -> None:
    """The project's `contract` row (funded → contracted), taken by selecting a quote; and when quotes may be asked."""
    lifecycle.add(Transition(S.FUNDED, "contract", S.CONTRACTED, may("choose_contractor"),
                             _l("Sign the work order"), button=False))
    lifecycle.allow("invite_quotes", *QUOTE_STATES)


def _notify(user_ids: set[int], key: str, quote: Quote, **values: object) -> None:
    from merchant_alliance.notifications.services import notify, page

    project = quote.project
    notify(user_ids, NOTICES[key], page("works.quotes", project_id=project.id), title=project.title,
           shop=project.shop.name, alliance=project.alliance.name, contractor=quote.contractor.name,
           amount=format_fen(quote.amount_fen or 0), **values)


def _people(contractor: Contractor) -> set[int]:
    return {user.id for user in contractor.users}


# --- asking ---------------------------------------------------------------------------------------


def invite(actor: User, project: Project, contractors: Sequence[Contractor], note: str = "") -> list[Quote]:
    """Ask these contractors to quote for the project (those already asked are not asked again)."""
    if not authz.can(actor, "choose_contractor", project):
        raise NotAllowed()
    if not lifecycle.allows(project, "invite_quotes"):
        raise DomainError(_l("Quotes are asked for once the street office has granted the permit, before the work "
                             "order is signed."))
    if not contractors:
        raise DomainError(_l("Choose at least one contractor.")).on("contractor_ids")
    for contractor in contractors:
        if contractor.alliance_id != project.alliance_id:
            raise DomainError(_l("That contractor is not in this alliance's register.")).on("contractor_ids")
        if not contractor.active:
            raise DomainError(_l("%(name)s is deactivated.", name=contractor.name)).on("contractor_ids")
    lifecycle.hold(project, "invite_quotes")  # the project's row, until the commit: one lead asks at a time
    asked = set(db.session.scalars(select(Quote.contractor_id).where(Quote.project_id == project.id)))
    made = []
    for contractor in contractors:
        if contractor.id in asked:
            continue
        quote = Quote(project_id=project.id, contractor_id=contractor.id, alliance_id=project.alliance_id,
                      request_note=note.strip()[:2000], invited_by_id=actor.id)
        quote.contractor = contractor
        quote.project = project
        db.session.add(quote)
        made.append(quote)
    try:
        db.session.flush()
    except IntegrityError:  # the same contractors asked a moment ago by another lead
        db.session.rollback()
        raise DomainError(_l("Someone else asked these contractors a moment ago. Please look again.")) from None
    for quote in made:
        audit.record(actor, "quote.invited", quote, **_describe(quote))
        _notify(_people(quote.contractor), "invited", quote)
    db.session.commit()
    return made


@dataclass(frozen=True)
class Offer:
    amount_fen: int
    scope: str
    duration_days: int
    valid_until: date


def _check_offer(offer: Offer) -> None:
    check_amount(offer.amount_fen)
    if not offer.scope.strip():
        raise DomainError(_l("Say what the price includes.")).on("scope")
    if not (1 <= offer.duration_days <= 365):
        raise DomainError(_l("The duration is between 1 and 365 days.")).on("duration_days")
    if offer.valid_until < local_today():
        raise DomainError(_l("The quote must be valid today or later.")).on("valid_until")


def submit(actor: User, quote: Quote, offer: Offer, photos: Sequence[FileStorage] = ()) -> None:
    """The contractor (or a lead, from the contractor's paper quote) gives or revises the price, with photos or PDFs
    of the quote and drawings."""
    if not answers(actor, quote):
        raise NotAllowed()
    _check_offer(offer)
    quotes.check(actor, quote, "submit")
    pictures, pdfs = split_attachments(photos)  # every file checked (photos decoded) before anything is written
    revised = quote.state == Q.SUBMITTED
    quotes.perform(actor, quote, "submit", values={
        "amount_fen": offer.amount_fen, "scope": offer.scope.strip()[:5000], "duration_days": offer.duration_days,
        "valid_until": offer.valid_until, "submitted_by_id": actor.id, "submitted_at": utcnow()},
        details={"offered_fen": offer.amount_fen, "revised": revised})
    quote.photos.extend(save_photos(actor, pictures, alliance=quote.project.alliance, shop=quote.project.shop))
    quote.documents.extend(save_documents(actor, pdfs, alliance=quote.project.alliance, shop=quote.project.shop))
    from merchant_alliance.projects.services import people_concerned

    _notify(people_concerned(quote.project) - {actor.id}, "submit", quote)
    db.session.commit()


def decline(actor: User, quote: Quote, reason: str) -> None:
    if not answers(actor, quote):
        raise NotAllowed()
    quotes.perform(actor, quote, "decline", Attempt(reason=reason), values={"reason": reason.strip()[:2000]})
    from merchant_alliance.projects.services import people_concerned

    _notify(people_concerned(quote.project) - {actor.id}, "decline", quote)
    db.session.commit()


# --- choosing -------------------------------------------------------------------------------------


@quotes.guard("select")
def _still_valid(quote: Quote, user: User, attempt: Attempt) -> LazyString | None:
    if quote.valid_until is not None and quote.valid_until < local_today():
        return _l("This quote expired on %(day)s: ask the contractor to revise it.", day=quote.valid_until.isoformat())
    if not quote.contractor.active:
        return _l("%(name)s is deactivated.", name=quote.contractor.name)
    budget = budget_of(quote.project)
    if budget is not None and quote.amount_fen > budget.budget_fen:
        return _l("This quote (%(amount)s) is above the project's budget (%(budget)s). Agree a lower price, or choose "
                  "another quote.", amount=format_fen(quote.amount_fen), budget=format_fen(budget.budget_fen))
    return None


# The default milestones of a signboard job: (kind, share of the payment in %, photos needed, part of the duration).
DEFAULT_MILESTONES = (
    (MilestoneKind.DESIGN, Decimal(10), 1, Decimal("0.2")),
    (MilestoneKind.REMOVAL, Decimal(10), 2, Decimal("0.3")),
    (MilestoneKind.FABRICATION, Decimal(40), 2, Decimal("0.7")),
    (MilestoneKind.INSTALLATION, Decimal(30), 2, Decimal("0.9")),
    (MilestoneKind.CLEANUP, Decimal(10), 1, Decimal(1)),
)


def default_milestones(start_on: date, due_on: date) -> list[Milestone]:
    days = max((due_on - start_on).days, 1)
    return [Milestone(position=n + 1, kind=kind, name="", share_percent=share, photos_needed=photos,
                      due_on=start_on + timedelta(days=int((days * part).to_integral_value())))
            for n, (kind, share, photos, part) in enumerate(DEFAULT_MILESTONES)]


def select_quote(actor: User, quote: Quote, reason: str, *, start_on: date | None = None) -> WorkOrder:
    """The lead selects this quote, saying why: the work order is made with the default milestones, the project
    moves to `contracted`, and every other contractor asked is told."""
    if not authz.can(actor, "choose", quote):
        raise NotAllowed()
    project = quote.project
    reason = (reason or "").strip()
    start_on = start_on or local_today()
    if start_on < local_today() - timedelta(days=30):
        raise DomainError(_l("The work starts today or later.")).on("start_on")
    quotes.check(actor, quote, "select", Attempt(reason=reason), internal=True)
    lifecycle.check(actor, project, "contract", internal=True)
    settings = settings_for(project.alliance_id)
    due_on = start_on + timedelta(days=quote.duration_days or 30)
    # The project's move first: it holds the project's row, so a second selection waits and is refused.
    lifecycle.perform(actor, project, "contract", Attempt(reason=reason), internal=True,
                      details={"contractor": quote.contractor.name, "agreed_fen": quote.amount_fen})
    quotes.perform(actor, quote, "select", Attempt(reason=reason), internal=True,
                   values={"decided_by_id": actor.id, "decided_at": utcnow(), "reason": reason[:2000]})
    order = WorkOrder(project_id=project.id, quote_id=quote.id, contractor_id=quote.contractor_id,
                      alliance_id=project.alliance_id, agreed_fen=quote.amount_fen, start_on=start_on, due_on=due_on,
                      retention_percent=settings.retention_percent, warranty_days=settings.warranty_days,
                      created_by_id=actor.id)
    for milestone in default_milestones(start_on, due_on):
        milestone.alliance_id = project.alliance_id
        order.milestones.append(milestone)
    db.session.add(order)
    others = list(db.session.scalars(select(Quote).where(
        Quote.project_id == project.id, Quote.id != quote.id, Quote.state.in_((Q.INVITED, Q.SUBMITTED)))))
    for other in others:
        quotes.perform(actor, other, "not_select", internal=True,
                       values={"decided_by_id": actor.id, "decided_at": utcnow()})
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(_l("A work order was made for this project a moment ago. Please look again.")) from None
    _notify(_people(quote.contractor), "select", quote)
    for other in others:
        _notify(_people(other.contractor), "not_select", other)
    db.session.commit()
    return order


# --- comparing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """A contractor's record with the alliance, beside its quote."""

    orders_done: int
    late_milestones: int
    punch_items: int


def records(contractor_ids: Sequence[int]) -> dict[int, Record]:
    """Orders completed, milestones late (accepted after, or still open past, their due date) and punch items
    raised on its work, per contractor: three grouped queries whatever the history."""
    from merchant_alliance.works.models import OrderState

    if not contractor_ids:
        return {}
    today = local_today()
    done = dict(db.session.execute(
        select(WorkOrder.contractor_id, func.count()).where(WorkOrder.contractor_id.in_(contractor_ids),
                                                           WorkOrder.state == OrderState.COMPLETED)
        .group_by(WorkOrder.contractor_id)).all())
    late_open = (Milestone.state != MilestoneState.ACCEPTED) & (Milestone.due_on < today)
    late_done = (Milestone.state == MilestoneState.ACCEPTED) & Milestone.accepted_late
    late = dict(db.session.execute(
        select(WorkOrder.contractor_id, func.count()).join(Milestone, Milestone.order_id == WorkOrder.id)
        .where(WorkOrder.contractor_id.in_(contractor_ids), late_open | late_done)
        .group_by(WorkOrder.contractor_id)).all())
    punch = dict(db.session.execute(
        select(WorkOrder.contractor_id, func.count()).join(PunchItem, PunchItem.order_id == WorkOrder.id)
        .where(WorkOrder.contractor_id.in_(contractor_ids))
        .group_by(WorkOrder.contractor_id)).all())
    return {cid: Record(done.get(cid, 0), late.get(cid, 0), punch.get(cid, 0)) for cid in contractor_ids}


def quotes_of(project_id: int) -> list[Quote]:
    """The project's quotes, cheapest given first, then those still awaited."""
    from sqlalchemy.orm import selectinload

    return list(db.session.scalars(
        select(Quote).where(Quote.project_id == project_id)
        .options(selectinload(Quote.contractor), selectinload(Quote.photos), selectinload(Quote.documents))
        .order_by(Quote.amount_fen.is_(None), Quote.amount_fen, Quote.id)))
