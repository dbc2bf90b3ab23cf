"""The street's guidelines checked while the owner fills in a design, on a phone: a rule the typed design
breaks shows next to the save button, in the page's language, and goes away when the design is put right."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from merchant_alliance.extensions import db
from merchant_alliance.projects.models import ProjectState
from tests import factories
from tests.browser.conftest import Phone, translated
from tests.fixtures.projects import make_project

pytestmark = pytest.mark.browser


def test_a_design_breaking_a_guideline_is_flagged_next_to_save_while_it_is_typed(app, page: Page, world):
    project = make_project(ProjectState.DRAFT, by=world.a.owner, shop=world.a.shop, title="伸出式新灯箱")
    db.session.commit()
    phone = Phone(page)
    phone.log_in(world.a.owner.phone, factories.PASSWORD)
    phone.open(f"/projects/{project.id}/versions/new")
    live = page.locator("[data-guideline-live]")
    clearance = live.locator('[data-rule="clearance"]')

    page.get_by_label(translated(app, "zh_CN", "Type of sign")).select_option("projecting")
    page.locator("#clearance_m").fill("2.60")
    expect(clearance).to_be_visible()
    expect(clearance).to_contain_text("3.00")
    # Beside the save button, not somewhere above it.
    save = page.locator("main form button[type=submit]").last
    assert live.bounding_box()["y"] < save.bounding_box()["y"] < live.bounding_box()["y"] + 400
    phone.check_layout()

    page.locator("#clearance_m").fill("3.20")
    expect(clearance).to_be_hidden()
    expect(live).to_be_hidden()
