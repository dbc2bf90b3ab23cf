"""The registry: every sign of every shop on a street, with its risk level and its inspection schedule.

The registry's figures live on the sign itself (shops.models.Signboard: risk, last and next inspection, open
reports, removal) and are kept here, in the same transaction as what changes them: a finished inspection, a
revoked certificate, an edited sign, a removal. So a street's registry is one indexed read, however long its
history, and what it shows cannot drift from the records.

Risk (how much harm a falling or burning sign could do) comes from the sign's kind, size, height, age, light and
its last inspection; it sets how often the street re-inspects the sign (`SafetySettings.interval_for`). Passing an
inspection schedules the next one; an overdue sign is flagged to the street's officers and the shop (once per due
date), and the shop is reminded before the due date. The risk rules are the sign's own (shops.risk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.notifications.services import notify, page
from merchant_alliance.photos.services import prepare_photos, save_photos
from merchant_alliance.safety import checklists
from merchant_alliance.safety.models import Inspection, InspectionKind, InspectionState
from merchant_alliance.shops.models import Signboard, SignCondition
from merchant_alliance.shops.risk import risk_of
from merchant_alliance.timeutil import local_today, utcnow

AUDIT_LABELS = {
    "signboard.removed": _l("closed the sign in the registry as removed"),
    "registry.planned": _l("planned periodic inspections"),
}

REMIND_BEFORE = timedelta(days=30)  # the shop hears this long before its sign's inspection is due
DUE_SOON = timedelta(days=30)  # the registry's "due within 30 days"

def record_inspection(inspection: Inspection, passed: bool) -> date | None:
    """A finished inspection's mark on the sign's registry line (in the caller's transaction): when it was
    inspected, the result and the risk level that follows; when it passed, the next inspection is due after the
    street's interval for that level (returned: the certificate is valid until then)."""
    signboard = inspection.signboard
    today = local_today()
    signboard.last_inspected_on = today
    signboard.last_passed = passed
    signboard.risk = risk_of(signboard, today)
    if not passed:
        return None
    settings = checklists.settings_for(inspection.street_id)
    signboard.next_due_on = today + timedelta(days=settings.interval_for(signboard.risk))
    return signboard.next_due_on


def due_now(signboard: Signboard) -> None:
    """The sign must be inspected again now (its certificate was revoked); the caller commits."""
    today = local_today()
    if signboard.removed_at is None and (signboard.next_due_on is None or signboard.next_due_on > today):
        signboard.next_due_on = today


def status_of(signboard: Signboard, today: date | None = None) -> str:
    """One word for the sign's line: removed, overdue, due_soon, never_inspected or ok."""
    today = today or local_today()
    if signboard.removed_at is not None:
        return "removed"
    if signboard.next_due_on is None:
        return "never_inspected" if signboard.last_inspected_on is None else "overdue"
    if signboard.next_due_on < today:
        return "overdue"
    if signboard.next_due_on <= today + DUE_SOON:
        return "due_soon"
    return "ok"


STATUS_LABELS = {
    "removed": _l("Removed"),
    "overdue": _l("Overdue"),
    "due_soon": _l("Due within 30 days"),
    "never_inspected": _l("Never inspected"),
    "ok": _l("Up to date"),
}


# --- removal ----------------------------------------------------------------------------------------------

REMOVAL_PHOTO_NEEDED = _l("Please add a photo of the facade without the sign.")
ALREADY_REMOVED = _l("This sign is already closed in the registry as removed.")


def remove(user: User, signboard: Signboard, note: str, photos: Sequence[FileStorage]) -> Signboard:
    """Close the sign in the registry as taken down, with a photo that shows it gone; committed. Its history
    stays; an inspection under way is cancelled; its public tag says it was removed."""
    if not authz.can(user, "close_as_removed", signboard):  # the shop's owner, its lead, the street's officer
        raise NotAllowed()
    note = (note or "").strip()
    if len(note) > 500:
        raise DomainError(_l("A note can be at most %(n)s characters."), n=500).on("removal_note")
    if signboard.removed_at is not None:
        raise DomainError(ALREADY_REMOVED)
    prepared = prepare_photos(photos)  # the slow part, before anything is written
    if not prepared.images:
        raise DomainError(REMOVAL_PHOTO_NEEDED).on("photos")
    if len(prepared.images) > 1:
        raise DomainError(_l("Please choose one photo.")).on("photos")
    [photo] = save_photos(user, prepared, alliance=signboard.shop.alliance, shop=signboard.shop)
    removed = db.session.execute(
        update(Signboard).where(Signboard.id == signboard.id, Signboard.removed_at.is_(None))
        .values(removed_at=utcnow(), removed_by_id=user.id, removal_note=note, removal_photo_id=photo.id,
                condition=SignCondition.REMOVED, next_due_on=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if removed != 1:  # removed by someone else a moment ago
        db.session.rollback()
        raise DomainError(ALREADY_REMOVED)
    db.session.expire(signboard)
    db.session.execute(
        update(Inspection).where(Inspection.signboard_id == signboard.id, Inspection.state == InspectionState.OPEN,
                                 Inspection.project_id.is_(None))
        .values(state=InspectionState.CANCELLED, summary="sign removed", updated_at=utcnow())
        .execution_options(synchronize_session=False))
    audit.record(user, "signboard.removed", signboard, alliance_id=signboard.alliance_id,
                 street_id=signboard.street_id, shop=signboard.shop_id, note=note or None)
    db.session.commit()
    return signboard


# --- planning periodic inspections --------------------------------------------------------------------------


def due_signs(alliance: Alliance, by: date):
    """A select() of the road's signs due for a periodic inspection by `by` (never inspected, overdue or due
    then), not removed, with no inspection under way."""
    under_way = select(Inspection.signboard_id).where(Inspection.alliance_id == alliance.id,
                                                      Inspection.state == InspectionState.OPEN)
    return (select(Signboard).where(
        Signboard.alliance_id == alliance.id, Signboard.removed_at.is_(None),
        Signboard.next_due_on.is_(None) | (Signboard.next_due_on <= by), Signboard.id.not_in(under_way))
        .order_by(Signboard.id))


@dataclass(frozen=True)
class Planned:
    planned: int
    skipped: int  # started by someone else meanwhile


def plan_periodic(user: User, alliance: Alliance, day: date) -> Planned:
    """Start a periodic inspection, on the route of `day`, of every sign of the road due by then; committed.
    A sign with a rectification order open gets its re-inspection. Two officers planning at once: each sign is
    started once (the other's are skipped)."""
    if not authz.officer_of(user, alliance.street_id):
        raise NotAllowed()
    today = local_today()
    if day < today:
        raise DomainError(_l("Choose today or a later day.")).on("day")
    if day > today + timedelta(days=366):
        raise DomainError(_l("Choose a day within a year.")).on("day")
    from merchant_alliance.safety.inspections import open_orders_of

    template = checklists.current_template(alliance.street_id)
    signs = list(db.session.scalars(due_signs(alliance, day)))
    orders = open_orders_of([sign.id for sign in signs])
    planned = skipped = 0
    for sign in signs:
        order = orders.get(sign.id)
        inspection = Inspection(
            signboard_id=sign.id, shop_id=sign.shop_id, alliance_id=alliance.id, street_id=alliance.street_id,
            template_id=template.id, rectification_id=order.id if order else None,
            kind=InspectionKind.REINSPECTION if order else InspectionKind.PERIODIC,
            sign_type=str(sign.sign_type), illuminated=sign.illuminated, started_by_id=user.id, planned_on=day)
        try:
            with db.session.begin_nested():
                db.session.add(inspection)
        except IntegrityError:  # another officer started this sign's inspection meanwhile
            skipped += 1
            continue
        planned += 1
    if planned:
        audit.record(user, "registry.planned", alliance, alliance_id=alliance.id, street_id=alliance.street_id,
                     day=day.isoformat(), planned=planned, skipped=skipped or None)
    db.session.commit()
    return Planned(planned, skipped)


# --- reminders ----------------------------------------------------------------------------------------------


def remind_due() -> tuple[int, int]:
    """Remind shops of inspections due within REMIND_BEFORE, and tell officers and shops about signs gone past
    their due date, once per due date each (run by `flask safety remind`, daily). Refreshes every sign's risk
    level first (signs age). Returns (reminded, overdue reported)."""
    from merchant_alliance.safety.queries import officers_of_street, shop_people

    today = local_today()
    _refresh_all_risks(today)
    reminded = overdue = 0
    soon = select(Signboard).where(
        Signboard.removed_at.is_(None), Signboard.next_due_on.is_not(None), Signboard.next_due_on >= today,
        Signboard.next_due_on <= today + REMIND_BEFORE,
        Signboard.due_reminded_for.is_(None) | (Signboard.due_reminded_for != Signboard.next_due_on))
    for sign in db.session.scalars(soon.options(joinedload(Signboard.shop)).order_by(Signboard.id)).all():
        if _claim(sign, "due_reminded_for"):
            notify(shop_people(sign.shop_id, sign.alliance_id),
                   N_("The safety inspection of %(shop)s's sign (%(sign)s) is due on %(day)s."),
                   page("shops.shop", shop_id=sign.shop_id, _anchor="safety"), shop=sign.shop.name,
                   sign=sign.position, day=sign.next_due_on.isoformat())
            reminded += 1
        db.session.commit()
    late = select(Signboard).where(
        Signboard.removed_at.is_(None), Signboard.next_due_on.is_not(None), Signboard.next_due_on < today,
        Signboard.overdue_notified_for.is_(None) | (Signboard.overdue_notified_for != Signboard.next_due_on))
    for sign in db.session.scalars(late.options(joinedload(Signboard.shop)).order_by(Signboard.id)).all():
        if _claim(sign, "overdue_notified_for"):
            notify(officers_of_street(sign.street_id) | shop_people(sign.shop_id, sign.alliance_id),
                   N_("The safety inspection of %(shop)s's sign (%(sign)s) is overdue (due %(day)s)."),
                   page("shops.shop", shop_id=sign.shop_id, _anchor="safety"), shop=sign.shop.name,
                   sign=sign.position, day=sign.next_due_on.isoformat())
            overdue += 1
        db.session.commit()
    return reminded, overdue


def _claim(sign: Signboard, column: str) -> bool:
    """Mark the sign's current due date as told about, once even if two runs overlap."""
    field = getattr(Signboard, column)
    claimed = db.session.execute(
        update(Signboard).where(Signboard.id == sign.id, Signboard.next_due_on == sign.next_due_on,
                                field.is_(None) | (field != sign.next_due_on))
        .values({column: sign.next_due_on}).execution_options(synchronize_session=False)).rowcount
    return claimed == 1


REFRESH_BATCH = 1000


def _refresh_all_risks(today: date) -> int:
    """Work out every sign's risk level again, in batches; returns how many changed."""
    changed, last_id = 0, 0
    while True:
        batch = list(db.session.scalars(select(Signboard).where(Signboard.id > last_id, Signboard.removed_at.is_(None))
                                        .order_by(Signboard.id).limit(REFRESH_BATCH)))
        if not batch:
            return changed
        for sign in batch:
            risk = risk_of(sign, today)
            if sign.risk != risk:
                sign.risk = risk
                changed += 1
        last_id = batch[-1].id
        db.session.commit()
