"""Every main page, for everyone who uses it, on a phone: on the Yuyuan Road demo (91 shops, six proposals in
different states, a year of books), each page opens, fits 390 px and axe-core finds no serious or critical
accessibility problem on it (Phone.check_layout). The journeys check the pages they pass through; this walk
makes sure no main page is left out, the error pages included.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy import select

from merchant_alliance.accounts.models import Alliance, Role, Street
from merchant_alliance.demo import ALLIANCE_NAME, DEMO_ACCOUNTS, DEMO_PASSWORD, demo_shops, load_demo
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import ExpenseRequest, ExpenseState
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.reports.models import HazardReport
from merchant_alliance.safety.models import Certificate, Inspection, Permit, RectificationOrder
from merchant_alliance.shops.models import Shop, Signboard
from merchant_alliance.works.models import WorkOrder
from tests.browser.conftest import Phone, live_app

pytestmark = pytest.mark.browser

OK, FORBIDDEN, NOT_FOUND = 200, 403, 404

# What each of them opens, as paths with the demo's ids to fill in, and the answer each should get.
PAGES: dict[str, list[tuple[str, int]]] = {
    "visitor": [
        ("/", OK), ("/login", OK), ("/password/forgot", OK),
        ("/invite/not-a-real-invitation", NOT_FOUND), ("/no-such-page", NOT_FOUND),
        # A passer-by reporting a dangerous sign, following the report, reading the street's reports.
        ("/streets/{street}/report", OK), ("/tags/{tag}/report", OK), ("/reports/follow/{follow}", OK),
        ("/streets/{street}/reports", OK), ("/tags/{tag}", OK),
    ],
    Role.SHOP_OWNER: [
        ("/", OK), ("/shops/{shop}", OK), ("/shops/{shop}/money", OK), ("/signboards/{signboard}", OK),
        ("/signboards/{signboard}/registry", OK), ("/streets/{street}/registry", NOT_FOUND),
        ("/signboards/{signboard}/edit", OK), ("/shops/{shop}/signboards/new", OK), ("/shops/{shop}/projects/new", OK),
        ("/projects/mine", OK), ("/projects/{submitted}", OK), ("/projects/{submitted}/timeline", OK),
        ("/projects/{submitted}/versions/1", OK), ("/notifications", OK), ("/password", OK),
        ("/alliances/{alliance}/fund", OK), ("/alliances/{alliance}/fund/record", FORBIDDEN),
    ],
    Role.ALLIANCE_LEAD: [
        ("/", OK), ("/alliances/{alliance}", OK), ("/alliances/{alliance}/shops", OK),
        ("/alliances/{alliance}/shops/new", OK), ("/alliances/{alliance}/shops/import", OK),
        ("/alliances/{alliance}/invite", OK), ("/alliances/{alliance}/audit", OK),
        ("/alliances/{alliance}/projects", OK),
        ("/shops/{shop}", OK), ("/shops/{shop}/edit", OK), ("/shops/{shop}/invite", OK), ("/projects/{completed}", OK),
        ("/projects/{completed}/compare", OK), ("/projects/{completed}/budget", OK),
        ("/fund/expenses/{open_expense}", OK),
        ("/alliances/{alliance}/fund/expenses/new", OK), ("/alliances/{alliance}/fund/rules", OK),
        ("/alliances/{alliance}/works", OK), ("/alliances/{alliance}/works?state=completed", OK),
        ("/alliances/{alliance}/contractors", OK), ("/contractors/{contractor}", OK),
        ("/projects/{contracted}/quotes", OK), ("/quotes/{quote}", OK), ("/orders/{work_order}", OK),
        ("/orders/{work_order}/milestones", OK), ("/orders/{work_order}/log", OK),
    ],
    Role.TREASURER: [
        ("/", OK), ("/alliances/{alliance}/fund", OK), ("/alliances/{alliance}/fund/entries", OK),
        ("/alliances/{alliance}/fund/statement", OK), ("/alliances/{alliance}/fund/statement/print", OK),
        ("/alliances/{alliance}/fund/shops", OK), ("/alliances/{alliance}/fund/projects", OK),
        ("/alliances/{alliance}/fund/expenses", OK), ("/fund/expenses/{paid_expense}", OK),
        ("/alliances/{alliance}/fund/pledges", OK), ("/alliances/{alliance}/fund/pledges/new", OK),
        ("/alliances/{alliance}/fund/record", OK),
    ],
    Role.STREET_OFFICER: [
        ("/", OK), ("/streets/{street}", OK), ("/streets/{street}/guidelines", OK), ("/streets/{street}/audit", OK),
        ("/streets/{street}/invite", OK), ("/alliances/{alliance}", OK), ("/projects/{submitted}", OK),
        ("/inspections/{inspection}", OK), ("/rectifications/{order}", OK), ("/certificates/{certificate}", OK),
        ("/certificates/{certificate}/tag", OK), ("/permits/{permit}", OK),
        ("/streets/{street}/safety/checklist", OK), ("/streets/{street}/safety/checklist/edit", OK),
        ("/streets/{street}/safety/settings", OK),
        ("/streets/{street}/registry", OK), ("/streets/{street}/registry?overdue=1&high_risk=1", OK),
        ("/streets/{street}/route", OK), ("/signboards/{signboard}/registry", OK),
        ("/signboards/{removed_sign}/registry", OK), ("/signboards/{reported_sign}/registry", OK),
        ("/streets/{street}/reports/triage", OK), ("/reports/{report}", OK), ("/streets/{street}/api-keys", OK),
    ],
    Role.PLATFORM_ADMIN: [("/", OK), ("/streets", OK)],
    Role.CONTRACTOR: [
        ("/", OK), ("/my-work", OK), ("/orders/{work_order}", OK), ("/orders/{work_order}/log", OK),
        ("/quotes/{quote}", OK), ("/contractors/{contractor}", OK),
        ("/projects/{contracted}", NOT_FOUND),  # its quote and order show the design; the project page is not theirs
    ],
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The demo loaded once (it takes seconds) into a folder each test copies: database, photos and the ids."""
    folder = tmp_path_factory.mktemp("demo")
    with live_app(folder / "live.sqlite3", STORAGE_LOCAL_ROOT=str(folder / "files")) as app:
        with app.test_request_context():  # the demo's notifications link to pages
            load_demo()
        alliance = db.session.scalar(select(Alliance).where(Alliance.name == ALLIANCE_NAME))
        shop = db.session.scalar(select(Shop).where(Shop.alliance_id == alliance.id,
                                                    Shop.house_number == demo_shops()[0]["house_number"]))

        def project(state: ProjectState) -> int:
            return db.session.scalar(select(Project.id).where(Project.state == state).order_by(Project.id))

        def expense(state: ExpenseState) -> int:
            return db.session.scalar(select(ExpenseRequest.id).where(ExpenseRequest.state == state))

        ids = {
            "alliance": alliance.id, "street": db.session.scalar(select(Street.id)), "shop": shop.id,
            "signboard": db.session.scalar(select(Signboard.id).where(Signboard.shop_id == shop.id)),
            "submitted": project(ProjectState.SUBMITTED), "completed": project(ProjectState.COMPLETED),
            "open_expense": expense(ExpenseState.SUBMITTED), "paid_expense": expense(ExpenseState.PAID),
            "inspection": db.session.scalar(select(Inspection.id).order_by(Inspection.id)),
            "order": db.session.scalar(select(RectificationOrder.id)),
            "certificate": db.session.scalar(select(Certificate.id).order_by(Certificate.id)),
            "permit": db.session.scalar(select(Permit.id).order_by(Permit.id)),
            # the order of the demo contractor's person: the bookshop's, installed, a payment asked for
            "work_order": db.session.scalar(select(WorkOrder.id).order_by(WorkOrder.id)),
            "contracted": project(ProjectState.CONTRACTED),
            "removed_sign": db.session.scalar(select(Signboard.id).where(Signboard.removed_at.is_not(None))),
            "tag": db.session.scalar(select(Certificate.token).order_by(Certificate.id)),
        }
        urgent = db.session.scalar(select(HazardReport).where(HazardReport.urgent))
        ids.update(report=urgent.id, reported_sign=urgent.signboard_id, follow=urgent.entries[0].token)
        order = db.session.get(WorkOrder, ids["work_order"])
        ids.update(quote=order.quote_id, contractor=order.contractor_id)
    assert all(ids.values()), ids
    return folder, ids


@pytest.fixture
def app(demo: tuple[Path, dict[str, int]], tmp_path: Path) -> Iterator[Flask]:
    """The live server's app on a fresh copy of the demo."""
    folder = shutil.copytree(demo[0], tmp_path / "demo")
    with live_app(folder / "live.sqlite3", STORAGE_LOCAL_ROOT=str(folder / "files")) as app:
        yield app


def _walk(phone: Phone, pages: list[tuple[str, int]]) -> list[str]:
    """Open each page and check it; what is wrong with every page, not only with the first."""
    problems = []
    for path, status in pages:
        response = phone.page.goto(path)
        if response.status != status:
            problems.append(f"{path} answered {response.status}, not {status}")
            continue
        try:
            phone.check_layout()
        except AssertionError as error:
            problems.append(str(error))
    return problems


@pytest.mark.parametrize("who", list(PAGES), ids=str)
def test_every_main_page_fits_a_phone_and_passes_axe(phone: Phone, demo, who):
    """A visitor and each role open the pages of their work on a phone: each answers as it should, nothing
    scrolls sideways, every button is big enough to tap, and nothing stops a screen-reader or keyboard user."""
    _, ids = demo
    if who != "visitor":
        account = next(a for a in DEMO_ACCOUNTS if a.role == who)
        phone.log_in(account.phone, DEMO_PASSWORD)
        expect(phone.page.locator('form[action="/logout"]')).to_have_count(1)
    problems = _walk(phone, [(path.format(**ids), status) for path, status in PAGES[who]])
    assert not problems, "\n".join(problems)
