"""What the safety pages show: read-only, loading planned here, nothing written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload, selectinload

from merchant_alliance.accounts.models import Alliance, Membership, Role
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety.models import (
    OPEN_ORDERS,
    Certificate,
    ChecklistTemplate,
    Inspection,
    InspectionAnswer,
    InspectionState,
    Permit,
    PermitState,
    RectificationItem,
    RectificationOrder,
    RectificationState,
    answer_photos,
)
from merchant_alliance.shops.models import Shop, Signboard
from merchant_alliance.timeutil import local_today

EXPIRING_WITHIN = timedelta(days=30)
LIST_LIMIT = 50  # each list of the officer's home shows the most urgent ones


def load_inspection(inspection_id: int) -> Inspection | None:
    """An inspection with its answers and their photos, and its checklist's items."""
    return db.session.scalar(select(Inspection).where(Inspection.id == inspection_id).options(
        selectinload(Inspection.answers).selectinload(InspectionAnswer.photos),
        selectinload(Inspection.answers).joinedload(InspectionAnswer.answered_by),
        selectinload(Inspection.template).selectinload(ChecklistTemplate.items)))


def load_order(order_id: int) -> RectificationOrder | None:
    """A rectification order with its items, what the inspector saw and the photos of the fixes."""
    return db.session.scalar(select(RectificationOrder).where(RectificationOrder.id == order_id).options(
        selectinload(RectificationOrder.items).selectinload(RectificationItem.photos),
        selectinload(RectificationOrder.items).selectinload(RectificationItem.answer)
        .selectinload(InspectionAnswer.photos)))


def permit_of(project_id: int) -> Permit | None:
    return db.session.scalar(select(Permit).where(Permit.project_id == project_id))


def outcome_of(inspection_id: int) -> tuple[RectificationOrder | None, Certificate | None]:
    """What a finished inspection led to: its rectification order, or its certificate."""
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection_id))
    certificate = None if order is not None else db.session.scalar(
        select(Certificate).where(Certificate.inspection_id == inspection_id))
    return order, certificate


def item_texts(inspection: Inspection, locale: str) -> dict[str, str]:
    """code → what the item asks, in the viewer's language (the template's items and the permit's conditions)."""
    texts = {item.code: item.text(locale) for item in inspection.template.items}
    if inspection.project_id is not None:
        permit = permit_of(inspection.project_id)
        if permit is not None:
            texts.update({condition.code: condition.text for condition in permit.conditions})
    return texts


def is_overdue(order: RectificationOrder) -> bool:
    return order.state == RectificationState.OPEN and order.deadline < local_today()


# Items whose photos show the whole sign (its type, its size, its height above the pavement), not a detail.
WHOLE_SIGN_ITEMS = ("S01", "S02", "S03")


def public_photo(certificate: Certificate) -> Photo | None:
    """The photo the public page shows: a whole-sign photo from this sign's inspections, the latest first (a
    re-inspection that only looked at the bolts leaves the earlier front view), else any photo they took."""
    return db.session.scalar(
        select(Photo).join(answer_photos, answer_photos.c.photo_id == Photo.id)
        .join(InspectionAnswer, InspectionAnswer.id == answer_photos.c.answer_id)
        .join(Inspection, Inspection.id == InspectionAnswer.inspection_id)
        .where(Inspection.signboard_id == certificate.signboard_id, Inspection.id <= certificate.inspection_id)
        .order_by(InspectionAnswer.code.not_in(WHOLE_SIGN_ITEMS), Inspection.id.desc(), InspectionAnswer.code,
                  Photo.id).limit(1))


@dataclass(frozen=True)
class ProjectSafety:
    inspections: list[Inspection]
    order: RectificationOrder | None
    certificate: Certificate | None


def project_safety(project_id: int) -> ProjectSafety:
    """A project's inspections (newest first), its rectification order still open, and its valid certificate."""
    found = list(db.session.scalars(select(Inspection).where(Inspection.project_id == project_id)
                                    .order_by(Inspection.id.desc())))
    order = db.session.scalar(select(RectificationOrder).where(
        RectificationOrder.project_id == project_id, RectificationOrder.state != RectificationState.CLOSED)
        .order_by(RectificationOrder.id.desc()).limit(1)) if found else None
    certificate = db.session.scalar(select(Certificate).where(
        Certificate.project_id == project_id, Certificate.revoked_at.is_(None),
        Certificate.superseded_by_id.is_(None)).limit(1)) if found else None
    return ProjectSafety(found, order, certificate)


@dataclass(frozen=True)
class OfficerWork:
    """What waits for a street officer, each list the most urgent first, with how many there are in all."""

    permits: list[Permit]
    permits_total: int
    to_inspect: list[Project]  # installed signs waiting for their acceptance inspection
    to_inspect_total: int
    open_inspections: list[Inspection]
    rectifications: list[RectificationOrder]  # open or reported fixed, by deadline
    rectifications_total: int
    expiring: list[Certificate]
    expiring_total: int
    overdue_signs: list[Signboard]  # past their periodic inspection's due date, the longest overdue first
    overdue_signs_total: int
    route_today: dict[int, int]  # street id → inspections planned for today and not yet finished


def officer_work(street_ids: list[int]) -> OfficerWork:
    """Everything on the officer's home, a fixed number of queries however many streets and records."""
    today = local_today()
    permits = select(Permit).where(Permit.street_id.in_(street_ids), Permit.state == PermitState.REQUESTED)
    installed = select(Project).where(
        Project.state == ProjectState.INSTALLED,
        Project.alliance_id.in_(select(Alliance.id).where(Alliance.street_id.in_(street_ids)).scalar_subquery()))
    open_inspections = select(Inspection).where(Inspection.street_id.in_(street_ids),
                                                Inspection.state == InspectionState.OPEN)
    # Written as the partial index's own condition (a literal, not a parameter), so SQLite uses the index too.
    orders = select(RectificationOrder).where(RectificationOrder.street_id.in_(street_ids),
                                              text(f"rectification_orders.{OPEN_ORDERS}"))
    expiring = select(Certificate).where(
        Certificate.street_id.in_(street_ids), Certificate.revoked_at.is_(None),
        Certificate.superseded_by_id.is_(None), Certificate.next_due_on <= today + EXPIRING_WITHIN)
    overdue_signs = select(Signboard).where(Signboard.street_id.in_(street_ids), Signboard.next_due_on < today,
                                            Signboard.removed_at.is_(None))
    # Written as the partial index's own condition, like the orders above.
    route = dict(db.session.execute(
        select(Inspection.street_id, func.count())
        .where(Inspection.street_id.in_(street_ids), Inspection.planned_on == today,
               text("inspections.state = 'open'"))
        .group_by(Inspection.street_id)).all())
    return OfficerWork(
        permits=_first(permits.options(joinedload(Permit.project).joinedload(Project.shop))
                       .order_by(Permit.submitted_at, Permit.id)),
        permits_total=_count(permits),
        to_inspect=_first(installed.options(joinedload(Project.shop)).order_by(Project.updated_at, Project.id)),
        to_inspect_total=_count(installed),
        open_inspections=_first(open_inspections.options(joinedload(Inspection.shop))
                                .order_by(Inspection.started_at, Inspection.id)),
        rectifications=_first(orders.options(joinedload(RectificationOrder.shop))
                              .order_by(RectificationOrder.deadline, RectificationOrder.id)),
        rectifications_total=_count(orders),
        expiring=_first(expiring.options(joinedload(Certificate.shop))
                        .order_by(Certificate.next_due_on, Certificate.id)),
        expiring_total=_count(expiring),
        overdue_signs=_first(overdue_signs.options(joinedload(Signboard.shop))
                             .order_by(Signboard.next_due_on, Signboard.id)),
        overdue_signs_total=_count(overdue_signs),
        route_today={street_id: route.get(street_id, 0) for street_id in street_ids},
    )


def _first(query) -> list:
    return list(db.session.scalars(query.limit(LIST_LIMIT)).unique())


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


@dataclass(frozen=True)
class SignSafety:
    """One sign of a shop as the street office sees it: its certificate in force, open order and inspection."""

    signboard: Signboard
    certificate: Certificate | None
    order: RectificationOrder | None
    inspection: Inspection | None  # one under way


def shop_safety(shop_id: int) -> list[SignSafety]:
    """Each of the shop's signs with its safety records, in three queries however many signs and records."""
    signs = list(db.session.scalars(select(Signboard).where(Signboard.shop_id == shop_id).order_by(Signboard.id)))
    if not signs:
        return []
    certificates = {c.signboard_id: c for c in db.session.scalars(select(Certificate).where(
        Certificate.shop_id == shop_id, Certificate.superseded_by_id.is_(None), Certificate.revoked_at.is_(None))
        .order_by(Certificate.id))}
    orders = {o.signboard_id: o for o in db.session.scalars(select(RectificationOrder).where(
        RectificationOrder.shop_id == shop_id, text(f"rectification_orders.{OPEN_ORDERS}"))
        .order_by(RectificationOrder.id))}
    under_way = {i.signboard_id: i for i in db.session.scalars(select(Inspection).where(
        Inspection.shop_id == shop_id, Inspection.state == InspectionState.OPEN).order_by(Inspection.id))}
    return [SignSafety(sign, certificates.get(sign.id), orders.get(sign.id), under_way.get(sign.id))
            for sign in signs]


# --- who hears about safety work --------------------------------------------------------------------------


def officers_of_street(street_id: int) -> set[int]:
    """The street's officers."""
    return set(db.session.scalars(select(Membership.user_id).where(
        Membership.role == Role.STREET_OFFICER, Membership.street_id == street_id,
        Membership.confirmed_at.is_not(None))))


def leads_of(alliance_id: int) -> set[int]:
    """The alliance's confirmed leads."""
    return set(db.session.scalars(select(Membership.user_id).where(
        Membership.role == Role.ALLIANCE_LEAD, Membership.alliance_id == alliance_id,
        Membership.confirmed_at.is_not(None))))


def shop_people(shop_id: int, alliance_id: int) -> set[int]:
    """The shop's owners and its alliance's confirmed leads: who hears about its sign's safety."""
    return set(db.session.scalars(select(Membership.user_id).where(
        ((Membership.role == Role.SHOP_OWNER) & (Membership.shop_id == shop_id))
        | ((Membership.role == Role.ALLIANCE_LEAD) & (Membership.alliance_id == alliance_id)
           & Membership.confirmed_at.is_not(None)))))


# --- the shop owner's home --------------------------------------------------------------------------------

OWNER_SIGNS_SHOWN = 10  # a shop has a few signs; an owner of many shops sees the most urgent ten
DUE_SOON = timedelta(days=30)  # an inspection due within this is shown as coming


@dataclass(frozen=True)
class OwnerSign:
    """One sign of the owner's shops and where its safety stands, most urgent first by `urgency`."""

    signboard: Signboard
    shop_name: str
    order: RectificationOrder | None  # a rectification not yet closed
    status: str  # rectify_overdue, rectify, failed, overdue, never, due_soon, ok
    urgency: int


_URGENCY = ("rectify_overdue", "rectify", "failed", "overdue", "never", "due_soon", "ok")


def owner_signs(shop_ids: list[int]) -> tuple[list[OwnerSign], int]:
    """The signs of the owner's shops still up, each with its safety status, the most urgent first (at most
    OWNER_SIGNS_SHOWN), and how many signs there are: two queries however many signs and orders."""
    today = local_today()
    rows = list(db.session.execute(
        select(Signboard, Shop.name).join(Shop, Signboard.shop_id == Shop.id)
        .where(Signboard.shop_id.in_(shop_ids), Signboard.removed_at.is_(None)).order_by(Signboard.id)))
    if not rows:
        return [], 0
    orders = {o.signboard_id: o for o in db.session.scalars(
        select(RectificationOrder).where(RectificationOrder.shop_id.in_(shop_ids),
                                         text(f"rectification_orders.{OPEN_ORDERS}"))
        .order_by(RectificationOrder.id))}
    signs = []
    for sign, shop_name in rows:
        order = orders.get(sign.id)
        if order is not None and order.state == RectificationState.OPEN:
            status = "rectify_overdue" if order.deadline < today else "rectify"
        elif sign.last_passed is False:
            status = "failed"
        elif sign.next_due_on is not None and sign.next_due_on < today:
            status = "overdue"
        elif sign.last_inspected_on is None:
            status = "never"
        elif sign.next_due_on is not None and sign.next_due_on <= today + DUE_SOON:
            status = "due_soon"
        else:
            status = "ok"
        signs.append(OwnerSign(sign, shop_name, order, status, _URGENCY.index(status)))
    signs.sort(key=lambda s: (s.urgency, s.signboard.next_due_on or today, s.signboard.id))
    return signs[:OWNER_SIGNS_SHOWN], len(signs)
