"""Receiving hazard reports from anyone, and the street office's triage of them.

Anyone may report, without an account: the report is refused before anything is written when it lacks a photo
or a place, says too much, or its photo is not a photo (the image pipeline's rules: bombs, HEIC, GPS stripped).
A report of a place that already has an open case joins that case as one more entry (the partial unique index
on open cases makes this hold when two arrive at once), and the same person sending the same thing twice gets
their first entry back. Each entry has a private follow link. Rate limits per client are the views' (Flask-
Limiter); the entry keeps a keyed hash of the client, never the address itself.

Triage is a workflow on the case: accept it onto a sign, dismiss it with a reason said publicly, or open a
follow-up inspection; finishing that inspection resolves the case. Each sign counts its open cases
(Signboard.open_reports), kept here in the same transaction as every move.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Alliance, Street, User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.notifications.services import notify, page
from merchant_alliance.photos.models import Photo
from merchant_alliance.photos.services import prepare_photos, save_photos
from merchant_alliance.reports.models import (
    OPEN_STATES,
    ApiKey,
    HazardReport,
    ReportEntry,
    ReportState,
    Service,
    report_photos,
)
from merchant_alliance.safety.models import Inspection, InspectionKind, InspectionState
from merchant_alliance.shops.models import Shop, Signboard
from merchant_alliance.storage.images import gps_position
from merchant_alliance.timeutil import utcnow
from merchant_alliance.workflow import Attempt, Transition, Workflow, may

R = ReportState

AUDIT_LABELS = {
    "report.received": _l("received a hazard report"),
    "report.joined": _l("added a report to an open case"),
    "report.linked": _l("linked the report to a sign"),
    "report.merged": _l("merged the report into another case"),
    "report.published": _l("published the report's photos and words"),
    "report.unpublished": _l("hid the report's photos and words"),
    "hazard_report.accept": _l("accepted the report"),
    "hazard_report.dismiss": _l("dismissed the report"),
    "hazard_report.inspect": _l("opened a follow-up inspection of the report"),
    "hazard_report.resolve": _l("resolved the report by an inspection"),
    "hazard_report.reopen": _l("took the report back to triage"),
}
AUDIT_OBJECTS = {"hazardreport": _l("Hazard report")}

MAX_DESCRIPTION = 1000
MAX_PHOTOS = 3
SAME_SUBMISSION_WITHIN = timedelta(minutes=10)  # a double tap, or a resend after a lost answer

PHOTO_NEEDED = _l("Please add a photo of the sign.")
TOO_MANY_PHOTOS = _l("Please choose at most %(n)s photos.")
SAY_WHAT = _l("Please say what you saw.")
TOO_LONG = _l("Please keep this under %(n)s characters.")
WHERE = _l("Please choose the shop, or type the house number.")
NOT_ON_STREET = _l("This place is not on this street.")
SIGN_REMOVED = _l("This sign was removed from the street.")
BAD_POSITION = _l("The location could not be read; send the report without it.")

# --- receiving -----------------------------------------------------------------------------------------


def client_key(address: str) -> str:
    """A keyed hash of the client's address: enough to tell one sender's reports apart, useless to anyone
    without the app's secret key."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, (address or "").encode(), hashlib.sha256).hexdigest()


def house_key(number: str) -> str:
    """A typed house number as a comparable key: full-width and spaces folded, a trailing 号 dropped."""
    folded = unicodedata.normalize("NFKC", number or "").strip().lower()
    folded = re.sub(r"\s+", "", folded)
    return folded.removesuffix("号")


def submit(street: Street, *, alliance_id: int, service: str, description: str, photos: Sequence[FileStorage],
           house_number: str = "", shop_id: int | None = None, signboard_id: int | None = None,
           urgent: bool = False, reporter_name: str = "", reporter_contact: str = "", share_location: bool = False,
           latitude: object = None, longitude: object = None, client: str = "",
           api_key: ApiKey | None = None) -> ReportEntry:
    """Receive one report about a place on the street; committed. Returns the entry (its token is the
    reporter's follow link). A place with a case still open gets this as one more entry of that case.

    `share_location`: the reporter chose to share where they are (the given position, else the photo's GPS);
    otherwise no position is kept. `api_key`: posted by a city system through Open311 (a photo is optional)."""
    try:
        service = Service(service)
    except ValueError:
        raise DomainError(_l("Please choose what kind of danger it is.")).on("service") from None
    description = (description or "").strip()
    if not description:
        raise DomainError(SAY_WHAT).on("description")
    if len(description) > MAX_DESCRIPTION:
        raise DomainError(TOO_LONG, n=MAX_DESCRIPTION).on("description")
    reporter_name, reporter_contact = (reporter_name or "").strip(), (reporter_contact or "").strip()
    if len(reporter_name) > 50:
        raise DomainError(TOO_LONG, n=50).on("reporter_name")
    if len(reporter_contact) > 100:
        raise DomainError(TOO_LONG, n=100).on("reporter_contact")
    alliance, shop, signboard, house_number = _place(street, alliance_id, shop_id, signboard_id, house_number)
    files = [upload for upload in photos if upload is not None and upload.filename]
    if not files and api_key is None:
        raise DomainError(PHOTO_NEEDED).on("photos")
    if len(files) > MAX_PHOTOS:
        raise DomainError(TOO_MANY_PHOTOS, n=MAX_PHOTOS).on("photos")
    position = _position(latitude, longitude, files) if share_location else None
    prepared = prepare_photos(files)  # the slow part, before anything is written; refuses what is not a photo
    place_key = (f"sign:{signboard.id}" if signboard else f"shop:{shop.id}" if shop
                 else f"house:{alliance.id}:{house_key(house_number)}")[:60]

    again = _same_submission(street.id, place_key, client, description)
    if again is not None:  # a double submit: the first entry stands, nothing new is written
        return again
    stored = save_photos(None, prepared, alliance=alliance, shop=shop, held=True) \
        if prepared.images else []
    entry = ReportEntry(token=secrets.token_urlsafe(24), description=description, reporter_name=reporter_name,
                        reporter_contact=reporter_contact, client=client, api_key_id=api_key.id if api_key else None)
    entry.photos.extend(stored)
    report, joined = _case_for(street, alliance, shop, signboard, house_number, place_key, service, description,
                               urgent, position)
    entry.report_id = report.id
    db.session.add(entry)
    db.session.flush()
    audit.record(None, "report.joined" if joined else "report.received", report, alliance_id=alliance.id,
                 street_id=street.id, entry=entry.id, urgent=urgent or None, api_key=api_key.id if api_key else None)
    if not joined or urgent:
        from merchant_alliance.safety.queries import officers_of_street

        notify(officers_of_street(street.id),
               N_("URGENT: a hazard report about %(address)s is waiting for triage.") if urgent
               else N_("A hazard report about %(address)s is waiting for triage."),
               page("reports.report", report_id=report.id), address=report.address)
    db.session.commit()
    return entry


def _place(street: Street, alliance_id: int, shop_id: int | None, signboard_id: int | None,
           house_number: str) -> tuple[Alliance, Shop | None, Signboard | None, str]:
    """The road, shop and sign reported, each checked to be on the street; the house number shown."""
    signboard = db.session.get(Signboard, signboard_id) if signboard_id else None
    if signboard_id and (signboard is None or signboard.street_id != street.id):
        raise DomainError(NOT_ON_STREET).on("shop")
    if signboard is not None:
        if signboard.removed_at is not None:
            raise DomainError(SIGN_REMOVED).on("shop")
        shop_id, alliance_id = signboard.shop_id, signboard.alliance_id
    shop = db.session.get(Shop, shop_id) if shop_id else None
    if shop_id and (shop is None or not shop.active):
        raise DomainError(NOT_ON_STREET).on("shop")
    if shop is not None:
        alliance_id = shop.alliance_id
    alliance = db.session.get(Alliance, alliance_id) if alliance_id else None
    if alliance is None or alliance.street_id != street.id:
        raise DomainError(NOT_ON_STREET).on("shop")
    if shop is not None:
        return alliance, shop, signboard, shop.house_number
    house_number = unicodedata.normalize("NFKC", house_number or "").strip()
    if not house_number:
        raise DomainError(WHERE).on("house_number")
    if len(house_number) > 30:
        raise DomainError(TOO_LONG, n=30).on("house_number")
    return alliance, None, None, house_number


def _position(latitude: object, longitude: object, files: Sequence[FileStorage]) -> tuple[Decimal, Decimal] | None:
    """Where the reporter was, when they chose to share it: the position sent, else the first photo's GPS."""
    if latitude not in (None, "") and longitude not in (None, ""):
        try:
            lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
        except (InvalidOperation, ValueError):
            raise DomainError(BAD_POSITION).on("photos") from None
        if not (lat.is_finite() and lon.is_finite() and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise DomainError(BAD_POSITION).on("photos")
        return lat.quantize(Decimal("0.000001")), lon.quantize(Decimal("0.000001"))
    for upload in files[:1]:
        found = gps_position(upload)
        if found is not None:
            return found
    return None


def _same_submission(street_id: int, place_key: str, client: str, description: str) -> ReportEntry | None:
    """The entry this client sent moments ago with the same words about the same place, if any."""
    if not client:
        return None
    return db.session.scalar(
        select(ReportEntry).join(HazardReport, HazardReport.id == ReportEntry.report_id)
        .where(HazardReport.street_id == street_id, HazardReport.place_key == place_key,
               HazardReport.state.in_(OPEN_STATES), ReportEntry.client == client,
               ReportEntry.description == description,
               ReportEntry.created_at >= utcnow() - SAME_SUBMISSION_WITHIN)
        .order_by(ReportEntry.id).limit(1))


def _case_for(street: Street, alliance: Alliance, shop: Shop | None, signboard: Signboard | None,
              house_number: str, place_key: str, service: Service, description: str, urgent: bool,
              position: tuple[Decimal, Decimal] | None) -> tuple[HazardReport, bool]:
    """The open case of the place, with one more entry counted (True), or a new case (False)."""
    for _ in range(3):  # a case closing or opening at the same moment: look again
        existing = db.session.scalar(select(HazardReport.id).where(
            HazardReport.street_id == street.id, HazardReport.place_key == place_key,
            HazardReport.state.in_(OPEN_STATES)))
        if existing is not None:
            values = {"entries_count": HazardReport.entries_count + 1, "updated_at": utcnow()}
            if urgent:
                values["urgent"] = True
            joined = db.session.execute(
                update(HazardReport).where(HazardReport.id == existing, HazardReport.state.in_(OPEN_STATES))
                .values(**values).execution_options(synchronize_session=False)).rowcount
            if joined == 1:
                report = db.session.get(HazardReport, existing)
                db.session.refresh(report)
                return report, True
            continue
        report = HazardReport(
            street_id=street.id, alliance_id=alliance.id, shop_id=shop.id if shop else None,
            signboard_id=signboard.id if signboard else None, house_number=house_number, place_key=place_key,
            service=service, description=description, urgent=urgent,
            latitude=position[0] if position else None, longitude=position[1] if position else None)
        try:
            with db.session.begin_nested():
                db.session.add(report)
        except IntegrityError:  # another report of the place opened its case a moment ago
            continue
        if signboard is not None:
            _count_open(signboard.id, +1)
        return report, False
    raise DomainError(_l("Many reports are arriving at once. Please send yours again."))


def _count_open(signboard_id: int | None, delta: int) -> None:
    """Keep the sign's count of open cases (in the caller's transaction)."""
    if signboard_id is None:
        return
    db.session.execute(update(Signboard).where(Signboard.id == signboard_id)
                       .values(open_reports=Signboard.open_reports + delta)
                       .execution_options(synchronize_session=False))
    signboard = db.session.identity_map.get(db.session.identity_key(Signboard, signboard_id))
    if signboard is not None:
        db.session.expire(signboard, ["open_reports"])


# --- what the reporter and the public see ---------------------------------------------------------------


def followed(token: str) -> ReportEntry | None:
    """The entry behind a follow link; None for any token no entry has (nothing told about why)."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(ReportEntry).where(ReportEntry.token == token))


# --- triage ----------------------------------------------------------------------------------------------

reports: Workflow[HazardReport] = Workflow(
    "hazard_report", HazardReport,
    not_now=_l("This is not possible while the report is “%(state)s”."),
    conflict=_l("Someone else changed this report a moment ago. Please look again."),
    describe=lambda report, transition: {"alliance_id": report.alliance_id, "street_id": report.street_id,
                                         "to": str(transition.target)},
)
reports.add(
    Transition(R.NEW, "accept", R.ACCEPTED, may("triage"), _l("Accept: to be inspected"), style="secondary"),
    Transition(R.NEW, "inspect", R.INSPECTING, may("triage"), _l("Inspect now")),
    Transition(R.ACCEPTED, "inspect", R.INSPECTING, may("triage"), _l("Inspect now")),
    Transition(R.NEW, "dismiss", R.DISMISSED, may("triage"), _l("Dismiss"), needs_reason=True, style="danger"),
    Transition(R.ACCEPTED, "dismiss", R.DISMISSED, may("triage"), _l("Dismiss"), needs_reason=True,
               style="danger"),
    Transition(R.INSPECTING, "resolve", R.RESOLVED, may("triage"), _l("Inspected"), button=False),
    Transition(R.INSPECTING, "reopen", R.ACCEPTED, may("triage"), _l("Back to triage"), button=False),
)
reports.allow("link", R.NEW, R.ACCEPTED)
reports.allow("publish", *ReportState)


@reports.guard("accept", "inspect")
def needs_a_sign(report: HazardReport, user: User, attempt) -> object:
    if report.signboard_id is None:
        return _l("Link the report to a sign first.")
    return None


@reports.after("dismiss", "resolve")
def closes_the_case(report: HazardReport, user: User, transition: Transition, attempt: Attempt) -> None:
    _count_open(report.signboard_id, -1)
    db.session.execute(update(HazardReport).where(HazardReport.id == report.id)
                       .values(closed_at=utcnow()).execution_options(synchronize_session=False))
    if transition.action == "dismiss" and not getattr(attempt, "merging", False):
        db.session.execute(update(HazardReport).where(HazardReport.id == report.id)
                           .values(public_note=attempt.reason.strip()[:1000])
                           .execution_options(synchronize_session=False))
    db.session.expire(report, ["closed_at", "public_note"])


def link(user: User, report: HazardReport, signboard: Signboard) -> HazardReport:
    """Say which sign the report is about; committed. When that sign already has an open case, this report's
    entries join it (the reporters then follow that case) and this one is closed as merged. Returns the case
    the entries are in."""
    if not authz.can(user, "triage", report):
        raise NotAllowed()
    if signboard.street_id != report.street_id:
        raise DomainError(NOT_ON_STREET).on("signboard")
    if signboard.removed_at is not None:
        raise DomainError(SIGN_REMOVED).on("signboard")
    if report.signboard_id == signboard.id:
        return report
    reports.hold(report, "link")
    other = db.session.scalar(select(HazardReport).where(
        HazardReport.street_id == report.street_id, HazardReport.place_key == f"sign:{signboard.id}",
        HazardReport.state.in_(OPEN_STATES), HazardReport.id != report.id))
    if other is not None:
        target = _merge(user, report, other)
        db.session.commit()
        return target
    _count_open(report.signboard_id, -1)
    _count_open(signboard.id, +1)
    before = report.signboard_id
    report.signboard_id, report.shop_id, report.alliance_id = signboard.id, signboard.shop_id, signboard.alliance_id
    report.house_number = signboard.shop.house_number
    report.place_key = f"sign:{signboard.id}"
    report.triaged_by_id, report.triaged_at = user.id, utcnow()
    audit.record(user, "report.linked", report, alliance_id=report.alliance_id, street_id=report.street_id,
                 signboard=signboard.id, before=before)
    db.session.commit()
    return report


@dataclass(frozen=True)
class Merging(Attempt):
    """The dismissal that closes a case merged into another: its reason is for the audit trail only (the pages say
    which case it joined, in the reader's language)."""

    merging: bool = True


def _merge(user: User, report: HazardReport, into: HazardReport) -> HazardReport:
    """Move the report's entries into the open case `into` and close the report as merged (caller commits)."""
    moved = db.session.execute(update(ReportEntry).where(ReportEntry.report_id == report.id)
                               .values(report_id=into.id).execution_options(synchronize_session=False)).rowcount
    db.session.execute(update(HazardReport).where(HazardReport.id == into.id).values(
        entries_count=HazardReport.entries_count + moved, urgent=HazardReport.urgent | report.urgent,
        updated_at=utcnow()).execution_options(synchronize_session=False))
    reports.perform(user, report, "dismiss", Merging(reason=f"merged into #{into.id}"), internal=True,
                    values={"merged_into_id": into.id}, details={"merged_into": into.id})
    audit.record(user, "report.merged", report, alliance_id=report.alliance_id, street_id=report.street_id,
                 into=into.id, entries=moved)
    db.session.expire_all()
    return into


def accept(user: User, report: HazardReport) -> None:
    """Keep the report for the sign's next inspection; the shop hears of it. Committed."""
    reports.perform(user, report, "accept", internal=True,  # a row of its own page, not a generic button
                    values={"triaged_by_id": user.id, "triaged_at": utcnow()})
    _tell_the_shop(report)
    db.session.commit()


def dismiss(user: User, report: HazardReport, reason: str) -> None:
    """Close the report with a reason the reporter and the public read. Committed."""
    reports.perform(user, report, "dismiss", Attempt(reason=reason),
                    values={"triaged_by_id": user.id, "triaged_at": utcnow()})
    db.session.commit()


def inspect(user: User, report: HazardReport) -> Inspection:
    """Open a follow-up inspection of the report's sign (or join the one under way); committed. Finishing that
    inspection resolves the report."""
    from merchant_alliance.safety import inspections

    reports.check(user, report, "inspect", internal=True)
    signboard = report.signboard
    inspection = db.session.scalar(select(Inspection).where(Inspection.signboard_id == signboard.id,
                                                            Inspection.state == InspectionState.OPEN))
    if inspection is None:
        inspection = inspections.start_for_sign(user, signboard, InspectionKind.FOLLOW_UP, commit=False)
    first = report.state == R.NEW
    reports.perform(user, report, "inspect", internal=True,
                    values={"inspection_id": inspection.id, "triaged_by_id": user.id, "triaged_at": utcnow()})
    if first:
        _tell_the_shop(report)
    db.session.commit()
    return inspection


def set_published(user: User, report: HazardReport, published: bool) -> None:
    """Show (or hide again) the report's photos and first words to the public, once the officer has checked they
    show no one's face or personal data. Committed."""
    if not authz.can(user, "triage", report):
        raise NotAllowed()
    photo_ids = select(report_photos.c.photo_id).join(ReportEntry, ReportEntry.id == report_photos.c.entry_id) \
        .where(ReportEntry.report_id == report.id)
    db.session.execute(update(Photo).where(Photo.id.in_(photo_ids)).values(public=published)
                       .execution_options(synchronize_session="fetch"))  # photos this session holds follow
    report.published = published
    audit.record(user, "report.published" if published else "report.unpublished", report,
                 alliance_id=report.alliance_id, street_id=report.street_id)
    db.session.commit()


def _tell_the_shop(report: HazardReport) -> None:
    from merchant_alliance.safety.queries import shop_people

    if report.shop_id is None:
        return
    notify(shop_people(report.shop_id, report.alliance_id),
           N_("Someone reported a possible danger on %(shop)s's sign; the street office will inspect it."),
           page("shops.shop", shop_id=report.shop_id, _anchor="safety"), shop=report.shop.name)


def inspection_finished(inspection: Inspection, user: User, transition: Transition, attempt: Attempt) -> None:
    """A hook on inspections: a finished one resolves the reports waiting on it; a cancelled one sends them back
    to triage."""
    waiting = list(db.session.scalars(select(HazardReport).where(HazardReport.inspection_id == inspection.id,
                                                                 HazardReport.state == R.INSPECTING)))
    for report in waiting:
        if transition.action == "cancel":
            reports.perform(user, report, "reopen", internal=True, values={"inspection_id": None})
        else:
            reports.perform(user, report, "resolve", internal=True)


def register_hooks() -> None:
    """Hook the reports onto the inspections' workflow (called by reports.init_app; again changes nothing)."""
    from merchant_alliance.safety.inspections import inspections

    inspections.add_after(inspection_finished, "pass", "fail", "cancel")
