"""An Open311 GeoReport v2 API of the hazard reports, so that city systems can read (and post) them.

Each street is a jurisdiction (its code, `SafetySettings.code`). Reading needs no account; what it shows is what
the public list shows: the report's words and first photo only once the officer published them, and never who
sent it or how to reach them. Posting needs a key the street issued (reports.api_keys). Every answer comes as
JSON or XML (`.json`, `.xml`); a refusal is the spec's list of errors, with the HTTP status as its code.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # noqa: S405 - we only build XML here, never parse it
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException

from merchant_alliance.accounts.models import Alliance, Street
from merchant_alliance.errors import ERROR_MESSAGES, BadInput, DomainError
from merchant_alliance.extensions import csrf, db, limiter
from merchant_alliance.inputs import MAX_ID, MAX_PAGE
from merchant_alliance.photos.models import Photo
from merchant_alliance.reports import api_keys
from merchant_alliance.reports.models import OPEN_STATES, HazardReport, ReportEntry, ReportState, Service, report_photos
from merchant_alliance.safety.models import SafetySettings
from merchant_alliance.timeutil import FIRST_DAY, LAST_DAY, SHANGHAI, local_day_start_utc, utcnow
from merchant_alliance.urls import external_url

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

FORMAT = "<any(json, xml):fmt>"
GROUP = "signboards"
DEFAULT_DAYS = 90  # the spec's window when no date is asked for
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
NEXT_PAGE_KEEPS = ("jurisdiction_id", "service_code", "status", "start_date", "end_date", "page_size")
POST_LIMIT = "60 per minute"  # per API key (OPEN311_POST_LIMIT overrides)
# Search words of each service, for systems that match services by keyword (not translated: they are tags).
KEYWORDS = {
    Service.LOOSE: "signboard,loose,tilting,falling",
    Service.CORRODED: "signboard,rust,corrosion,cracks,broken",
    Service.ELECTRICAL: "signboard,electrical,wires,sparks,light",
    Service.OBSTRUCTING: "signboard,low,obstruction,pavement,window",
    Service.OTHER: "signboard,other",
}
# Characters XML 1.0 cannot hold: a report typed with one must not make the whole list unreadable.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

JURISDICTION_REQUIRED = _l("jurisdiction_id required")
UNKNOWN_JURISDICTION = _l("No jurisdiction has this jurisdiction_id.")
NO_SUCH_REQUEST = _l("No service request has this service_request_id.")
BAD_KEY = _l("A valid api_key of this jurisdiction is required.")
BAD_DATE = _l("%(name)s must be an ISO 8601 date and time, such as 2026-11-26T08:00:00+08:00, from %(first)s to "
              "%(last)s.")
DATES_REVERSED = _l("end_date must not be before start_date.")
BAD_NUMBER = _l("%(name)s must be a whole number from %(min)s to %(max)s.")
BAD_IDS = _l("service_request_id must be up to %(n)s ids, separated by commas.")
BAD_CODE = _l("Unknown service_code: use one of %(codes)s.")
BAD_STATUS = _l("status must be open, closed, or both separated by a comma.")
ADDRESS_NEEDED = _l("address_string is required: the road and house number, such as 愚园路1018号.")
BAD_POSITION = _l("lat and long must be numbers: a latitude from -90 to 90 and a longitude from -180 to 180.")


class Open311Error(Exception):
    """A refusal, answered as the spec's error list."""

    def __init__(self, code: int, description: str | LazyString, **params: object) -> None:
        super().__init__(str(description))
        self.code, self.description, self.params = code, description, params

    def text(self) -> str:
        text = str(self.description)
        return text % self.params if self.params else text


# --- answers ----------------------------------------------------------------------------------------------


def _answer(fmt: str, root: str, item: str, rows: Sequence[dict[str, Any]], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(_xml(root, item, rows), status, content_type="text/xml; charset=utf-8")
    return Response(json.dumps(list(rows), ensure_ascii=False), status, content_type="application/json; charset=utf-8")


def _xml(root_name: str, item_name: str, rows: Iterable[dict[str, Any]]) -> bytes:
    root = ET.Element(root_name)
    for row in rows:
        element = ET.SubElement(root, item_name)
        for name, value in row.items():
            if value is not None:  # absent, as the spec's XML has it (JSON says null)
                ET.SubElement(element, name).text = _xml_text(value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _xml_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("", str(value))


def _errors(fmt: str, code: int, description: str) -> Response:
    return _answer(fmt, "errors", "error", [{"code": code, "description": description}], code)


def _format() -> str:
    return "xml" if (request.view_args or {}).get("fmt") == "xml" else "json"


@bp.errorhandler(Open311Error)
def refused(error: Open311Error) -> Response:
    db.session.rollback()
    return _errors(_format(), error.code, error.text())


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Errors before the view (a rate limit, an upload too large, unstorable text) in the API's own shape."""
    code = error.code or 500
    text = error.text() if isinstance(error, BadInput) else str(ERROR_MESSAGES.get(code, error.name))
    response = _errors(_format(), code, text)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


# --- which street -----------------------------------------------------------------------------------------


def jurisdiction(jurisdiction_id: str | None) -> Street:
    """The street whose code is `jurisdiction_id` (any case); without one, the only street there is."""
    code = (jurisdiction_id or "").strip().upper()
    if not code:
        streets = db.session.scalars(select(Street).order_by(Street.id).limit(2)).all()
        if len(streets) != 1:
            raise Open311Error(400, JURISDICTION_REQUIRED)
        return streets[0]
    matches = func.upper(SafetySettings.code) == code
    default = re.fullmatch(r"ST0*([0-9]{1,9})", code)  # a street that never set its code has ST and its number
    if default:
        matches = or_(matches, and_(Street.id == int(default.group(1)), SafetySettings.street_id.is_(None)))
    street = db.session.scalar(select(Street).outerjoin(SafetySettings, SafetySettings.street_id == Street.id)
                               .where(matches).limit(1))
    if street is None:
        raise Open311Error(404, UNKNOWN_JURISDICTION)
    return street


# --- services ---------------------------------------------------------------------------------------------


@bp.get(f"/services.{FORMAT}")
def services(fmt: str) -> Response:
    jurisdiction(request.args.get("jurisdiction_id"))
    rows = [{"service_code": service.value, "service_name": service.label, "description": service.description,
             "metadata": False, "type": "realtime", "keywords": KEYWORDS[service], "group": GROUP}
            for service in Service]
    return _answer(fmt, "services", "service", rows)


# --- reading requests -------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    """A naive UTC moment as ISO 8601 in Shanghai time, with its offset (2026-11-26T16:00:00+08:00)."""
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI).isoformat(timespec="seconds")


def _fields(report: HazardReport, media_photo_id: int | None, street: Street) -> dict[str, Any]:
    """One request as GeoReport v2 has it: the words and photo only once published, nothing about who sent it."""
    published = report.published
    fields: dict[str, Any] = {
        "service_request_id": report.id,
        "status": "open" if ReportState(report.state).open else "closed",
        "status_notes": (_("Merged with report %(n)s: the same sign was reported again.", n=report.merged_into_id)
                         if report.merged_into_id else report.public_note or ""),
        "service_name": Service(report.service).label,
        "service_code": Service(report.service).value,
        "description": report.description if published else "",
        "agency_responsible": street.name,
        "service_notice": "",
        "requested_datetime": _iso(report.created_at),
        "updated_datetime": _iso(report.updated_at),
        "expected_datetime": None,
        "address": report.address,
        "address_id": "",
        "zipcode": "",
    }
    if report.latitude is not None and report.longitude is not None:
        fields["lat"], fields["long"] = float(report.latitude), float(report.longitude)
    fields["media_url"] = (external_url("photos.photo", photo_id=media_photo_id, size="display")
                           if published and media_photo_id else "")
    return fields


def _first_public_photo():
    """The first public photo of the report in the row (a column of the same query, not one query per row)."""
    return (select(func.min(Photo.id)).select_from(report_photos)
            .join(ReportEntry, ReportEntry.id == report_photos.c.entry_id)
            .join(Photo, Photo.id == report_photos.c.photo_id)
            .where(ReportEntry.report_id == HazardReport.id, Photo.public.is_(True))
            .correlate(HazardReport).scalar_subquery())


def _reports(street: Street):
    return (select(HazardReport, _first_public_photo()).where(HazardReport.street_id == street.id)
            .options(joinedload(HazardReport.alliance)))


def _int(name: str, default: int | None, minimum: int, maximum: int) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    if not re.fullmatch(r"[0-9]{1,10}", text) or not minimum <= int(text) <= maximum:
        raise Open311Error(400, BAD_NUMBER, name=name, min=minimum, max=maximum)
    return int(text)


def _listed(name: str) -> list[str]:
    return [part.strip() for part in request.args.get(name, "").split(",") if part.strip()]


def _moment(name: str, *, end: bool = False) -> datetime | None:
    """The naive UTC moment asked for in `name`: a date and time with its offset (Shanghai time without one), or
    a day (its start; the end of it for end_date)."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        if len(text) > 40:
            raise ValueError(text)
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            day = date.fromisoformat(text)
            if not FIRST_DAY <= day <= LAST_DAY:
                raise ValueError(text)
            return local_day_start_utc(day + timedelta(days=1)) - timedelta(microseconds=1) if end \
                else local_day_start_utc(day)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=SHANGHAI)
        if not FIRST_DAY <= moment.date() <= LAST_DAY:
            raise ValueError(text)
        return moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise Open311Error(400, BAD_DATE, name=name, first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()) \
            from None


def _filtered(query):
    """The list's filters from the query string; with service_request_id, only those ids (as the spec says)."""
    ids = _listed("service_request_id")
    if ids:
        if len(ids) > MAX_PAGE_SIZE or not all(re.fullmatch(r"[0-9]{1,10}", i) and int(i) <= MAX_ID for i in ids):
            raise Open311Error(400, BAD_IDS, n=MAX_PAGE_SIZE)
        return query.where(HazardReport.id.in_({int(i) for i in ids}))
    codes = _listed("service_code")
    if codes:
        known = {service.value for service in Service}
        if not set(codes) <= known:
            raise Open311Error(400, BAD_CODE, codes=", ".join(service.value for service in Service))
        query = query.where(HazardReport.service.in_([Service(code) for code in codes]))
    statuses = {status.lower() for status in _listed("status")}
    if not statuses <= {"open", "closed"}:
        raise Open311Error(400, BAD_STATUS)
    if statuses == {"open"}:
        query = query.where(HazardReport.state.in_(list(OPEN_STATES)))
    elif statuses == {"closed"}:
        query = query.where(HazardReport.state.not_in(list(OPEN_STATES)))
    start, end = _moment("start_date"), _moment("end_date", end=True)
    if start is not None and end is not None and end < start:
        raise Open311Error(400, DATES_REVERSED)
    if start is None:  # the spec's default: the last 90 days (before end_date, when one is given)
        start = (end or utcnow()) - timedelta(days=DEFAULT_DAYS)
    query = query.where(HazardReport.created_at >= start)
    if end is not None:
        query = query.where(HazardReport.created_at <= end)
    return query


@bp.get(f"/requests.{FORMAT}")
def requests(fmt: str) -> Response:
    """Requests of one jurisdiction, newest first, a page at a time: `page_size` (up to 200) and either `after`
    (the last service_request_id of the page before: cheap at any depth) or `page`."""
    street = jurisdiction(request.args.get("jurisdiction_id"))
    page_size = _int("page_size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    after = _int("after", None, 1, MAX_ID)
    page = _int("page", 1, 1, MAX_PAGE)
    query = (_filtered(_reports(street)).order_by(HazardReport.created_at.desc(), HazardReport.id.desc())
             .limit(page_size))
    if after is not None:  # the rows after that one in this order (an id of no row: from the start)
        then = select(HazardReport.created_at).where(HazardReport.id == after).scalar_subquery()
        query = query.where(or_(then.is_(None), HazardReport.created_at < then,
                                and_(HazardReport.created_at == then, HazardReport.id < after)))
    else:
        query = query.offset((page - 1) * page_size)
    rows = db.session.execute(query).all()
    response = _answer(fmt, "service_requests", "request", [_fields(report, photo, street) for report, photo in rows])
    if len(rows) == page_size:
        following = {key: value for key, value in request.args.items() if key in NEXT_PAGE_KEEPS}
        response.headers["Link"] = f'<{url_for(".requests", fmt=fmt, **following, after=rows[-1][0].id)}>; rel="next"'
    return response


@bp.get(f"/requests/<int:service_request_id>.{FORMAT}")
def one_request(service_request_id: int, fmt: str) -> Response:
    """One request, as a list of one (the spec's shape); 404 when it is not this jurisdiction's."""
    street = jurisdiction(request.args.get("jurisdiction_id"))
    row = db.session.execute(_reports(street).where(HazardReport.id == service_request_id)).first()
    if row is None:
        raise Open311Error(404, NO_SUCH_REQUEST)
    return _answer(fmt, "service_requests", "request", [_fields(row[0], row[1], street)])


# --- posting a request ------------------------------------------------------------------------------------


def _post_limit() -> str:
    return current_app.config.get("OPEN311_POST_LIMIT", POST_LIMIT)


def _key_bucket() -> str:
    """Each key has its own allowance (counted under the key's hash, never the secret); no key: the address."""
    secret = request.form.get("api_key", "")
    return f"open311:{api_keys.hash_of(secret)[:32]}" if secret else f"open311:{get_remote_address()}"


def _road_and_house(street: Street, address: str) -> tuple[int, str]:
    """The street's road whose name begins the address (the longest that does), and the house number after it;
    the street's first road when none does."""
    roads = db.session.scalars(select(Alliance).where(Alliance.street_id == street.id).order_by(Alliance.id)).all()
    if not roads:
        raise Open311Error(400, ADDRESS_NEEDED)
    named = sorted((road for road in roads if road.road and address.startswith(road.road)),
                   key=lambda road: len(road.road), reverse=True)
    road = named[0] if named else roads[0]
    house = address[len(road.road):] if named else address
    return road.id, house.strip().removesuffix("号").strip()


def _position() -> tuple[str, str] | None:
    lat, lon = request.form.get("lat", "").strip(), request.form.get("long", "").strip()
    if not lat and not lon:
        return None
    number = r"[+-]?[0-9]{1,3}(\.[0-9]{1,12})?"
    if not (re.fullmatch(number, lat) and re.fullmatch(number, lon)
            and -90 <= float(lat) <= 90 and -180 <= float(lon) <= 180):
        raise Open311Error(400, BAD_POSITION)
    return lat, lon


def _reporter() -> tuple[str, str]:
    first, last = request.form.get("first_name", "").strip(), request.form.get("last_name", "").strip()
    # A Chinese name is written family name first, without a space.
    chinese = any("\u4e00" <= char <= "\u9fff" for char in first + last)
    name = f"{last}{first}" if chinese else " ".join(part for part in (first, last) if part)
    contact = " / ".join(part for part in (request.form.get("phone", "").strip(),
                                           request.form.get("email", "").strip()) if part)
    return name, contact


@bp.post(f"/requests.{FORMAT}")
@csrf.exempt  # a city system posts with its API key, not from one of our pages
@limiter.limit(_post_limit, key_func=_key_bucket)
def post_request(fmt: str) -> Response:
    """A report posted by a city system with its street's API key: the case's id (a report of a place with an open
    case joins that case)."""
    from merchant_alliance.reports import services as reports

    street = jurisdiction(request.form.get("jurisdiction_id") or request.args.get("jurisdiction_id"))
    key = api_keys.authenticate(street, request.form.get("api_key"))
    if key is None:
        raise Open311Error(403, BAD_KEY)
    address = request.form.get("address_string", "").strip()
    if not address:
        raise Open311Error(400, ADDRESS_NEEDED)
    alliance_id, house_number = _road_and_house(street, address)
    position = _position()
    name, contact = _reporter()
    try:
        entry = reports.submit(
            street, alliance_id=alliance_id, service=request.form.get("service_code", "").strip(),
            description=request.form.get("description", ""), photos=request.files.getlist("media"),
            house_number=house_number, reporter_name=name, reporter_contact=contact,
            share_location=position is not None, latitude=position[0] if position else None,
            longitude=position[1] if position else None, client=reports.client_key(f"api-key:{key.id}"),
            api_key=key)
    except DomainError as error:
        raise Open311Error(400, str(error)) from None
    return _answer(fmt, "service_requests", "request",
                   [{"service_request_id": entry.report_id, "service_notice": "", "account_id": None}], 201)
