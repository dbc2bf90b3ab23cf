"""The work order on site: milestones marked done with photos and accepted (or sent back), the site log, the punch
list and change orders. Each is a workflow on the one state-machine engine.

The project follows the work through rows this module adds to the lifecycle, none with a button of its own:
`contracted → in_progress` at the first logged work (a site log entry or a milestone marked done), and
`in_progress → installed` when the installation milestone is accepted — the street office then inspects the sign.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds.budgets import raise_budget
from merchant_alliance.funds.shares import Shares
from merchant_alliance.i18n import N_
from merchant_alliance.money import MAX_FEN, format_fen
from merchant_alliance.once import lock_row, submit_once
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.photos.services import prepare_photos, save_photos
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import ProjectState
from merchant_alliance.timeutil import local_today, utcnow
from merchant_alliance.workflow import Attempt, Transition, Workflow
from merchant_alliance.works.models import (
    MILESTONE_NAMES,
    ChangeOrder,
    ChangeState,
    Milestone,
    MilestoneKind,
    MilestoneState,
    OrderState,
    PunchItem,
    PunchState,
    SiteLogEntry,
    WorkOrder,
    punch_photos,
)
from merchant_alliance.works.permissions import accepts_for_project, works_on_project

S = ProjectState
M = MilestoneState
P = PunchState
C = ChangeState

AUDIT_LABELS = {
    "workorder.start": _l("started the work"),
    "workorder.complete": _l("completed the work order"),
    "workorder.milestones_changed": _l("changed the milestones"),
    "milestone.mark_done": _l("marked a milestone done"),
    "milestone.accept": _l("accepted a milestone"),
    "milestone.send_back": _l("sent a milestone back"),
    "sitelog.added": _l("wrote in the site log"),
    "punch.raised": _l("raised a punch item"),
    "punch.fix": _l("fixed a punch item"),
    "punch.reopen": _l("reopened a punch item"),
    "punch.verify": _l("verified a repair"),
    "punch.close": _l("closed a punch item"),
    "change.proposed": _l("proposed a change order"),
    "change.approve": _l("approved a change order"),
    "change.reject": _l("rejected a change order"),
    "change.withdraw": _l("withdrew a change order"),
    "project.start_work": _l("started the work on site"),
    "project.installation_accepted": _l("accepted the installation"),
}
AUDIT_OBJECTS = {"workorder": _l("Work order"), "milestone": _l("Milestone"), "sitelogentry": _l("Site log entry"),
                 "punchitem": _l("Punch item"), "changeorder": _l("Change order")}

NOTICES = {
    "mark_done": N_("%(contractor)s marked “%(milestone)s” done for “%(title)s”: please check and accept it."),
    "accept": N_("“%(milestone)s” of “%(title)s” was accepted."),
    "send_back": N_("“%(milestone)s” of “%(title)s” was sent back: %(reason)s"),
    "punch": N_("A defect to fix on “%(title)s”: %(what)s"),
    "fixed": N_("%(contractor)s fixed punch item #%(number)s of “%(title)s”: please verify it."),
    "reopen": N_("Punch item #%(number)s of “%(title)s” is not fixed yet: %(reason)s"),
    "change": N_("%(who)s proposes a change of %(amount)s to “%(title)s”: please decide."),
    "change_decided": N_("The change of %(amount)s to “%(title)s” was %(decision)s."),
    "late": N_("“%(milestone)s” of “%(title)s” was due on %(day)s and is not accepted yet."),
    "rectify": N_("The street office's inspection of “%(title)s” failed: the rectification order lists what to fix "
                  "by %(day)s."),
}
LATE = _l("late")


def _order_scope(obj) -> dict:
    order = obj if isinstance(obj, WorkOrder) else obj.order
    return {"alliance_id": order.alliance_id, "project_id": order.project_id}


def _milestone_describe(milestone: Milestone, transition: Transition | None = None) -> dict:
    return {**_order_scope(milestone), "milestone": milestone.title}


def _works_on(user: User, obj) -> bool:
    return authz.can(user, "work", obj if isinstance(obj, WorkOrder) else obj.order)


def _accepts(user: User, obj) -> bool:
    return authz.can(user, "accept", obj if isinstance(obj, WorkOrder) else obj.order)


def _manages(user: User, obj) -> bool:
    return authz.can(user, "manage", obj if isinstance(obj, WorkOrder) else obj.order)


work_orders: Workflow[WorkOrder] = Workflow(
    "workorder", WorkOrder,
    not_now=_l("This is not possible while the work order is “%(state)s”."),
    conflict=_l("Someone else changed this work order a moment ago. Please look again."),
    describe=lambda order, transition: _order_scope(order),
)
work_orders.add(
    Transition(OrderState.CONTRACTED, "start", OrderState.IN_PROGRESS, _works_on, _l("Start"), button=False),
    Transition(OrderState.IN_PROGRESS, "complete", OrderState.COMPLETED, _accepts, _l("Complete"), button=False),
)
work_orders.allow("log", OrderState.CONTRACTED, OrderState.IN_PROGRESS, OrderState.COMPLETED)
work_orders.allow("change", OrderState.CONTRACTED, OrderState.IN_PROGRESS)

milestones: Workflow[Milestone] = Workflow(
    "milestone", Milestone,
    not_now=_l("This is not possible while the milestone is “%(state)s”."),
    conflict=_l("Someone else changed this milestone a moment ago. Please look again."),
    describe=_milestone_describe,
)
milestones.add(
    Transition(M.PENDING, "mark_done", M.DONE, _works_on, _l("Mark done")),
    Transition(M.RETURNED, "mark_done", M.DONE, _works_on, _l("Mark done again")),
    Transition(M.DONE, "accept", M.ACCEPTED, _accepts, _l("Accept")),
    Transition(M.DONE, "send_back", M.RETURNED, _accepts, _l("Send back"), needs_reason=True, style="secondary"),
)
milestones.allow("edit", M.PENDING, M.RETURNED)
milestones.explain("mark_done", _l("This milestone is already marked done."), M.DONE)
milestones.explain("mark_done", _l("This milestone is already accepted."), M.ACCEPTED)
milestones.explain("accept", _l("This milestone is already accepted."), M.ACCEPTED)
milestones.explain("accept", _l("Only a milestone marked done can be accepted; this one is “%(state)s”."))

punch_items: Workflow[PunchItem] = Workflow(
    "punch", PunchItem,
    not_now=_l("This is not possible while the punch item is “%(state)s”."),
    conflict=_l("Someone else changed this punch item a moment ago. Please look again."),
    describe=lambda item, transition: {**_order_scope(item), "number": item.number},
)
punch_items.add(
    Transition(P.OPEN, "fix", P.FIXED, _works_on, _l("Fixed")),
    Transition(P.FIXED, "verify", P.VERIFIED, lambda u, i: authz.can(u, "raise_punch", i.order),
               _l("The repair is good")),
    Transition(P.FIXED, "reopen", P.OPEN, lambda u, i: authz.can(u, "raise_punch", i.order), _l("Not fixed"),
               needs_reason=True, style="secondary"),
    Transition(P.VERIFIED, "close", P.CLOSED, _manages, _l("Close")),
)

changes: Workflow[ChangeOrder] = Workflow(
    "change", ChangeOrder,
    not_now=_l("This is not possible while the change order is “%(state)s”."),
    conflict=_l("Someone else changed this change order a moment ago. Please look again."),
    describe=lambda change, transition: {**_order_scope(change), "number": change.number,
                                         "amount_fen": change.amount_fen},
)
changes.add(
    Transition(C.PROPOSED, "approve", C.APPROVED, _manages, _l("Approve the change"), button=False),
    Transition(C.PROPOSED, "reject", C.REJECTED, _manages, _l("Reject the change"), needs_reason=True,
               style="danger"),
    Transition(C.PROPOSED, "withdraw", C.WITHDRAWN, lambda u, c: c.proposed_by_id == u.id,
               _l("Withdraw the change"), style="secondary"),
)

PROJECT_ROWS = (
    Transition(S.CONTRACTED, "start_work", S.IN_PROGRESS, works_on_project, _l("Work started"), button=False),
    Transition(S.IN_PROGRESS, "installation_accepted", S.INSTALLED, accepts_for_project, _l("Installation accepted"),
               button=False),
)


def register_workflow_rows() -> None:
    from merchant_alliance.safety.inspections import tell_installed

    lifecycle.add(*PROJECT_ROWS)
    lifecycle.add_after(tell_installed, "installation_accepted")  # the shop hears the street office comes next
    lifecycle.add_after(tell_the_contractor_to_rectify, "fail_inspection")


# --- who hears --------------------------------------------------------------------------------------


def contractor_people(order: WorkOrder) -> set[int]:
    return {user.id for user in order.contractor.users}


def deciders(order: WorkOrder) -> set[int]:
    """The alliance's leads and the shop's owners: who accepts work and decides changes."""
    from merchant_alliance.projects.services import people_concerned

    return people_concerned(order.project)


def _name(milestone: Milestone) -> str | dict[str, str]:
    """A milestone's name for a notice: its own, or its kind's, translated when the notice is read."""
    from merchant_alliance.notifications.services import translatable

    return milestone.name or translatable(MILESTONE_NAMES[milestone.kind])


def _decision(msgid: str) -> dict[str, str]:
    """A word of a notice translated when the notice is read, in the reader's language."""
    from merchant_alliance.notifications.services import translatable

    return translatable(msgid)


def leads_of(order: WorkOrder) -> set[int]:
    """The alliance's confirmed leads: who decides changes."""
    from merchant_alliance.accounts.models import Membership, Role

    return set(db.session.scalars(select(Membership.user_id).where(
        Membership.role == Role.ALLIANCE_LEAD, Membership.alliance_id == order.alliance_id,
        Membership.confirmed_at.is_not(None))))


def _notify(user_ids: set[int], key: str, order: WorkOrder, **values: object) -> None:
    from merchant_alliance.notifications.services import notify, page

    notify(user_ids, NOTICES[key], page("works.order", work_order_id=order.id), title=order.project.title,
           contractor=order.contractor.name, **values)


def tell_the_contractor_to_rectify(project, user: User, transition: Transition, attempt: Attempt) -> None:
    """A failed inspection: the contractor who installed the sign hears what the street office found."""
    order = db.session.scalar(select(WorkOrder).where(WorkOrder.project_id == project.id))
    if order is None:
        return
    from merchant_alliance.safety.models import RectificationOrder

    rectification = db.session.scalar(select(RectificationOrder).where(RectificationOrder.project_id == project.id)
                                      .order_by(RectificationOrder.id.desc()).limit(1))
    day = rectification.deadline.isoformat() if rectification is not None else ""
    _notify(contractor_people(order), "rectify", order, day=day)


# --- the work starts, milestones ---------------------------------------------------------------------


def _work_logged(actor: User, order: WorkOrder) -> None:
    """The first logged work starts the order and the project (in the caller's transaction)."""
    if order.state == OrderState.CONTRACTED:
        work_orders.perform(actor, order, "start", internal=True)
        if order.project.state == S.CONTRACTED:
            lifecycle.perform(actor, order.project, "start_work", internal=True)


@milestones.guard("mark_done")
def _order_is_open(milestone: Milestone, user: User, attempt: Attempt) -> LazyString | None:
    if milestone.order.state == OrderState.COMPLETED:
        return _l("This work order is completed.")
    return None


def mark_done(actor: User, milestone: Milestone, note: str, photos: Sequence[FileStorage]) -> None:
    """The contractor says the step is done, with the photos it needs (fewer are refused before anything is saved)."""
    files = [f for f in photos if f is not None and f.filename]
    milestones.check(actor, milestone, "mark_done")
    if len(files) < milestone.photos_needed:
        raise DomainError(_l("This milestone needs %(n)s photo(s) that show it is done.", n=milestone.photos_needed)
                          ).on("photos")
    prepared = prepare_photos(files)
    order = milestone.order
    milestones.perform(actor, milestone, "mark_done", values={
        "done_by_id": actor.id, "done_at": utcnow(), "done_note": (note or "").strip()[:2000], "return_reason": ""})
    milestone.photos.extend(save_photos(actor, prepared, alliance=order.project.alliance, shop=order.project.shop))
    _work_logged(actor, order)
    _notify(deciders(order) - {actor.id}, "mark_done", order, milestone=_name(milestone))
    db.session.commit()


def accept(actor: User, milestone: Milestone) -> None:
    """Accept the step. The installation accepted moves the project to `installed` (the street office inspects it
    next); the last one completes the order."""
    order = milestone.order
    milestones.perform(actor, milestone, "accept", values={"decided_by_id": actor.id, "decided_at": utcnow(),
                                                           "accepted_late": local_today() > milestone.due_on})
    if milestone.kind == MilestoneKind.INSTALLATION:
        db.session.execute(update(WorkOrder).where(WorkOrder.id == order.id).values(installed_on=local_today())
                           .execution_options(synchronize_session=False, cache_scopes=scopes_of(order)))
        db.session.expire(order, ["installed_on"])
        if order.project.state == S.IN_PROGRESS:
            lifecycle.perform(actor, order.project, "installation_accepted", internal=True)
    open_left = db.session.scalar(select(func.count()).where(Milestone.order_id == order.id,
                                                            Milestone.state != M.ACCEPTED))
    if open_left == 0 and order.state == OrderState.IN_PROGRESS:
        work_orders.perform(actor, order, "complete", internal=True, values={"completed_at": utcnow()})
    _notify(contractor_people(order) - {actor.id}, "accept", order, milestone=_name(milestone))
    db.session.commit()


def send_back(actor: User, milestone: Milestone, reason: str) -> None:
    order = milestone.order
    reason = (reason or "").strip()
    milestones.perform(actor, milestone, "send_back", Attempt(reason=reason), values={
        "decided_by_id": actor.id, "decided_at": utcnow(), "return_reason": reason[:2000]})
    _notify(contractor_people(order) - {actor.id}, "send_back", order, milestone=_name(milestone), reason=reason)
    db.session.commit()


def edit_milestones(actor: User, order: WorkOrder, rows: Sequence[dict]) -> None:
    """The lead changes the order's milestones: name, due date, share and photos needed. A milestone already done or
    accepted keeps its share; the shares still add up to 100%."""
    if not authz.can(actor, "manage", order):
        raise NotAllowed()
    lock_row(WorkOrder, order.id)
    db.session.expire(order, ["milestones"])
    by_id = {m.id: m for m in order.milestones}
    if {row["id"] for row in rows} != set(by_id):
        raise DomainError(_l("Someone else changed this work order a moment ago. Please look again."))
    total = sum(row["share_percent"] for row in rows)
    if total != 100:
        raise DomainError(_l("The shares add up to %(total)s%%; they must add up to 100%%.", total=total))
    for row in rows:  # every row checked before any is written: a refusal leaves the order as it was
        _check_milestone_row(by_id[row["id"]], row, order)
    for row in rows:
        milestone, name = by_id[row["id"]], row["name"].strip()
        # A default milestone left with its kind's name keeps no name of its own: it shows in each reader's language.
        milestone.name = "" if name == str(milestone.kind.label) else name[:100]
        milestone.due_on = row["due_on"]
        milestone.share_percent, milestone.photos_needed = row["share_percent"], row["photos_needed"]
    due = max(row["due_on"] for row in rows)
    if due > order.due_on:
        order.due_on = due
    audit.record(actor, "workorder.milestones_changed", order, **_order_scope(order))
    db.session.commit()


def _check_milestone_row(milestone: Milestone, row: dict, order: WorkOrder) -> None:
    if not (row["name"] or "").strip():
        raise DomainError(_l("Every milestone needs a name."))
    if not (0 <= row["share_percent"] <= 100) or not (0 <= row["photos_needed"] <= 10):
        raise DomainError(_l("A share is between 0 and %(max)s%%, and at most 10 photos are asked for.", max=100))
    if row["due_on"] < order.start_on:
        raise DomainError(_l("A milestone is due on or after the order's start (%(day)s).",
                             day=order.start_on.isoformat()))
    changed = milestone.share_percent != row["share_percent"] or milestone.photos_needed != row["photos_needed"]
    if changed and not milestones.allows(milestone, "edit"):
        raise DomainError(_l("“%(name)s” is already done: its share and photos can no longer change.",
                             name=milestone.title))


# --- the site log ------------------------------------------------------------------------------------


def add_log_entry(actor: User, order: WorkOrder, *, day: date, work_done: str, crew_size: int | None = None,
                  weather: str = "", problems: str = "", photos: Sequence[FileStorage] = (),
                  idempotency_key: str | None = None) -> SiteLogEntry:
    """施工日志: a day on site, photo first. A double tap writes one entry."""
    if not authz.can(actor, "work", order):
        raise NotAllowed()
    if not work_orders.allows(order, "log"):
        raise DomainError(work_orders.not_now(order, "log"))
    if not (order.start_on - timedelta(days=30) <= day <= local_today()):
        raise DomainError(_l("The day is between the order's start and today.")).on("day")
    if not (work_done or "").strip():
        raise DomainError(_l("Say what was done.")).on("work_done")
    if crew_size is not None and not (0 <= crew_size <= 200):
        raise DomainError(_l("The crew is between 0 and 200 people.")).on("crew_size")
    files = [f for f in photos if f is not None and f.filename]
    prepared = prepare_photos(files)

    def write() -> SiteLogEntry:
        entry = SiteLogEntry(order_id=order.id, alliance_id=order.alliance_id, day=day, crew_size=crew_size,
                             work_done=work_done.strip()[:5000], weather=(weather or "").strip()[:30],
                             problems=(problems or "").strip()[:5000], created_by_id=actor.id)
        entry.photos = save_photos(actor, prepared, alliance=order.project.alliance, shop=order.project.shop)
        db.session.add(entry)
        db.session.flush()
        audit.record(actor, "sitelog.added", entry, **_order_scope(order), day=day.isoformat())
        _work_logged(actor, order)
        return entry

    return submit_once(actor, idempotency_key, SiteLogEntry, write)


# --- the punch list ----------------------------------------------------------------------------------


def raise_punch(actor: User, order: WorkOrder, description: str, photos: Sequence[FileStorage], *,
                idempotency_key: str | None = None) -> PunchItem:
    """A defect found at acceptance (or later, by the inspector), with photos."""
    if not authz.can(actor, "raise_punch", order):
        raise NotAllowed()
    if not (description or "").strip():
        raise DomainError(_l("Describe the defect.")).on("description")
    files = [f for f in photos if f is not None and f.filename]
    if not files:
        raise DomainError(_l("Add a photo of the defect.")).on("photos")
    prepared = prepare_photos(files)

    def write() -> PunchItem:
        lock_row(WorkOrder, order.id)  # numbers are counted one writer at a time
        number = (db.session.scalar(select(func.max(PunchItem.number)).where(PunchItem.order_id == order.id)) or 0) + 1
        item = PunchItem(order_id=order.id, alliance_id=order.alliance_id, number=number,
                         description=description.strip()[:2000], raised_by_id=actor.id)
        db.session.add(item)
        db.session.flush()
        _link_photos(item, save_photos(actor, prepared, alliance=order.project.alliance, shop=order.project.shop),
                     "found")
        audit.record(actor, "punch.raised", item, **_order_scope(order), number=number)
        _notify(contractor_people(order), "punch", order, what=item.description[:80])
        return item

    return submit_once(actor, idempotency_key, PunchItem, write)


def _link_photos(item: PunchItem, photos: list, kind: str) -> None:
    if photos:
        db.session.execute(punch_photos.insert(), [{"item_id": item.id, "photo_id": p.id, "kind": kind}
                                                   for p in photos],
                           execution_options={"cache_scopes": scopes_of(item)})
        db.session.expire(item, ["found_photos", "fixed_photos"])


def fix_punch(actor: User, item: PunchItem, note: str, photos: Sequence[FileStorage]) -> None:
    files = [f for f in photos if f is not None and f.filename]
    punch_items.check(actor, item, "fix")
    if not files:
        raise DomainError(_l("Add a photo of the repair.")).on("photos")
    prepared = prepare_photos(files)
    punch_items.perform(actor, item, "fix", values={"fixed_by_id": actor.id, "fixed_at": utcnow(),
                                                    "fix_note": (note or "").strip()[:2000]})
    order = item.order
    _link_photos(item, save_photos(actor, prepared, alliance=order.project.alliance, shop=order.project.shop), "fixed")
    _notify(deciders(order) - {actor.id}, "fixed", order, number=item.number)
    db.session.commit()


def decide_punch(actor: User, item: PunchItem, action: str, reason: str = "") -> None:
    """verify, reopen (with a reason) or close."""
    stamp = {"verify": {"verified_by_id": actor.id, "verified_at": utcnow()},
             "close": {"closed_by_id": actor.id, "closed_at": utcnow()}}.get(action, {})
    if action not in ("verify", "reopen", "close"):
        raise DomainError(_l("This is not possible."))
    punch_items.perform(actor, item, action, Attempt(reason=reason or ""), values=stamp)
    if action == "reopen":
        _notify(contractor_people(item.order), "reopen", item.order, number=item.number, reason=reason.strip())
    db.session.commit()


# --- change orders -----------------------------------------------------------------------------------


def paid_gross_fen(order: WorkOrder) -> int:
    """The value of the milestones asked for or paid so far (what a change may not go below)."""
    from merchant_alliance.works.models import OrderPayment, PaymentKind, PaymentState

    return db.session.scalar(select(func.coalesce(func.sum(OrderPayment.gross_fen), 0)).where(
        OrderPayment.order_id == order.id, OrderPayment.kind == PaymentKind.MILESTONE,
        OrderPayment.state != PaymentState.VOID)) or 0


def propose_change(actor: User, order: WorkOrder, amount_fen: int, scope: str, *,
                   idempotency_key: str | None = None) -> ChangeOrder:
    """A change to the amount (+ or −) or the scope; it takes effect when a lead approves it."""
    if not authz.can(actor, "propose_change", order):
        raise NotAllowed()
    if not work_orders.allows(order, "change"):
        raise DomainError(_l("A completed work order can no longer change."))
    if not isinstance(amount_fen, int) or abs(amount_fen) > MAX_FEN:
        raise DomainError(_l("The amount is larger than %(max)s.", max=format_fen(MAX_FEN))).on("amount")
    if not (scope or "").strip():
        raise DomainError(_l("Say what changes in the work, and why.")).on("scope")
    if order.value_fen + amount_fen < paid_gross_fen(order):
        raise DomainError(_l("The order cannot be worth less than what has already been asked for or paid (%(paid)s).",
                             paid=format_fen(paid_gross_fen(order)))).on("amount")

    def write() -> ChangeOrder:
        lock_row(WorkOrder, order.id)
        number = (db.session.scalar(select(func.max(ChangeOrder.number)).where(ChangeOrder.order_id == order.id))
                  or 0) + 1
        change = ChangeOrder(order_id=order.id, alliance_id=order.alliance_id, number=number, amount_fen=amount_fen,
                             scope=scope.strip()[:5000], proposed_by_id=actor.id)
        db.session.add(change)
        db.session.flush()
        audit.record(actor, "change.proposed", change, **_order_scope(order), number=number, amount_fen=amount_fen)
        _notify(leads_of(order) - {actor.id}, "change", order, who=actor.name,
                amount=format_fen(amount_fen, signed=True))
        return change

    return submit_once(actor, idempotency_key, ChangeOrder, write)


def approve_change(actor: User, change: ChangeOrder, extra: Shares | None = None, reason: str = "") -> None:
    """A lead approves the change. One that raises the cost takes effect only with the project's shares raised by the
    same amount (`extra`, shop + fund + subsidy), in the same transaction; nothing is written otherwise."""
    order = change.order
    changes.check(actor, change, "approve", internal=True)
    if not work_orders.allows(order, "change"):
        raise DomainError(_l("A completed work order can no longer change."))
    if change.amount_fen > 0:
        if extra is None or extra.total_fen != change.amount_fen:
            raise DomainError(_l("The change raises the cost by %(amount)s: share it between the shop, the fund and "
                                 "the subsidy, to the fen, before it takes effect.",
                                 amount=format_fen(change.amount_fen))).on("shop_share")
    elif extra is not None and extra.total_fen:
        raise DomainError(_l("Only a change that raises the cost changes the shares.")).on("shop_share")
    lock_row(WorkOrder, order.id)
    db.session.refresh(order)
    if order.value_fen + change.amount_fen < paid_gross_fen(order):
        raise DomainError(_l("The order cannot be worth less than what has already been asked for or paid (%(paid)s).",
                             paid=format_fen(paid_gross_fen(order))))
    shares = extra if change.amount_fen > 0 else Shares(0, 0, 0)
    changes.perform(actor, change, "approve", Attempt(reason=reason), internal=True, values={
        "decided_by_id": actor.id, "decided_at": utcnow(), "decision_reason": reason.strip()[:2000],
        "shop_fen": shares.shop_fen, "fund_fen": shares.fund_fen, "subsidy_fen": shares.subsidy_fen})
    if change.amount_fen > 0:
        try:
            raise_budget(actor, order.project, shares, why=f"CO-{change.number}")
        except DomainError:  # the fund cannot carry its share: the approval written above goes too
            db.session.rollback()
            raise
    db.session.execute(update(WorkOrder).where(WorkOrder.id == order.id)
                       .values(changes_fen=WorkOrder.changes_fen + change.amount_fen)
                       .execution_options(synchronize_session=False, cache_scopes=scopes_of(order)))
    db.session.expire(order, ["changes_fen"])
    _notify((contractor_people(order) | {change.proposed_by_id}) - {actor.id}, "change_decided", order,
            amount=format_fen(change.amount_fen, signed=True), decision=_decision(N_("approved")))
    db.session.commit()


def decide_change(actor: User, change: ChangeOrder, action: str, reason: str = "") -> None:
    """reject (with a reason) or withdraw."""
    if action not in ("reject", "withdraw"):
        raise DomainError(_l("This is not possible."))
    changes.perform(actor, change, action, Attempt(reason=reason or ""), values={
        "decided_by_id": actor.id, "decided_at": utcnow(), "decision_reason": (reason or "").strip()[:2000]})
    if action == "reject":
        _notify((contractor_people(change.order) | {change.proposed_by_id}) - {actor.id}, "change_decided",
                change.order, amount=format_fen(change.amount_fen, signed=True), decision=_decision(N_("rejected")))
    db.session.commit()


# --- late work ---------------------------------------------------------------------------------------


def tell_about_late(today: date | None = None) -> int:
    """Tell the leads and the contractor, once, about each milestone past its due date and not accepted."""
    today = today or local_today()
    late = list(db.session.scalars(select(Milestone).where(
        Milestone.state != M.ACCEPTED, Milestone.due_on < today, Milestone.late_notified_on.is_(None))))
    for milestone in late:
        order = milestone.order
        _notify(deciders(order) | contractor_people(order), "late", order, milestone=_name(milestone),
                day=milestone.due_on.isoformat())
        milestone.late_notified_on = today
    db.session.commit()
    return len(late)
