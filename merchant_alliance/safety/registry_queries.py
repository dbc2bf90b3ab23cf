"""What the registry pages read: a street's signs filtered and most urgent first (a page at a time, or all of them
for the CSV), one sign's whole history, and a day's route. Read-only; every page costs the same number of
queries however many signs and records it shows.

A street's signs are read on the sign's own registry columns (shops.models.Signboard: risk, schedule, open
reports, removal), so no inspection or certificate is joined to filter or order them. The list is paged by a
keyset (the last row's place in the order), never by OFFSET: page 50 costs what page 1 does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, case, func, select, text, tuple_
from sqlalchemy.orm import joinedload, selectinload

from merchant_alliance.accounts.models import Alliance
from merchant_alliance.errors import BadInput
from merchant_alliance.extensions import db
from merchant_alliance.funds.reports import csv_chunks
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects.models import Project
from merchant_alliance.safety import registry
from merchant_alliance.safety.inspections import open_orders_of
from merchant_alliance.safety.models import (
    OPEN_INSPECTION,
    Certificate,
    Inspection,
    RectificationOrder,
)
from merchant_alliance.shops.models import Risk, Shop, Signboard, SignType, signboard_photos
from merchant_alliance.shops.risk import risk_factors
from merchant_alliance.timeutil import FIRST_DAY

PAGE_SIZE = 50
CSV_BATCH = 500
MAX_SEARCH = 100

# --- filters -----------------------------------------------------------------------------------------------

# The query argument of each checkbox (all of them combine with AND).
FLAGS = ("overdue", "due_soon", "high_risk", "lit", "projecting", "never", "reported", "removed")
FLAG_LABELS = {
    "overdue": _l("Overdue"),
    "due_soon": _l("Due within 30 days"),
    "high_risk": _l("High risk"),
    "lit": _l("Illuminated"),
    "projecting": _l("Projecting"),
    "never": _l("Never inspected"),
    "reported": _l("With an open report"),
    "removed": _l("Show removed signs"),
}


@dataclass(frozen=True)
class Filters:
    """What the officer asked the registry for; removed signs are left out unless `removed` is set."""

    flags: frozenset[str] = frozenset()
    road: int | None = None  # an alliance of the street
    search: str = ""  # in the shop's name or its house number

    def args(self) -> dict[str, Any]:
        """The query arguments that ask for these filters again (for links: CSV, next page)."""
        found: dict[str, Any] = {flag: "1" for flag in FLAGS if flag in self.flags}
        if self.road is not None:
            found["road"] = self.road
        if self.search:
            found["q"] = self.search
        return found

    def __contains__(self, flag: str) -> bool:
        return flag in self.flags


def filters_from(args, road: int | None) -> Filters:
    """The filters in a request's query arguments (`road` already read as a checked number)."""
    search = (args.get("q") or "").strip()[:MAX_SEARCH]
    return Filters(frozenset(flag for flag in FLAGS if args.get(flag) not in (None, "", "0")), road, search)


def _overdue(today: date):
    # A sign inspected and failed without ever passing has no due date: it is due now, hence late.
    return Signboard.removed_at.is_(None) & (
        (Signboard.next_due_on < today) | (Signboard.next_due_on.is_(None) & Signboard.last_inspected_on.is_not(None)))


def _conditions(street_id: int, filters: Filters, today: date) -> list:
    found = [Signboard.street_id == street_id]
    if "removed" not in filters:
        found.append(Signboard.removed_at.is_(None))
    if "overdue" in filters:
        found.append(_overdue(today))
    if "due_soon" in filters:
        found += [Signboard.removed_at.is_(None), Signboard.next_due_on >= today,
                  Signboard.next_due_on <= today + registry.DUE_SOON]
    if "high_risk" in filters:
        found.append(Signboard.risk == Risk.HIGH)
    if "lit" in filters:
        found.append(Signboard.illuminated.is_(True))
    if "projecting" in filters:
        found.append(Signboard.sign_type == SignType.PROJECTING)
    if "never" in filters:
        found.append(Signboard.last_inspected_on.is_(None))
    if "reported" in filters:
        found.append(Signboard.open_reports > 0)
    if filters.road is not None:
        found.append(Signboard.alliance_id == filters.road)
    if filters.search:
        found.append(func.lower(Shop.name).contains(filters.search.lower(), autoescape=True)
                     | Shop.house_number.contains(filters.search, autoescape=True))
    return found


# --- the order: most urgent first, and the keyset that pages through it --------------------------------------

# 0: due now (never inspected, or failed without a due date); 1: by due date (the overdue ones come first, their
# dates being the earliest); 2: removed, last.
URGENCY = case((Signboard.removed_at.is_not(None), 2), (Signboard.next_due_on.is_(None), 0), else_=1)
DUE_KEY = func.coalesce(Signboard.next_due_on, FIRST_DAY)
ORDER = (URGENCY, DUE_KEY, Signboard.id)


@dataclass(frozen=True)
class Cursor:
    """A row's place in the order: the next page starts after it."""

    urgency: int
    due: date
    signboard_id: int

    def __str__(self) -> str:
        return f"{self.urgency}.{self.due.isoformat()}.{self.signboard_id}"

    @classmethod
    def parse(cls, value: str | None) -> Cursor | None:
        """The cursor written by __str__; None when absent; a 400 page when it was tampered with."""
        if not value:
            return None
        found = re.fullmatch(r"([0-2])\.([0-9]{4}-[0-9]{2}-[0-9]{2})\.([0-9]{1,9})", value)
        try:
            if found is not None:
                return cls(int(found[1]), date.fromisoformat(found[2]), int(found[3]))
        except ValueError:
            pass
        raise BadInput(_l("This page link is broken. Please start again from the first page."))

    @classmethod
    def of(cls, row) -> Cursor:
        return cls(row.urgency, row.due_key, row.id)


def _lines(street_id: int, filters: Filters, today: date):
    """The registry's columns of the street's signs matching `filters`, most urgent first."""
    return (select(Signboard.id, Signboard.shop_id, Signboard.alliance_id, Signboard.position, Signboard.sign_type,
                   Signboard.width_m, Signboard.height_m, Signboard.illuminated, Signboard.install_year,
                   Signboard.risk, Signboard.last_inspected_on, Signboard.last_passed, Signboard.next_due_on,
                   Signboard.open_reports, Signboard.removed_at, Shop.name.label("shop_name"), Shop.house_number,
                   Alliance.road, Alliance.name.label("alliance_name"), URGENCY.label("urgency"),
                   DUE_KEY.label("due_key"))
            .join(Shop, Shop.id == Signboard.shop_id).join(Alliance, Alliance.id == Signboard.alliance_id)
            .where(*_conditions(street_id, filters, today)).order_by(*ORDER))


def _after(query, cursor: Cursor | None):
    if cursor is None:
        return query
    return query.where(tuple_(*ORDER) > tuple_(cursor.urgency, cursor.due, cursor.signboard_id))


@dataclass(frozen=True)
class Line:
    """One sign's line in the registry."""

    sign: Row
    status: str  # registry.status_of
    order: RectificationOrder | None  # its rectification order not yet closed
    photo: Photo | None  # its first photo


@dataclass(frozen=True)
class Page:
    lines: list[Line]
    next: Cursor | None  # where the next page starts; None on the last page


def first_photos(signboard_ids: Sequence[int]) -> dict[int, Photo]:
    """signboard id → its first photo (the lowest id, as Signboard.photos orders them), in one query."""
    if not signboard_ids:
        return {}
    link = signboard_photos.c
    first = (select(link.signboard_id, func.min(link.photo_id).label("photo_id"))
             .where(link.signboard_id.in_(signboard_ids)).group_by(link.signboard_id).subquery())
    return {signboard_id: photo for signboard_id, photo in
            db.session.execute(select(first.c.signboard_id, Photo).join(Photo, Photo.id == first.c.photo_id))}


def registry_page(street_id: int, filters: Filters, after: Cursor | None, today: date,
                  size: int = PAGE_SIZE) -> Page:
    """One page of the registry, after `after`: three queries (the lines, their open orders, their first
    photos) whatever the page holds."""
    rows = db.session.execute(_after(_lines(street_id, filters, today), after).limit(size + 1)).all()
    more, rows = len(rows) > size, rows[:size]
    ids = [row.id for row in rows]
    orders, photos = open_orders_of(ids), first_photos(ids)
    lines = [Line(row, registry.status_of(row, today), orders.get(row.id), photos.get(row.id)) for row in rows]
    return Page(lines, Cursor.of(rows[-1]) if more and rows else None)


def roads_of(street_id: int) -> list[Alliance]:
    """The street's alliances (each keeps one road), for the road choice."""
    return list(db.session.scalars(select(Alliance).where(Alliance.street_id == street_id)
                                   .order_by(Alliance.road, Alliance.name, Alliance.id)))


def all_lines(street_id: int, filters: Filters, today: date, batch: int = CSV_BATCH) -> Iterator[tuple[Row, Any]]:
    """Every matching line with its open rectification order, read `batch` at a time by keyset: memory stays the
    same however long the street, and no cursor stays open between batches."""
    after = None
    while True:
        rows = db.session.execute(_after(_lines(street_id, filters, today), after).limit(batch)).all()
        orders = open_orders_of([row.id for row in rows])
        for row in rows:
            yield row, orders.get(row.id)
        if len(rows) < batch:
            return
        after = Cursor.of(rows[-1])


# --- the CSV -----------------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: object) -> str:
    """A text cell a spreadsheet shows as text and never runs as a formula (people type shop names)."""
    text_ = "" if value is None else str(value)
    return f"'{text_}" if text_.startswith(FORMULA_START) else text_


def registry_csv(lines: Iterator[tuple[Row, Any]], today: date) -> Iterator[str]:
    """The registry as a spreadsheet (UTF-8 with BOM, for Excel), in pieces to stream; labels translated once."""
    header = [_("Shop"), _("House number"), _("Road"), _("Position"), _("Type of sign"), _("Width (m)"),
              _("Height (m)"), _("Illuminated"), _("Year installed"), _("Risk level"), _("Status"),
              _("Last inspection"), _("Last result"), _("Next inspection due"), _("Open rectification, fix by"),
              _("Open reports"), _("Removed on")]
    statuses = {key: str(label) for key, label in registry.STATUS_LABELS.items()}
    risks = {risk: risk.label for risk in Risk}
    kinds = {kind: kind.label for kind in SignType}
    yes, no = _("Yes"), _("No")
    results = {True: _("Passed"), False: _("Failed"), None: ""}

    def cells(row, order) -> list[str]:
        return [spreadsheet_text(row.shop_name), spreadsheet_text(row.house_number),
                spreadsheet_text(row.road or row.alliance_name), spreadsheet_text(row.position), kinds[row.sign_type],
                f"{row.width_m:.2f}", f"{row.height_m:.2f}", yes if row.illuminated else no,
                str(row.install_year or ""), risks[row.risk], statuses[registry.status_of(row, today)],
                _day(row.last_inspected_on), results[row.last_passed], _day(row.next_due_on),
                _day(order.deadline if order else None), str(row.open_reports),
                _day(row.removed_at.date() if row.removed_at else None)]

    return csv_chunks(header, (cells(row, order) for row, order in lines), rows_per_chunk=CSV_BATCH)


def _day(day: date | datetime | None) -> str:
    return day.isoformat() if day else ""


# --- one sign's page ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """Everything the street knows about one sign, newest first."""

    projects: list[Project]
    inspections: list[Inspection]
    certificates: list[Certificate]
    orders: list[RectificationOrder]
    current: Certificate | None = field(default=None)  # the certificate in force


def load_signboard(signboard_id: int) -> Signboard | None:
    """A sign with its shop, road, photos and removal photo: what its page shows, in one or two queries."""
    return db.session.scalar(select(Signboard).where(Signboard.id == signboard_id).options(
        joinedload(Signboard.shop).joinedload(Shop.alliance), selectinload(Signboard.photos),
        joinedload(Signboard.removal_photo)))


def history_of(signboard_id: int) -> History:
    """The sign's projects, inspections, certificates and rectification orders: four queries however long its
    history."""
    projects = list(db.session.scalars(select(Project).where(Project.signboard_id == signboard_id)
                                       .order_by(Project.id.desc())))
    found = list(db.session.scalars(select(Inspection).where(Inspection.signboard_id == signboard_id)
                                    .order_by(Inspection.id.desc())))
    certificates = list(db.session.scalars(select(Certificate).where(Certificate.signboard_id == signboard_id)
                                           .order_by(Certificate.id.desc())))
    orders = list(db.session.scalars(select(RectificationOrder).where(RectificationOrder.signboard_id == signboard_id)
                                     .order_by(RectificationOrder.id.desc())))
    current = next((c for c in certificates if c.revoked_at is None and c.superseded_by_id is None), None)
    return History(projects, found, certificates, orders, current)


RISK_REASONS = {
    "kind": _l("Kind of sign: %(kind)s"),
    "area": _l("Area: %(area)s m²"),
    "height": _l("Top edge %(height)s m above the pavement"),
    "age": _l("%(years)s years old"),
    "lit": _l("Illuminated: wiring"),
    "failed": _l("Failed its last inspection"),
    "worn": _l("Worn"),
}


@dataclass(frozen=True)
class RiskReason:
    text: str
    points: int


def risk_reasons(signboard: Signboard, today: date) -> list[RiskReason]:
    """Why the sign has its risk points, one line per rule it scores on (shops.risk); their sum is risk_points."""
    shown = {"kind": lambda v: {"kind": v.label}, "area": lambda v: {"area": f"{v:.1f}"},
             "height": lambda v: {"height": f"{v:.1f}"}, "age": lambda v: {"years": v}}
    return [RiskReason(str(RISK_REASONS[f.key] % shown[f.key](f.value)) if f.key in shown
                       else str(RISK_REASONS[f.key]), f.points)
            for f in risk_factors(signboard, today)]


# --- a day's route ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Road:
    """One road's stops on the day's route: its odd side ascending, then its even side."""

    alliance: Alliance
    odd: list[Inspection]
    even: list[Inspection]
    other: list[Inspection]  # house numbers without a number in them


def house_key(house_number: str) -> tuple[int, int, str]:
    """Where a door is along the road: 0 for the odd side, 1 for the even, 2 for none; then its number. "1018-1"
    and "1018弄3号" are at 1018."""
    found = re.match(r"\s*([0-9]+)", house_number or "")
    if found is None:
        return 2, 0, house_number or ""
    number = int(found[1])
    return 0 if number % 2 else 1, number, house_number


def route_of(street_id: int, day: date) -> list[Road]:
    """The street's open inspections planned for `day`, by road and along it: one query."""
    found = db.session.scalars(select(Inspection).where(
        Inspection.street_id == street_id, Inspection.planned_on == day,
        text(f"inspections.{OPEN_INSPECTION}"))  # the partial index's own condition, so SQLite uses it too
        .options(joinedload(Inspection.signboard), joinedload(Inspection.shop), joinedload(Inspection.alliance))
        .order_by(Inspection.id)).all()
    roads: dict[int, list[Inspection]] = {}
    for inspection in found:
        roads.setdefault(inspection.alliance_id, []).append(inspection)
    result = []
    for stops in roads.values():
        stops.sort(key=lambda i: (*house_key(i.shop.house_number), i.id))
        sides: dict[int, list[Inspection]] = {0: [], 1: [], 2: []}
        for stop in stops:
            sides[house_key(stop.shop.house_number)[0]].append(stop)
        result.append(Road(stops[0].alliance, sides[0], sides[1], sides[2]))
    return sorted(result, key=lambda road: (road.alliance.road, road.alliance.name, road.alliance.id))
