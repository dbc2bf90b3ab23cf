"""The Open311 GeoReport v2 API as a city system uses it: it lists a street's services and reports in JSON and XML,
filters them, reads one, and posts a report with a key the street office issued. What a reporter typed about
themselves, and what the officer has not published, never leaves the app."""

from __future__ import annotations

import io
import json
import secrets
import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own answers in tests
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.reports import api_keys
from merchant_alliance.reports.models import ApiKey, HazardReport, ReportEntry, ReportState, Service
from merchant_alliance.safety.models import SafetySettings
from merchant_alliance.timeutil import utcnow
from tests.concurrency import at_once
from tests.factories import AllianceFactory
from tests.helpers import counted_queries, login_as
from tests.projects.helpers import fresh_jpeg

# Every field of a request in GeoReport v2, and the JSON type each has here (lat/long only with a position).
REQUEST_FIELDS = {
    "service_request_id": int, "status": str, "status_notes": str, "service_name": str, "service_code": str,
    "description": str, "agency_responsible": str, "service_notice": str, "requested_datetime": str,
    "updated_datetime": str, "expected_datetime": type(None), "address": str, "address_id": str, "zipcode": str,
    "media_url": str,
}
SERVICE_FIELDS = {"service_code": str, "service_name": str, "description": str, "metadata": bool, "type": str,
                  "keywords": str, "group": str}
REPORTER, CONTACT = "王秘密", "13811112222"


@pytest.fixture
def client(app):
    """A city system's client, reading English (messages and service names are in the client's language)."""
    client = app.test_client()
    client.set_cookie("lang", "en")
    return client


@pytest.fixture
def codes(world) -> dict[str, str]:
    """Side A's street is jurisdiction YUYUAN, side B's is OTHER."""
    db.session.add_all([SafetySettings(street_id=world.a.street.id, code="YUYUAN"),
                        SafetySettings(street_id=world.b.street.id, code="OTHER")])
    db.session.commit()
    return {"a": "YUYUAN", "b": "OTHER"}


def make_report(side, *, house: str = "1018", service: Service = Service.LOOSE, state: ReportState = ReportState.NEW,
                published: bool = False, description: str = "招牌松动", days_ago: float = 1,
                position: tuple[str, str] | None = None, photo: bool = True, note: str = "") -> HazardReport:
    """A case as the public form leaves it: one entry with the reporter's name, contact, client hash and follow
    token, and (optionally) a photo, public only when the report is published."""
    moment = utcnow() - timedelta(days=days_ago)
    report = HazardReport(street_id=side.street.id, alliance_id=side.alliance.id, house_number=house,
                          place_key=f"house:{side.alliance.id}:{house}", service=service, description=description,
                          state=state, published=published, public_note=note, created_at=moment, updated_at=moment,
                          latitude=Decimal(position[0]) if position else None,
                          longitude=Decimal(position[1]) if position else None)
    db.session.add(report)
    db.session.flush()
    entry = ReportEntry(report_id=report.id, token=secrets.token_urlsafe(24), description=description,
                        reporter_name=REPORTER, reporter_contact=CONTACT, client="c" * 64, created_at=moment)
    if photo:
        entry.photos.append(Photo(sha256="ab" * 32, backend="local", display_key=f"photos/{house}/display.jpg",
                                  thumb_key=f"photos/{house}/thumb.jpg", display_bytes=1, thumb_bytes=1, width=1,
                                  height=1, thumb_width=1, thumb_height=1, alliance_id=side.alliance.id,
                                  public=published))
    db.session.add(entry)
    db.session.commit()
    return report


def get(client, path: str, **args):
    return client.get(f"/open311/v2/{path}", query_string=args)


def listed(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "application/json; charset=utf-8"
    return json.loads(response.get_data())


def ids_of(response) -> list[int]:
    return [row["service_request_id"] for row in listed(response)]


def xml_rows(response, root: str, item: str) -> list[dict[str, str]]:
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.get_data().startswith(b"<?xml")
    tree = ET.fromstring(response.get_data())  # noqa: S314 - our own answer
    assert tree.tag == root
    assert all(child.tag == item for child in tree)
    return [{field.tag: field.text or "" for field in child} for child in tree]


def error_of(response, code: int, fmt: str = "json") -> str:
    """The spec's error list: one error whose code is the HTTP status; its description."""
    assert response.status_code == code, response.get_data(as_text=True)
    if fmt == "xml":
        (error,) = xml_rows(response, "errors", "error")
        assert error["code"] == str(code)
        return error["description"]
    (error,) = json.loads(response.get_data())
    assert set(error) == {"code", "description"} and error["code"] == code
    return error["description"]


# --- services ------------------------------------------------------------------------------------------------


def test_a_city_system_reads_the_service_list_in_json(client, codes):
    """Every kind of danger is a realtime service of the signboards group, with no extra questions (metadata)."""
    rows = listed(get(client, "services.json", jurisdiction_id="YUYUAN"))
    assert [row["service_code"] for row in rows] == [service.value for service in Service]
    for row in rows:
        assert {name: type(value) for name, value in row.items()} == SERVICE_FIELDS
        assert row["metadata"] is False and row["type"] == "realtime" and row["group"] == "signboards"
    assert (rows[0]["service_name"], rows[0]["description"]) == (
        "Loose or about to fall", "The sign or part of it is loose, tilting or hanging.")


def test_the_service_list_in_xml_has_the_specs_elements(client, codes):
    rows = xml_rows(get(client, "services.xml", jurisdiction_id="yuyuan"), "services", "service")
    assert [row["service_code"] for row in rows] == [service.value for service in Service]
    assert all(set(row) == set(SERVICE_FIELDS) and row["metadata"] == "false" for row in rows)


# --- reading requests ----------------------------------------------------------------------------------------


def test_every_georeport_field_of_a_published_request_in_json(client, world, codes):
    """A published report with a position: every GeoReport v2 field, typed, in the list and on its own."""
    report = make_report(world.a, published=True, position=("31.219876", "121.431234"), description="灯箱电线外露",
                         service=Service.ELECTRICAL, note="已安排复查", state=ReportState.ACCEPTED)
    for rows in (listed(get(client, "requests.json", jurisdiction_id="YUYUAN")),
                 listed(get(client, f"requests/{report.id}.json", jurisdiction_id="YUYUAN"))):
        (row,) = rows
        assert {name: type(value) for name, value in row.items()} == {**REQUEST_FIELDS, "lat": float, "long": float}
        assert row["service_request_id"] == report.id
        assert (row["status"], row["status_notes"]) == ("open", "已安排复查")
        assert (row["service_code"], row["service_name"]) == ("electrical", "Electrical danger")
        assert row["description"] == "灯箱电线外露"
        assert row["agency_responsible"] == world.a.street.name
        assert row["address"] == "愚园路1018号"
        assert (row["lat"], row["long"]) == (31.219876, 121.431234)
        assert row["requested_datetime"].endswith("+08:00") and row["updated_datetime"].endswith("+08:00")
        photo_id = report.entries[0].photos[0].id
        assert row["media_url"] == f"http://localhost/photos/{photo_id}/display"


def test_times_are_shanghai_time_with_the_offset(client, world, codes):
    report = make_report(world.a)
    report.created_at = report.updated_at = report.created_at.replace(hour=20, minute=30, second=5, microsecond=0)
    db.session.commit()
    (row,) = listed(get(client, "requests.json", jurisdiction_id="YUYUAN"))
    day = report.created_at.date() + timedelta(days=1)  # 20:30 UTC is 04:30 the next morning in Shanghai
    assert row["requested_datetime"] == f"{day.isoformat()}T04:30:05+08:00"


def test_every_georeport_field_in_xml(client, world, codes):
    """The XML list has a <request> per report with the spec's element names; no position: no lat/long."""
    report = make_report(world.a, published=True, state=ReportState.DISMISSED, note="非招牌问题")
    for response in (get(client, "requests.xml", jurisdiction_id="YUYUAN"),
                     get(client, f"requests/{report.id}.xml", jurisdiction_id="YUYUAN")):
        (row,) = xml_rows(response, "service_requests", "request")
        assert set(row) == set(REQUEST_FIELDS) - {"expected_datetime"}
        assert (row["service_request_id"], row["status"], row["status_notes"]) == (str(report.id), "closed",
                                                                                     "非招牌问题")
        assert row["description"] == "招牌松动" and row["media_url"].endswith("/display")


def test_text_xml_cannot_hold_is_left_out_of_the_xml(client, world, codes):
    """A control character typed into a report does not make the city's whole XML list unreadable."""
    make_report(world.a, published=True, description="招牌\x0b松动\x01")
    (row,) = xml_rows(get(client, "requests.xml", jurisdiction_id="YUYUAN"), "service_requests", "request")
    assert row["description"] == "招牌松动"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_nothing_private_in_any_answer(client, world, codes, fmt):
    """The reporter's name, contact, follow token and client hash never leave the app; an unpublished report's
    words and photo stay with the officer; a later entry's words are never shown, even once published."""
    hidden = make_report(world.a, description="秘密的描述", house="7")
    shown = make_report(world.a, published=True, description="公开的描述", house="9")
    db.session.add(ReportEntry(report_id=shown.id, token=secrets.token_urlsafe(24), description="第二位的描述",
                               reporter_name="李另一位", reporter_contact="li@example.com", client="d" * 64))
    db.session.commit()
    bodies = [get(client, path, jurisdiction_id="YUYUAN").get_data()
              for path in (f"requests.{fmt}", f"requests/{hidden.id}.{fmt}", f"requests/{shown.id}.{fmt}")]
    private = [REPORTER, CONTACT, "李另一位", "li@example.com", "第二位的描述", "秘密的描述", "c" * 64, "d" * 64,
               *(entry.token for report in (hidden, shown) for entry in report.entries),
               f"/photos/{hidden.entries[0].photos[0].id}/"]
    for body in bodies:
        for secret in private:
            assert secret.encode() not in body
    assert "公开的描述".encode() in bodies[0] and "公开的描述".encode() in bodies[2]


def test_a_published_report_without_a_public_photo_has_no_media_url(client, world, codes):
    """Only the publish step makes a photo public; until it has, the API links to none."""
    report = make_report(world.a, published=True)
    report.entries[0].photos[0].public = False
    db.session.commit()
    (row,) = listed(get(client, "requests.json", jurisdiction_id="YUYUAN"))
    assert row["media_url"] == ""


def test_another_streets_reports_are_not_in_a_jurisdiction(client, world, codes):
    ours, theirs = make_report(world.a), make_report(world.b)
    assert ids_of(get(client, "requests.json", jurisdiction_id="YUYUAN")) == [ours.id]
    assert ids_of(get(client, "requests.json", jurisdiction_id="OTHER")) == [theirs.id]
    assert ids_of(get(client, "requests.json", jurisdiction_id="YUYUAN", service_request_id=f"{theirs.id}")) == []
    for fmt in ("json", "xml"):
        response = get(client, f"requests/{theirs.id}.{fmt}", jurisdiction_id="YUYUAN")
        assert error_of(response, 404, fmt) == "No service request has this service_request_id."
    assert error_of(get(client, "requests/999999.json", jurisdiction_id="YUYUAN"), 404)


# --- jurisdictions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["services.json", "requests.json", "requests/1.json"])
def test_with_several_streets_the_jurisdiction_must_be_named(client, world, codes, path):
    assert error_of(get(client, path), 400) == "jurisdiction_id required"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_jurisdiction_is_a_404(client, world, codes, fmt):
    assert error_of(get(client, f"requests.{fmt}", jurisdiction_id="NOWHERE"), 404, fmt) == \
        "No jurisdiction has this jurisdiction_id."


def test_a_street_that_never_set_its_code_answers_to_its_default_one(client, world):
    """Without safety settings a street's code is ST and its number, as on its certificates."""
    report = make_report(world.a)
    assert ids_of(get(client, "requests.json", jurisdiction_id=f"st{world.a.street.id:03d}")) == [report.id]
    db.session.add(SafetySettings(street_id=world.a.street.id, code="YUYUAN"))
    db.session.commit()
    assert error_of(get(client, "requests.json", jurisdiction_id=f"ST{world.a.street.id:03d}"), 404)


def test_with_one_street_the_jurisdiction_may_be_left_out(client):
    alliance = AllianceFactory()
    side = type("Side", (), {"street": alliance.street, "alliance": alliance})
    report = make_report(side)
    assert ids_of(get(client, "requests.json")) == [report.id]
    assert len(listed(get(client, "services.json"))) == len(Service)


# --- filters and pages ---------------------------------------------------------------------------------------


@pytest.fixture
def mixed(world, codes) -> dict[str, HazardReport]:
    a = world.a
    return {
        "new": make_report(a, house="1", days_ago=1),
        "inspecting": make_report(a, house="2", state=ReportState.INSPECTING, service=Service.CORRODED, days_ago=5),
        "resolved": make_report(a, house="3", state=ReportState.RESOLVED, service=Service.CORRODED, days_ago=20),
        "dismissed": make_report(a, house="4", state=ReportState.DISMISSED, service=Service.OTHER, days_ago=40),
        "old": make_report(a, house="5", days_ago=200),
    }


@pytest.mark.parametrize(("args", "expected"), [
    ({}, ["new", "inspecting", "resolved", "dismissed"]),  # the last 90 days, newest first
    ({"status": "open"}, ["new", "inspecting"]),
    ({"status": "closed"}, ["resolved", "dismissed"]),
    ({"status": "open,closed"}, ["new", "inspecting", "resolved", "dismissed"]),
    ({"service_code": "corroded"}, ["inspecting", "resolved"]),
    ({"service_code": "loose,other"}, ["new", "dismissed"]),
    ({"service_code": "corroded", "status": "closed"}, ["resolved"]),
    ({"start_date": "days:30"}, ["new", "inspecting", "resolved"]),
    ({"start_date": "days:300", "end_date": "days:10"}, ["resolved", "dismissed", "old"]),
    ({"end_date": "days:10"}, ["resolved", "dismissed"]),  # the 90 days before end_date
    ({"ids": ["old", "new"], "status": "closed"}, ["new", "old"]),  # ids override every other filter
])
def test_filters(client, mixed, args, expected):
    query = {"jurisdiction_id": "YUYUAN"}
    for name, value in args.items():
        if name == "ids":
            query["service_request_id"] = ",".join(str(mixed[key].id) for key in value)
        elif str(value).startswith("days:"):
            query[name] = (utcnow() - timedelta(days=int(value[5:]))).replace(microsecond=0).isoformat() + "Z"
        else:
            query[name] = value
    assert ids_of(get(client, "requests.json", **query)) == [mixed[key].id for key in expected]


def test_dates_in_shanghai_time_and_whole_days(client, world, codes):
    """A date alone is a whole Shanghai day; a time without an offset is Shanghai time."""
    report = make_report(world.a)
    report.created_at = report.created_at.replace(hour=17, minute=0, second=0, microsecond=0)  # 01:00 the next day
    db.session.commit()
    local_day = (report.created_at + timedelta(hours=8)).date()
    assert ids_of(get(client, "requests.json", jurisdiction_id="YUYUAN", start_date=local_day.isoformat(),
                      end_date=local_day.isoformat())) == [report.id]
    assert ids_of(get(client, "requests.json", jurisdiction_id="YUYUAN",
                      end_date=(local_day - timedelta(days=1)).isoformat())) == []
    assert ids_of(get(client, "requests.json", jurisdiction_id="YUYUAN",
                      start_date=f"{local_day.isoformat()}T01:00:00")) == [report.id]
    assert ids_of(get(client, "requests.json", jurisdiction_id="YUYUAN",
                      start_date=f"{local_day.isoformat()}T01:00:01")) == []


@pytest.mark.parametrize(("args", "message"), [
    ({"start_date": "yesterday"}, "start_date must be an ISO 8601"),
    ({"end_date": "2026-13-45"}, "end_date must be an ISO 8601"),
    ({"start_date": "0001-01-01T00:00:00Z"}, "start_date must be an ISO 8601"),
    ({"start_date": "2026-03-01", "end_date": "2026-02-01"}, "end_date must not be before start_date."),
    ({"status": "pending"}, "status must be open, closed"),
    ({"service_code": "graffiti"}, "Unknown service_code"),
    ({"service_request_id": "1,abc"}, "service_request_id must be"),
    ({"page_size": "201"}, "page_size must be a whole number from 1 to 200."),
    ({"page": "0"}, "page must be a whole number"),
    ({"after": "-3"}, "after must be a whole number"),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_malformed_filter_is_a_400_error_list(client, world, codes, args, message, fmt):
    assert error_of(get(client, f"requests.{fmt}", jurisdiction_id="YUYUAN", **args), 400, fmt).startswith(message)


def test_pages_by_after_or_by_page_with_a_link_to_the_next(client, world, codes):
    reports = [make_report(world.a, house=str(n), days_ago=10 - n) for n in range(5)]
    newest_first = [report.id for report in reversed(reports)]
    first = get(client, "requests.json", jurisdiction_id="YUYUAN", page_size=2, status="open")
    assert ids_of(first) == newest_first[:2]
    following = first.headers["Link"].split(";")[0].strip("<>")
    assert f"after={newest_first[1]}" in following and "status=open" in following
    assert ids_of(client.get(following)) == newest_first[2:4]
    assert ids_of(get(client, "requests.json", jurisdiction_id="YUYUAN", page_size=2, page=3)) == newest_first[4:]
    last = get(client, "requests.json", jurisdiction_id="YUYUAN", page_size=2, after=newest_first[3])
    assert ids_of(last) == newest_first[4:] and "Link" not in last.headers


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_list_costs_the_same_queries_for_3_or_30_reports(client, world, codes, fmt):
    def statements() -> int:
        with counted_queries() as seen:
            response = get(client, f"requests.{fmt}", jurisdiction_id="YUYUAN", page_size=200)
        assert response.status_code == 200
        return len(seen)

    for n in range(3):
        make_report(world.a, house=f"{n}", published=n % 2 == 0, position=("31.2", "121.4") if n else None)
    few = statements()
    for n in range(3, 30):
        make_report(world.a, house=f"{n}", published=n % 2 == 0, position=("31.2", "121.4") if n % 3 else None)
    assert statements() == few
    assert len(listed(get(client, "requests.json", jurisdiction_id="YUYUAN", page_size=200))) == 30


# --- API keys --------------------------------------------------------------------------------------------------


def issue_on_page(client, street, name: str = "12345热线"):
    page = client.get(f"/streets/{street.id}/api-keys")
    key = page.get_data(as_text=True).split('name="idempotency_key" type="hidden" value="')[1].split('"')[0]
    return client.post(f"/streets/{street.id}/api-keys", data={"name": name, "idempotency_key": key}), key


def test_the_officer_issues_a_key_and_sees_its_secret_once(world, codes):
    """The secret is on the answer to the form, once; only its hash and first characters are kept."""
    client = login_as(world.a.officer)
    response, form_key = issue_on_page(client, world.a.street)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = page.split('<code data-testid="secret">')[1].split("</code>")[0]
    assert len(secret) >= 40 and "it will not be shown again" in page
    key = db.session.scalar(select(ApiKey).where(ApiKey.street_id == world.a.street.id))
    assert key.key_hash == api_keys.hash_of(secret) and key.prefix == secret[:8] and key.name == "12345热线"
    assert secret not in str([getattr(key, column.name) for column in ApiKey.__table__.columns])
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reports.api_key_issued")).object_id \
        == key.id

    listing = client.get(f"/streets/{world.a.street.id}/api-keys").get_data(as_text=True)
    assert secret not in listing and f"{secret[:8]}…" in listing and "YUYUAN" in listing
    again = client.post(f"/streets/{world.a.street.id}/api-keys", data={"name": "12345热线",
                                                                        "idempotency_key": form_key})
    assert secret not in again.get_data(as_text=True) and 'data-testid="issued-before"' in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 1


def test_a_key_needs_a_name(world):
    client = login_as(world.a.officer)
    response, _ = issue_on_page(client, world.a.street, name="  ")
    assert "Please say who the key is for." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_only_the_streets_officers_issue_and_revoke_keys(world):
    from merchant_alliance.errors import NotAllowed

    with pytest.raises(NotAllowed):
        api_keys.issue(world.b.officer, world.a.street, "外人")
    key, _ = api_keys.issue(world.a.officer, world.a.street, "热线")
    with pytest.raises(NotAllowed):
        api_keys.revoke(world.a.lead, key)
    assert db.session.get(ApiKey, key.id).revoked_at is None


def test_a_key_of_another_street_cannot_be_revoked_through_ones_own(world):
    theirs, _ = api_keys.issue(world.b.officer, world.b.street, "热线")
    client = login_as(world.a.officer)
    assert client.post(f"/streets/{world.a.street.id}/api-keys/{theirs.id}/revoke").status_code == 404
    assert db.session.get(ApiKey, theirs.id).revoked_at is None


def test_a_revoked_key_stops_working(world):
    key, secret = api_keys.issue(world.a.officer, world.a.street, "热线")
    assert api_keys.authenticate(world.a.street, secret) is key
    client = login_as(world.a.officer)
    response = client.post(f"/streets/{world.a.street.id}/api-keys/{key.id}/revoke")
    assert response.status_code == 302
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    assert api_keys.authenticate(world.a.street, secret) is None
    assert "Revoked" in client.get(f"/streets/{world.a.street.id}/api-keys").get_data(as_text=True)


@pytest.mark.postgres_only
def test_the_issue_form_sent_twice_at_once_makes_one_key(app, world):
    street_id, officer_id, form_key = world.a.street.id, world.a.officer.id, "form-key-0123456789"

    def issue():
        from merchant_alliance.accounts.models import Street, User

        return api_keys.issue(db.session.get(User, officer_id), db.session.get(Street, street_id), "热线",
                              idempotency_key=form_key)

    results = at_once(app, issue, issue)
    assert {key.id for key, _ in results} == {db.session.scalar(select(ApiKey.id))}
    assert sorted(secret is None for _, secret in results) == [False, True]  # the secret shown on one answer


# --- posting a request -----------------------------------------------------------------------------------------


@pytest.fixture
def key(world, codes) -> tuple[ApiKey, str]:
    return api_keys.issue(world.a.officer, world.a.street, "12345热线")


def post(client, fmt: str = "json", **fields):
    data = {"jurisdiction_id": "YUYUAN", "service_code": "loose", "description": "招牌一角脱落",
            "address_string": "愚园路1018号", **fields}
    return client.post(f"/open311/v2/requests.{fmt}", data=data, content_type="multipart/form-data")


def written() -> tuple:
    return (db.session.scalar(select(func.count()).select_from(HazardReport)),
            db.session.scalar(select(func.count()).select_from(ReportEntry)),
            db.session.scalar(select(func.count()).select_from(Photo)),
            tuple(db.session.scalars(select(ApiKey.last_used_at).order_by(ApiKey.id)
                                     .execution_options(populate_existing=True))))


def test_a_city_system_posts_a_report_with_its_key(client, world, key):
    """The report lands on the road named in the address, with the reporter's details kept private."""
    api_key, secret = key
    response = post(client, api_key=secret, first_name="三", last_name="张", phone="13900001111",
                    email="z@example.com", lat="31.219876", long="121.431234",
                    media=(io.BytesIO(fresh_jpeg()), "现场.jpg"))
    (answer,) = json.loads(response.get_data())
    assert response.status_code == 201
    assert set(answer) == {"service_request_id", "service_notice", "account_id"} and answer["account_id"] is None
    report = db.session.get(HazardReport, answer["service_request_id"])
    (entry,) = report.entries
    assert (report.street_id, report.alliance_id, report.house_number) == (world.a.street.id, world.a.alliance.id,
                                                                           "1018")
    assert (report.service, report.description, report.latitude) == (Service.LOOSE, "招牌一角脱落",
                                                                      Decimal("31.219876"))
    assert (entry.reporter_name, entry.reporter_contact, entry.api_key_id) == ("张三", "13900001111 / z@example.com",
                                                                               api_key.id)
    assert len(entry.photos) == 1
    assert db.session.get(ApiKey, api_key.id, populate_existing=True).last_used_at is not None
    assert "张三" not in get(client, "requests.json", jurisdiction_id="YUYUAN").get_data(as_text=True)


def test_the_answer_to_a_post_in_xml(client, key):
    response = post(client, "xml", api_key=key[1])
    assert response.status_code == 201
    (row,) = xml_rows(response, "service_requests", "request")
    assert set(row) == {"service_request_id", "service_notice"}  # account_id is null: no element
    assert db.session.get(HazardReport, int(row["service_request_id"])) is not None


@pytest.mark.parametrize("which", ["none", "made-up", "other street", "revoked"])
def test_a_post_without_a_valid_key_of_the_street_is_refused_and_writes_nothing(client, world, key, which):
    theirs, their_secret = api_keys.issue(world.b.officer, world.b.street, "别的街道")
    if which == "revoked":
        api_keys.revoke(world.a.officer, key[0])
    before = written()
    secret = {"none": "", "made-up": secrets.token_urlsafe(32), "other street": their_secret,
              "revoked": key[1]}[which]
    response = post(client, api_key=secret, media=(io.BytesIO(fresh_jpeg()), "现场.jpg"))
    assert error_of(response, 403) == "A valid api_key of this jurisdiction is required."
    assert written() == before


@pytest.mark.parametrize(("fields", "message"), [
    ({"description": ""}, "Please say what you saw."),
    ({"service_code": "graffiti"}, "Please choose what kind of danger it is."),
    ({"address_string": ""}, "address_string is required"),
    ({"lat": "north", "long": "121.4"}, "lat and long must be numbers"),
])
def test_a_post_with_bad_input_is_a_400_and_writes_nothing(client, key, fields, message):
    before = written()
    assert error_of(post(client, api_key=key[1], **fields), 400).startswith(message)
    assert written() == before


def test_posts_are_limited_per_key(app, client, key):
    app.config["OPEN311_POST_LIMIT"] = "2 per minute"
    for n in range(2):
        assert post(client, api_key=key[1], address_string=f"愚园路{n}号").status_code == 201
    assert error_of(post(client, "xml", api_key=key[1]), 429, "xml")
    assert post(client, api_key=secrets.token_urlsafe(32)).status_code == 403  # another key has its own allowance


def test_posting_needs_no_csrf_token(app, client, key):
    """A city system has no page of ours to take a token from: its key is the proof."""
    app.config["WTF_CSRF_ENABLED"] = True
    assert post(client, api_key=key[1]).status_code == 201
