"""Rectification: the shop reports each failed item fixed, with a photo; when every item is, the order waits for
the re-inspection (safety.inspections), which closes it. An order past its deadline is overdue on the officer's
and the lead's pages, and they are told once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.notifications.services import notify, page
from merchant_alliance.once import lock_row
from merchant_alliance.photos.services import prepare_photos, save_photos
from merchant_alliance.safety.models import RectificationItem, RectificationOrder, RectificationState
from merchant_alliance.safety.queries import leads_of, officers_of_street, shop_people
from merchant_alliance.timeutil import local_today, utcnow

R = RectificationState


def report_fixed(user: User, item: RectificationItem, note: str, photos: Sequence[FileStorage]) -> RectificationItem:
    """The shop (or its lead) says one item is fixed, with at least one photo. Committed; the street's officers
    hear when the last item is."""
    order = item.order
    if not authz.can(user, "report_fixed", order):
        raise NotAllowed()
    note = (note or "").strip()
    if len(note) > 2000:
        raise DomainError(_l("A note can be at most %(n)s characters.", n=2000))
    prepared = prepare_photos(photos)  # before anything is written
    if not prepared.images:
        raise DomainError(_l("Add a photo of the fixed item."))
    lock_row(RectificationOrder, order.id)
    db.session.refresh(order)
    db.session.refresh(item)
    if order.state != R.OPEN:
        db.session.rollback()
        raise DomainError(_l("This rectification is no longer open."))
    if item.fixed_at is not None:
        db.session.rollback()
        raise DomainError(_l("This item has already been reported fixed."))
    item.photos.extend(save_photos(user, prepared, alliance=order.shop.alliance, shop=order.shop))
    item.fixed_note, item.fixed_by_id, item.fixed_at = note, user.id, utcnow()
    audit.record(user, "rectification.item_fixed", order, alliance_id=order.alliance_id, street_id=order.street_id,
                 item=item.code)
    if all(other.fixed_at is not None for other in order.items):
        order.state = R.FIXED
        notify(officers_of_street(order.street_id), N_("%(shop)s reports every item of its rectification fixed: please "
                                                "re-inspect."),
               page("safety.rectification", order_id=order.id), shop=order.shop.name)
    db.session.commit()
    return item


LONGEST_DEADLINE_DAYS = 365


def set_deadline(user: User, order: RectificationOrder, deadline: date) -> None:
    """The officer moves an open order's deadline (the default came from the items' severity): every item not
    yet fixed gets it too, and the shop is told. Committed."""
    if not authz.can(user, "manage", order):
        raise NotAllowed()
    today = local_today()
    if deadline < today or deadline > today + timedelta(days=LONGEST_DEADLINE_DAYS):
        raise DomainError(_l("Choose a day from today to a year from now."))
    lock_row(RectificationOrder, order.id)
    db.session.refresh(order)
    if order.state == R.CLOSED:
        db.session.rollback()
        raise DomainError(_l("This rectification is no longer open."))
    before = order.deadline
    order.deadline = deadline
    order.overdue_notified_at = None  # late again after the new day: told again
    for item in order.items:
        if item.fixed_at is None:
            item.deadline = deadline
    audit.record(user, "rectification.deadline", order, alliance_id=order.alliance_id, street_id=order.street_id,
                 before=before.isoformat(), after=deadline.isoformat())
    notify(shop_people(order.shop_id, order.alliance_id),
           N_("The street office set the rectification of %(shop)s's sign to be done by %(deadline)s."),
           page("safety.rectification", order_id=order.id), shop=order.shop.name, deadline=deadline.isoformat())
    db.session.commit()


def overdue_orders(street_id: int | None = None):
    """A select() of the orders past their deadline and not yet rectified (of one street, or all)."""
    query = select(RectificationOrder).where(RectificationOrder.state == R.OPEN,
                                             RectificationOrder.deadline < local_today())
    if street_id is not None:
        query = query.where(RectificationOrder.street_id == street_id)
    return query.order_by(RectificationOrder.deadline, RectificationOrder.id)


def tell_about_overdue() -> int:
    """Tell the street's officers and the alliance's leads about each order that went past its deadline, once
    (run by `flask safety remind`, daily). Returns how many orders were reported."""
    told = 0
    for order in db.session.scalars(overdue_orders().where(RectificationOrder.overdue_notified_at.is_(None))).all():
        claimed = db.session.execute(
            update(RectificationOrder).where(RectificationOrder.id == order.id,
                                             RectificationOrder.overdue_notified_at.is_(None))
            .values(overdue_notified_at=utcnow()).execution_options(synchronize_session=False)).rowcount
        if claimed:
            notify(officers_of_street(order.street_id) | leads_of(order.alliance_id),
                   N_("The rectification of %(shop)s's sign is overdue (due %(deadline)s)."),
                   page("safety.rectification", order_id=order.id), shop=order.shop.name,
                   deadline=order.deadline.isoformat())
            told += 1
        db.session.commit()
    return told
