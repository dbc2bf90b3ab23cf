"""What the public sees of hazard reports: a street's list with where, what kind and how far along, never who
reported or how to reach them, and photos and words only once the street office has published them; the
reporter's private page, which a wrong link cannot find. Every list costs the same queries at any size."""

from __future__ import annotations

import re

from sqlalchemy import select

from merchant_alliance.extensions import db
from merchant_alliance.reports import queries, services
from merchant_alliance.reports.models import HazardReport, ReportEntry, Service
from tests.helpers import counted_queries, login_as
from tests.reports.reporting import report, sign_on, upload

NAME, CONTACT = "张秘密", "13911112222"


def visitor(app):
    browser = app.test_client()
    browser.set_cookie("lang", "en")
    return browser


def status(browser, path: str) -> int:
    response = browser.get(path)
    response.get_data()
    response.close()
    return response.status_code


def plain_cases(side, n: int, start: int = 0) -> list[HazardReport]:
    """`n` cases of typed house numbers on the side's road, each with one entry (no photo)."""
    made = []
    for k in range(start, start + n):
        case = HazardReport(street_id=side.street.id, alliance_id=side.alliance.id, house_number=f"{k + 1}",
                            place_key=f"house:{side.alliance.id}:{k + 1}", service=Service.CORRODED,
                            description=f"第{k}号锈了")
        db.session.add(case)
        db.session.flush()
        db.session.add(ReportEntry(report_id=case.id, token=f"token-{side.street.id}-{k}", description=case.description,
                                   reporter_name=NAME, reporter_contact=CONTACT))
        made.append(case)
    db.session.commit()
    return made


def test_the_public_list_shows_nothing_private(app, world):
    """Names, contacts, follow links, unpublished photos and words, and what later reporters wrote: none of it is
    anywhere in the page's bytes."""
    first = report(world.a, description="未公开的描述", reporter_name=NAME, reporter_contact=CONTACT, client="x")
    later = report(world.a, description="后来者写的话", reporter_name="李后来", reporter_contact="lee@example.com",
                   client="y")
    assert later.report_id == first.report_id
    unpublished = report(world.a, shop_id=world.a.other_shop.id, description="另一份未公开", reporter_name=NAME)
    services.set_published(world.a.officer, first.report, True)

    body = visitor(app).get(f"/streets/{world.a.street.id}/reports").get_data()
    for secret in (NAME, CONTACT, "李后来", "lee@example.com", "后来者写的话", "另一份未公开", first.token, later.token,
                   unpublished.token):
        assert secret.encode() not in body, secret
    for photo in (*later.photos, *unpublished.photos):
        assert f"/photos/{photo.id}/".encode() not in body
    # what is public: both places, the published case's first words and its photo
    assert world.a.shop.house_number.encode() in body and world.a.other_shop.house_number.encode() in body
    assert "未公开的描述".encode() in body and f"/photos/{first.photos[0].id}/thumb".encode() in body


def test_another_streets_reports_are_not_in_a_streets_list(app, world):
    plain_cases(world.a, 1)
    theirs = report(world.b, alliance_id=world.b.alliance.id, shop_id=world.b.shop.id, description="乙街的报告")
    services.set_published(world.b.officer, theirs.report, True)
    body = visitor(app).get(f"/streets/{world.a.street.id}/reports").get_data(as_text=True)
    assert "第0号锈了" not in body  # unpublished
    assert "乙街的报告" not in body and world.b.shop.house_number not in re.sub(r"<[^>]+>", "", body).split("·")[0]
    assert f"/photos/{theirs.photos[0].id}/" not in body
    assert len(re.findall(r'data-testid="public-report"', body)) == 1
    assert status(visitor(app), "/streets/999999/reports") == 404


def test_the_list_pages_by_keyset_newest_first(app, world):
    made = plain_cases(world.a, 5)
    first = queries.public_list(world.a.street.id, limit=2)
    assert [r.id for r in first.reports] == [made[4].id, made[3].id] and first.next_before == made[3].id
    last = queries.public_list(world.a.street.id, before=made[1].id, limit=2)
    assert [r.id for r in last.reports] == [made[0].id] and last.next_before is None
    body = visitor(app).get(f"/streets/{world.a.street.id}/reports?before={made[2].id}").get_data(as_text=True)
    assert len(re.findall(r'data-testid="public-report"', body)) == 2
    assert visitor(app).get(f"/streets/{world.a.street.id}/reports?before=abc").status_code == 400


def test_a_wrong_follow_link_looks_like_any_missing_page(app, world):
    entry = report(world.a)
    browser = visitor(app)
    good = browser.get(f"/reports/follow/{entry.token}")
    assert good.status_code == 200
    assert good.headers["Referrer-Policy"] == "no-referrer"
    assert '<meta name="robots" content="noindex">' in good.get_data(as_text=True)
    wrong_path, nowhere_path = f"/reports/follow/{entry.token[:-1]}x", "/no/such/page"
    wrong, nowhere = browser.get(wrong_path), browser.get(nowhere_path)
    assert wrong.status_code == 404 and nowhere.status_code == 404
    assert wrong.get_data().replace(wrong_path.encode(), b"") == nowhere.get_data().replace(nowhere_path.encode(), b"")
    assert browser.get("/reports/follow/" + "a" * 200).status_code == 404


def test_publishing_shows_the_photo_to_anyone_and_hiding_takes_it_back(app, world):
    entry = report(world.a)
    photo_id = entry.photos[0].id
    anyone = visitor(app)
    assert status(anyone, f"/photos/{photo_id}/display") == 404
    officer = login_as(world.a.officer)
    officer.post(f"/reports/{entry.report_id}/publish", data={"published": "1"})
    assert status(anyone, f"/photos/{photo_id}/display") == 200
    assert f"/photos/{photo_id}/thumb" in anyone.get(f"/streets/{world.a.street.id}/reports").get_data(as_text=True)
    officer.post(f"/reports/{entry.report_id}/publish", data={"published": "0"})
    assert status(anyone, f"/photos/{photo_id}/display") == 404
    assert f"/photos/{photo_id}/" not in anyone.get(f"/streets/{world.a.street.id}/reports").get_data(as_text=True)


# --- the same queries at any size ----------------------------------------------------------------------------


def queries_of(browser, path: str) -> int:
    """The queries of a page, once the header's cache holds the viewer's (new notifications change it)."""
    assert browser.get(path).status_code == 200
    db.session.expire_all()
    with counted_queries() as statements:
        assert browser.get(path).status_code == 200
    return len(statements)


def published_with_photo(side, **changes) -> ReportEntry:
    entry = report(side, **changes)
    services.set_published(side.officer, entry.report, True)
    return entry


def test_the_public_list_costs_the_same_queries_at_two_sizes(app, world):
    plain_cases(world.a, 2)
    published_with_photo(world.a)
    browser = visitor(app)
    path = f"/streets/{world.a.street.id}/reports"
    small = queries_of(browser, path)
    plain_cases(world.a, 30, start=10)
    published_with_photo(world.a, shop_id=world.a.other_shop.id)
    published_with_photo(world.a, shop_id=None, house_number="888")
    assert queries_of(browser, path) == small


def test_the_triage_list_costs_the_same_queries_at_two_sizes(app, world):
    signboard = sign_on(world.a)
    report(world.a, signboard=signboard, urgent=True)
    officer = login_as(world.a.officer)
    path = f"/streets/{world.a.street.id}/reports/triage"
    small = queries_of(officer, path)
    plain_cases(world.a, 30)
    report(world.a, shop_id=world.a.other_shop.id)
    assert queries_of(officer, path) == small


def test_the_report_page_costs_the_same_queries_at_two_sizes(app, world):
    signboard = sign_on(world.a)
    first = report(world.a, signboard=signboard, client="c0")
    officer = login_as(world.a.officer)
    path = f"/reports/{first.report_id}"
    small = queries_of(officer, path)
    for n in range(1, 4):
        services.submit(world.a.street, alliance_id=world.a.alliance.id, signboard_id=signboard.id, service="loose",
                        description=f"又一人{n}", photos=[upload(), upload()], client=f"c{n}")
    sign_on(world.a, "侧门")
    sign_on(world.a, "二楼")
    db.session.expire_all()
    assert db.session.get(HazardReport, first.report_id).entries_count == 4
    assert queries_of(officer, path) == small
    assert db.session.scalar(select(ReportEntry.id).where(ReportEntry.report_id != first.report_id)) is None


def test_a_passer_bys_photo_is_held_from_the_shop_and_its_alliance_until_the_street_office_publishes_it(app, world):
    """A report's photo is filed under the reported shop, but until the officer has checked it for faces only the
    street office sees it: not the shop's owner, not the alliance's lead (nor the other street's officer)."""
    entry = report(world.a)
    photo_id = entry.photos[0].id
    url = f"/photos/{photo_id}/display"
    assert status(login_as(world.a.officer), url) == 200
    for person in (world.a.owner, world.a.lead, world.b.officer):
        assert status(login_as(person), url) in (403, 404), person
    login_as(world.a.officer).post(f"/reports/{entry.report_id}/publish", data={"published": "1"})
    for person in (world.a.owner, world.a.lead, world.b.officer):
        assert status(login_as(person), url) == 200, person


def test_the_follow_page_and_the_report_form_cost_the_same_queries_at_two_sizes(app, world):
    """The reporter's page however many others joined the case, and the street's form however many shops the
    road lists, each cost a fixed number of queries."""
    from tests.factories import ShopFactory

    signboard = sign_on(world.a)
    first = report(world.a, signboard=signboard, client="first")
    anyone = visitor(app)
    pages = (f"/reports/follow/{first.token}", f"/streets/{world.a.street.id}/report")
    small = {path: queries_of(anyone, path) for path in pages}
    for n in range(5):
        report(world.a, signboard=signboard, client=f"other-{n}", description=f"又看到了{n}")
        ShopFactory(alliance=world.a.alliance, house_number=f"{2000 + n}", name=f"新店{n}")
    db.session.commit()
    assert db.session.get(HazardReport, first.report_id).entries_count == 6
    assert {path: queries_of(anyone, path) for path in pages} == small
