"""A dangerous sign reported from a phone by someone without an account, triaged by the street office into an
inspection, and followed by the reporter through their private link.

The passer-by and the officer each use their own phone (a browser context of their own) and only what the pages
show them. Every page they pass through must fit 390 px, have buttons big enough to tap and no serious or critical
axe-core problem (Phone.check_layout).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from merchant_alliance.extensions import db
from merchant_alliance.reports.models import HazardReport, ReportState
from merchant_alliance.safety.models import Inspection, InspectionKind, InspectionState
from tests.browser.conftest import Phone, translated, write_jpeg
from tests.factories import PASSWORD
from tests.reports.reporting import sign_on

pytestmark = pytest.mark.browser

SAW = "伸出式灯箱一侧挂钩脱落，风一吹就晃，下面是公交站。"


@pytest.fixture
def street(app, world) -> dict:
    """Side A's street with one registered sign on its bookshop."""
    sign = sign_on(world.a, position="二楼外墙灯箱")
    db.session.commit()
    return {"street_id": world.a.street.id, "shop_id": world.a.shop.id, "shop": world.a.shop.name,
            "sign_id": sign.id, "officer": world.a.officer.phone}


def _fresh():
    db.session.rollback()
    return db.session


def test_a_passer_by_reports_a_sign_the_officer_inspects_it_and_the_link_shows_it(
        app, page: Page, street, new_context, live_server, tmp_path):
    passer_by = Phone(page)
    photo = write_jpeg(tmp_path / "灯箱松动.jpg", colour=(160, 60, 30))

    # Without an account: the street's report page, photo first, then what is wrong, where, and what they saw.
    passer_by.open(f"/streets/{street['street_id']}/report")
    field = page.locator("[data-photo-field]")
    with page.expect_file_chooser() as chooser:
        field.locator("label.photo-button").last.click()
    chooser.value.set_files(photo)
    expect(field.locator(".photo-preview li")).to_have_text([re.compile(re.escape(photo.name))])
    page.locator('input[name=service][value="loose"]').check()
    page.locator("select#shop").select_option(str(street["shop_id"]))
    page.locator("textarea[name=description]").fill(SAW)
    page.locator("input[name=urgent]").check()
    page.locator("[data-action=send-report]").click()

    expect(page).to_have_url(re.compile(r"/reports/follow/[\w-]+$"))
    passer_by.check_layout()
    follow_url = page.url
    expect(page.get_by_test_id("follow-state")).to_have_text(translated(app, "zh_CN", "Received"))
    expect(page.get_by_test_id("follow-description")).to_have_text(SAW)
    report = _fresh().scalar(select(HazardReport))
    assert (report.state, report.urgent, report.shop_id, report.entries[0].photos != []) == (
        ReportState.NEW, True, street["shop_id"], True)

    # The officer, on their own phone: the report waits on their home page, urgent.
    officer = Phone(new_context(base_url=live_server).new_page())
    officer.log_in(street["officer"], PASSWORD)
    reports = officer.page.get_by_test_id("new-reports")
    expect(reports).to_contain_text(translated(app, "zh_CN", "Urgent"))
    reports.locator("a").first.click()
    expect(officer.page).to_have_url(re.compile(rf"/reports/{report.id}$"))
    officer.check_layout()
    expect(officer.page.get_by_test_id("report-entry")).to_contain_text(SAW)

    # Linked to the bookshop's sign, then inspected now: the follow-up inspection opens.
    officer.page.locator("select#signboard").select_option(str(street["sign_id"]))
    officer.page.locator("[data-action=link]").click()
    expect(officer.page.get_by_test_id("report-sign")).to_contain_text("二楼外墙灯箱")
    officer.check_layout()
    officer.page.locator('[data-testid=triage-actions] button[name="inspect"]').click()
    expect(officer.page).to_have_url(re.compile(r"/inspections/\d+$"))
    officer.check_layout()
    inspection = _fresh().scalar(select(Inspection).where(Inspection.signboard_id == street["sign_id"]))
    assert (inspection.kind, inspection.state) == (InspectionKind.FOLLOW_UP, InspectionState.OPEN)

    # The reporter's private link now says the sign is being inspected.
    passer_by.open(follow_url)
    expect(page.get_by_test_id("follow-state")).to_have_text(translated(app, "zh_CN", "Being inspected"))
    expect(page.get_by_test_id("follow-inspection")).to_have_text(
        translated(app, "zh_CN", "The street office is inspecting the sign."))
    assert _fresh().get(HazardReport, report.id).state == ReportState.INSPECTING
