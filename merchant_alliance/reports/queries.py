"""The read side of hazard reports: what each page lists, with its loading planned once (a page costs the same
number of queries whatever the number of reports)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload, selectinload

from merchant_alliance.accounts.models import Alliance
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.reports.models import OPEN_STATES, HazardReport, ReportEntry, ReportState, report_photos
from merchant_alliance.shops.models import Shop, Signboard

PUBLIC_PAGE = 50
TRIAGE_PAGE = 50


# --- the report form -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Road:
    """One alliance of the street, by its road, with its active shops (for the report form's choices)."""

    alliance: Alliance
    shops: list[Shop]

    @property
    def label(self) -> str:
        return self.alliance.road or self.alliance.name


def roads_of(street_id: int) -> list[Road]:
    """The street's alliances with their active shops in house-number order: two queries."""
    alliances = list(db.session.scalars(select(Alliance).where(Alliance.street_id == street_id)
                                        .order_by(Alliance.road, Alliance.id)))
    shops = db.session.scalars(select(Shop).where(Shop.alliance_id.in_([a.id for a in alliances]),
                                                  Shop.active.is_(True))
                               .order_by(func.length(Shop.house_number), Shop.house_number, Shop.id)) \
        if alliances else []
    by_alliance: dict[int, list[Shop]] = {a.id: [] for a in alliances}
    for shop in shops:
        by_alliance[shop.alliance_id].append(shop)
    return [Road(alliance, by_alliance[alliance.id]) for alliance in alliances]


# --- the public list ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicPage:
    reports: list[HazardReport]
    thumbnails: dict[int, Photo]  # the first photo of each published report
    next_before: int | None  # the keyset of the next page: reports with a smaller id


def public_list(street_id: int, before: int | None = None, limit: int = PUBLIC_PAGE) -> PublicPage:
    """A street's reports, newest first, `limit` at a time by keyset (ids below `before`): two queries."""
    query = (select(HazardReport).where(HazardReport.street_id == street_id)
             .options(joinedload(HazardReport.alliance)).order_by(HazardReport.id.desc()).limit(limit + 1))
    if before is not None:
        query = query.where(HazardReport.id < before)
    reports = list(db.session.scalars(query))
    more = len(reports) > limit
    reports = reports[:limit]
    published = [r.id for r in reports if r.published]
    thumbnails: dict[int, Photo] = {}
    if published:
        rows = db.session.execute(
            select(ReportEntry.report_id, Photo)
            .join(report_photos, report_photos.c.entry_id == ReportEntry.id)
            .join(Photo, Photo.id == report_photos.c.photo_id)
            .where(ReportEntry.report_id.in_(published)).order_by(ReportEntry.id, Photo.id))
        for report_id, photo in rows:
            thumbnails.setdefault(report_id, photo)
    return PublicPage(reports, thumbnails, reports[-1].id if more else None)


# --- the street office's pages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TriagePage:
    reports: list[HazardReport]
    counts: dict[ReportState, int]  # every state of the street's reports, for the filter
    page: int
    has_next: bool


def triage_list(street_id: int, state: ReportState | None, page: int = 1, limit: int = TRIAGE_PAGE) -> TriagePage:
    """The street's reports in one state (open ones when None): urgent first, then the oldest; three queries."""
    counts = dict.fromkeys(ReportState, 0)
    counts |= dict(db.session.execute(select(HazardReport.state, func.count())
                                      .where(HazardReport.street_id == street_id).group_by(HazardReport.state)).all())
    wanted = [state] if state is not None else sorted(OPEN_STATES, key=str)
    reports = list(db.session.scalars(
        select(HazardReport).where(HazardReport.street_id == street_id, HazardReport.state.in_(wanted))
        .options(joinedload(HazardReport.alliance), joinedload(HazardReport.signboard))
        .order_by(case((HazardReport.urgent.is_(True), 0), else_=1), HazardReport.created_at, HazardReport.id)
        .offset((page - 1) * limit).limit(limit + 1)))
    return TriagePage(reports[:limit], counts, page, len(reports) > limit)


def load_report(report_id: int) -> HazardReport | None:
    """A report with everything its page shows: its place, inspection and every entry with its photos."""
    return db.session.scalar(
        select(HazardReport).where(HazardReport.id == report_id).options(
            joinedload(HazardReport.alliance), joinedload(HazardReport.street), joinedload(HazardReport.shop),
            joinedload(HazardReport.signboard), joinedload(HazardReport.inspection),
            selectinload(HazardReport.entries).selectinload(ReportEntry.photos)))


def signs_for_linking(report: HazardReport) -> list[Signboard]:
    """The signs the report may be about: its shop's, or every sign of its road when no shop was named."""
    query = (select(Signboard).join(Shop, Shop.id == Signboard.shop_id)
             .where(Signboard.street_id == report.street_id, Signboard.removed_at.is_(None))
             .options(joinedload(Signboard.shop))
             .order_by(func.length(Shop.house_number), Shop.house_number, Shop.id, Signboard.id))
    if report.shop_id is not None:
        query = query.where(Signboard.shop_id == report.shop_id)
    else:
        query = query.where(Signboard.alliance_id == report.alliance_id)
    return list(db.session.scalars(query))


def reports_of_sign(signboard_id: int, limit: int = 20) -> list[HazardReport]:
    """A sign's reports in every state, newest first."""
    return list(db.session.scalars(select(HazardReport).where(HazardReport.signboard_id == signboard_id)
                                   .order_by(HazardReport.id.desc()).limit(limit)))


@dataclass(frozen=True)
class NewReports:
    reports: list[HazardReport]
    total: int
    street_ids: list[int]


def new_reports(street_ids: Sequence[int], limit: int = 10) -> NewReports:
    """The reports waiting for triage on these streets: urgent first, then the oldest; two queries."""
    where = (HazardReport.street_id.in_(street_ids), HazardReport.state == ReportState.NEW)
    total = db.session.scalar(select(func.count()).select_from(HazardReport).where(*where)) or 0
    reports = list(db.session.scalars(
        select(HazardReport).where(*where).options(joinedload(HazardReport.alliance))
        .order_by(case((HazardReport.urgent.is_(True), 0), else_=1), HazardReport.created_at, HazardReport.id)
        .limit(limit))) if total else []
    return NewReports(reports, total, list(street_ids))


def sign_on_street(signboard_id: int | None, street_id: int) -> Signboard | None:
    """The sign chosen in a form, if it is one of the street's."""
    if signboard_id is None:
        return None
    signboard = db.session.get(Signboard, signboard_id)
    return signboard if signboard is not None and signboard.street_id == street_id else None
