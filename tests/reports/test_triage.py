"""The street office triages hazard reports: links each to a sign, accepts it or opens a follow-up inspection
at once, dismisses it with a reason said publicly, publishes its photos. Each sign's count of open reports stays
true through every step, and only the street's own officers reach any of it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.reports import services, views
from merchant_alliance.reports.models import HazardReport, ReportEntry, ReportState
from merchant_alliance.reports.permissions import officer_sees_report_photo
from merchant_alliance.safety import inspections
from merchant_alliance.safety.models import Inspection, InspectionState
from tests.helpers import flashed_errors, login_as
from tests.reports.reporting import finish_inspection, open_reports_of, report, sign_on


def follow_page(app, entry: ReportEntry) -> str:
    browser = app.test_client()
    browser.set_cookie("lang", "en")
    return browser.get(f"/reports/follow/{entry.token}").get_data(as_text=True)


def status(browser, path: str) -> int:
    """The status of a GET, its body read and closed (a photo is streamed from an open file)."""
    response = browser.get(path)
    response.get_data()
    response.close()
    return response.status_code


def state_of(report_id: int) -> ReportState:
    db.session.expire_all()
    return db.session.get(HazardReport, report_id).state


def test_a_report_goes_from_triage_to_a_passed_inspection_and_the_reporter_sees_it(app, world):
    """Linked, accepted, inspected: passing the inspection resolves the report, and the reporter's page says the
    sign was found safe. The sign's open count is right after every step."""
    signboard = sign_on(world.a)
    entry = report(world.a)
    case_id = entry.report_id
    officer = login_as(world.a.officer)
    assert open_reports_of(signboard.id) == (0, 0)

    page = officer.get(f"/reports/{case_id}").get_data(as_text=True)
    assert 'data-testid="why-not-accept"' in page and 'data-action="accept"' not in page  # link it first
    assert officer.post(f"/reports/{case_id}/link", data={"signboard": str(signboard.id)}).status_code == 302
    assert open_reports_of(signboard.id) == (1, 1)

    assert 'data-action="accept"' in officer.get(f"/reports/{case_id}").get_data(as_text=True)
    officer.post(f"/reports/{case_id}/accept")
    assert state_of(case_id) == ReportState.ACCEPTED and open_reports_of(signboard.id) == (1, 1)
    assert "Accepted, to be inspected" in follow_page(app, entry)

    response = officer.post(f"/reports/{case_id}/inspect")
    inspection = db.session.scalar(select(Inspection).where(Inspection.signboard_id == signboard.id))
    assert response.location == f"/inspections/{inspection.id}"
    assert state_of(case_id) == ReportState.INSPECTING and open_reports_of(signboard.id) == (1, 1)
    assert "The street office is inspecting the sign." in follow_page(app, entry)

    finish_inspection(world.a.officer, inspection, passed=True)
    assert state_of(case_id) == ReportState.RESOLVED and open_reports_of(signboard.id) == (0, 0)
    text = follow_page(app, entry)
    assert "Inspected" in text and "The inspection passed: the sign was found safe." in text


def test_a_failed_inspection_resolves_the_report_too(app, world):
    signboard = sign_on(world.a)
    entry = report(world.a, signboard=signboard)
    assert open_reports_of(signboard.id) == (1, 1)
    inspection = services.inspect(world.a.officer, entry.report)  # straight from new
    assert open_reports_of(signboard.id) == (1, 1)
    finish_inspection(world.a.officer, inspection, passed=False)
    assert state_of(entry.report_id) == ReportState.RESOLVED and open_reports_of(signboard.id) == (0, 0)
    assert "The inspection found items the shop must rectify." in follow_page(app, entry)


def test_cancelling_the_inspection_sends_the_report_back_to_accepted(app, world):
    signboard = sign_on(world.a)
    entry = report(world.a, signboard=signboard)
    inspection = services.inspect(world.a.officer, entry.report)
    inspections.cancel(world.a.officer, inspection, "开错了")
    db.session.expire_all()
    case = db.session.get(HazardReport, entry.report_id)
    assert (case.state, case.inspection_id) == (ReportState.ACCEPTED, None)
    assert open_reports_of(signboard.id) == (1, 1)
    assert db.session.get(Inspection, inspection.id).state == InspectionState.CANCELLED


def test_dismissing_needs_a_reason_which_the_reporter_and_the_public_then_read(app, world):
    signboard = sign_on(world.a)
    entry = report(world.a, signboard=signboard)
    officer = login_as(world.a.officer)
    response = officer.post(f"/reports/{entry.report_id}/dismiss", data={"reason": "  "}, follow_redirects=True)
    assert flashed_errors(response) == ["Please give a reason."]
    assert state_of(entry.report_id) == ReportState.NEW and open_reports_of(signboard.id) == (1, 1)

    officer.post(f"/reports/{entry.report_id}/dismiss", data={"reason": "招牌为新装，已核实牢固"})
    assert state_of(entry.report_id) == ReportState.DISMISSED and open_reports_of(signboard.id) == (0, 0)
    assert "招牌为新装，已核实牢固" in follow_page(app, entry)
    public = app.test_client().get(f"/streets/{world.a.street.id}/reports").get_data(as_text=True)
    assert "招牌为新装，已核实牢固" in public


def test_linking_onto_a_sign_with_an_open_case_merges_the_reports(app, world):
    """A report of the shop is linked to a sign that already has an open case: its entries join that case, its
    reporter now follows that case, and the officer is taken there."""
    signboard = sign_on(world.a)
    earlier = report(world.a, signboard=signboard, description="先报的")
    later = report(world.a, description="后报的", reporter_name="李先生")  # of the shop: a case of its own
    merged_id = later.report_id
    assert merged_id != earlier.report_id
    officer = login_as(world.a.officer)
    response = officer.post(f"/reports/{merged_id}/link", data={"signboard": str(signboard.id)},
                            follow_redirects=False)
    assert response.location == f"/reports/{earlier.report_id}"
    db.session.expire_all()
    target = db.session.get(HazardReport, earlier.report_id)
    assert target.entries_count == 2 and {e.id for e in target.entries} == {earlier.id, later.id}
    merged = db.session.get(HazardReport, merged_id)
    assert (merged.state, merged.merged_into_id, merged.public_note) == (ReportState.DISMISSED, earlier.report_id, "")
    assert open_reports_of(signboard.id) == (1, 1)
    text = follow_page(app, later)
    assert "1 other person reported this too." in text and "Received" in text
    page = officer.get(response.location).get_data(as_text=True)
    assert "李先生" in page and "先报的" in page and "后报的" in page


def test_accepting_twice_is_told_and_changes_nothing(app, world):
    signboard = sign_on(world.a)
    entry = report(world.a, signboard=signboard)
    officer = login_as(world.a.officer)
    officer.post(f"/reports/{entry.report_id}/accept")
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = officer.post(f"/reports/{entry.report_id}/accept", follow_redirects=True)
    assert flashed_errors(response) == ["This is not possible while the report is “Accepted, to be inspected”."]
    assert state_of(entry.report_id) == ReportState.ACCEPTED and open_reports_of(signboard.id) == (1, 1)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


@pytest.mark.parametrize("who", ["owner", "lead", "treasurer", "contractor", "other_officer", "nobody"])
def test_only_the_streets_officers_reach_the_triage(app, world, who):
    """Everyone else finds no such page, and their posts change nothing."""
    signboard = sign_on(world.a)
    entry = report(world.a)
    person = {"other_officer": world.b.officer, "nobody": world.nobody}.get(who) or getattr(world.a, who)
    browser = login_as(person)
    assert browser.get(f"/streets/{world.a.street.id}/reports/triage").status_code == 404
    assert browser.get(f"/reports/{entry.report_id}").status_code == 404
    for step, data in (("link", {"signboard": str(signboard.id)}), ("accept", {}), ("inspect", {}),
                       ("dismiss", {"reason": "不是我管"}), ("publish", {"published": "1"})):
        assert browser.post(f"/reports/{entry.report_id}/{step}", data=data).status_code == 404
    db.session.expire_all()
    case = db.session.get(HazardReport, entry.report_id)
    assert (case.state, case.signboard_id, case.published) == (ReportState.NEW, None, False)
    photo = entry.photos[0]
    if who in ("other_officer", "nobody", "contractor"):
        assert status(browser, f"/photos/{photo.id}/thumb") == 404


def test_the_platform_admin_sees_the_street_but_does_not_triage(app, world):
    entry = report(world.a)
    admin = login_as(world.admin)
    assert admin.get(f"/streets/{world.a.street.id}/reports/triage").status_code == 403
    assert admin.get(f"/reports/{entry.report_id}").status_code == 404


def test_the_officer_sees_the_reports_photos_before_they_are_published(app, world):
    entry = report(world.a, shop_id=None, house_number="1018")  # no shop: an alliance photo
    photo = entry.photos[0]
    officer = login_as(world.a.officer)
    page = officer.get(f"/reports/{entry.report_id}").get_data(as_text=True)
    assert f"/photos/{photo.id}/thumb" in page
    assert status(officer, f"/photos/{photo.id}/display") == 200
    assert status(app.test_client(), f"/photos/{photo.id}/display") == 404


def test_the_report_photo_rule_grants_nothing_but_report_photos(app, world):
    """The officers' rule on photos covers a photo some report holds, on their street: not the alliance's other
    photos (a fund receipt), nor another street's report."""
    entry = report(world.a, shop_id=None, house_number="1018")
    other = report(world.b, shop_id=None, house_number="9", alliance_id=world.b.alliance.id)
    receipt = Photo(sha256="0" * 64, backend="local", display_key="x", thumb_key="y", display_bytes=1,
                    thumb_bytes=1, width=1, height=1, thumb_width=1, thumb_height=1, alliance_id=world.a.alliance.id)
    db.session.add(receipt)
    db.session.flush()
    assert officer_sees_report_photo(world.a.officer, entry.photos[0])
    assert not officer_sees_report_photo(world.a.officer, receipt)
    assert not officer_sees_report_photo(world.a.officer, other.photos[0])
    assert not officer_sees_report_photo(world.a.lead, entry.photos[0])
    db.session.rollback()


def test_the_triage_list_puts_urgent_reports_first_then_the_oldest_and_counts_each_state(app, world):
    first = report(world.a, description="先")
    urgent = report(world.a, shop_id=world.a.other_shop.id, description="急", urgent=True)
    dismissed = report(world.a, shop_id=None, house_number="77", description="撤")
    services.dismiss(world.a.officer, dismissed.report, "重复")
    other_street = report(world.b, alliance_id=world.b.alliance.id, shop_id=world.b.shop.id)
    officer = login_as(world.a.officer)
    text = officer.get(f"/streets/{world.a.street.id}/reports/triage").get_data(as_text=True)
    assert text.index(f"/reports/{urgent.report_id}\"") < text.index(f"/reports/{first.report_id}\"")
    assert f"/reports/{dismissed.report_id}\"" not in text and f"/reports/{other_street.report_id}\"" not in text
    assert 'data-state="dismissed">Dismissed <span class="badge">1</span>' in text
    only = officer.get(f"/streets/{world.a.street.id}/reports/triage?state=dismissed").get_data(as_text=True)
    assert f"/reports/{dismissed.report_id}\"" in only and f"/reports/{first.report_id}\"" not in only


def test_the_officers_home_and_the_signs_card_show_its_reports(app, world):
    signboard = sign_on(world.a)
    report(world.a, description="普通")
    urgent = report(world.a, signboard=signboard, urgent=True)
    panel = views.officer_home_panel(world.a.officer, world.a.officer)
    assert panel["new"].total == 2 and panel["new"].reports[0].id == urgent.report_id
    assert views.officer_home_panel(world.a.lead, world.a.lead) == {}
    assert views.officer_home_panel(world.b.officer, world.b.officer)["new"].total == 0
    home = login_as(world.a.officer).get("/").get_data(as_text=True)
    assert 'data-testid="new-reports-total">2<' in home
    card = views.signboard_panel(signboard, world.a.officer)
    assert [r.id for r in card["reports"]] == [urgent.report_id]
    assert views.signboard_panel(signboard, world.a.owner) == {}
    assert views.signboard_panel(signboard, world.b.officer) == {}


def test_a_report_is_linked_only_to_a_standing_sign_of_its_street_and_inspected_only_once_linked(app, world):
    """Accepting or inspecting a report about a typed house number waits for its sign; linking it to another
    street's sign, to a sign taken down, or to no sign at all is refused, and each refusal changes nothing."""
    from merchant_alliance.safety import registry
    from tests.reports.reporting import upload

    entry = report(world.a, shop_id=None, house_number="1234")
    case_id = entry.report_id
    officer = login_as(world.a.officer)
    for action in ("accept", "inspect"):
        response = officer.post(f"/reports/{case_id}/{action}", follow_redirects=True)
        assert flashed_errors(response) == ["Link the report to a sign first."], action
    theirs = sign_on(world.b)
    gone = sign_on(world.a, "侧门旧灯箱")
    registry.remove(world.a.officer, gone, "已拆除", [upload()])
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    for signboard_id in (theirs.id, gone.id, 999999, "x"):
        response = officer.post(f"/reports/{case_id}/link", data={"signboard": str(signboard_id)},
                                follow_redirects=True)
        assert response.status_code == 200
        assert flashed_errors(response), signboard_id
    db.session.expire_all()
    case = db.session.get(HazardReport, case_id)
    assert (case.state, case.signboard_id) == (ReportState.NEW, None)
    assert case.place_key == f"house:{world.a.alliance.id}:1234"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events
    assert open_reports_of(theirs.id)[0] == 0 and db.session.get(type(gone), gone.id).open_reports == 0
