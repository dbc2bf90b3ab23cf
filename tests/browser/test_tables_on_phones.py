"""Every table of the app on a phone: on the Yuyuan Road demo, each page with a table opens at 390×844 and every
line is a card whose values all show, none cut mid-number, none off-screen, nothing scrolling sideways; on a wide
screen and on paper the same tables keep their columns.
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
from merchant_alliance.safety.models import Inspection, InspectionState
from merchant_alliance.shops.models import Shop
from tests.browser.conftest import PHONE, Phone, live_app

pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 800}

# Each role's pages that show a table, with the demo's ids to fill in.
TABLE_PAGES: dict[Role, list[str]] = {
    Role.SHOP_OWNER: ["/shops/{shop}/money"],
    Role.TREASURER: [
        "/alliances/{alliance}/fund", "/alliances/{alliance}/fund/entries", "/alliances/{alliance}/fund/statement",
        "/alliances/{alliance}/fund/statement/print", "/alliances/{alliance}/fund/shops",
        "/alliances/{alliance}/fund/projects", "/alliances/{alliance}/fund/expenses",
        "/alliances/{alliance}/fund/pledges", "/alliances/{alliance}/fund/pledges?show=all",
    ],
    Role.ALLIANCE_LEAD: ["/alliances/{alliance}/audit"],
    Role.STREET_OFFICER: [
        "/streets/{street}/audit", "/streets/{street}/registry", "/streets/{street}/route?day={route_day}",
    ],
}

# What is wrong with the tables of the page as it is now: one line per cell, so one failure shows them all.
# In card form (the table no longer lays out as a table) the header is for screen readers only: each value
# carries its own label instead, which is checked here too.
CELL_PROBLEMS = """(width) => {
  const problems = [];
  const name = (cell) => `${cell.tagName} "${cell.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40)}"`;
  for (const table of document.querySelectorAll('main table')) {
    const cards = getComputedStyle(table).display !== 'table';
    const wrap = table.closest('.table-wrap');
    if (wrap && wrap.scrollWidth > wrap.clientWidth + 1) {
      problems.push(`the table's box scrolls sideways: ${wrap.scrollWidth}px of content in ${wrap.clientWidth}px`);
    }
    if (!table.querySelector('tbody td, tbody th')) problems.push('a table without a line');
    for (const cell of table.querySelectorAll('th, td')) {
      if (cards && cell.closest('thead')) continue;
      const text = cell.textContent.trim();
      const box = cell.getBoundingClientRect();
      if (!cell.checkVisibility() || box.width === 0 || box.height === 0) {
        if (text) problems.push(`${name(cell)} is hidden`);
        continue;
      }
      if (box.left < 0 || box.right > width) {
        problems.push(`${name(cell)} lies off-screen, from ${Math.round(box.left)} to ${Math.round(box.right)}px`);
      }
      if (cell.scrollWidth > cell.clientWidth + 1) {
        problems.push(`${name(cell)} is cut: ${cell.scrollWidth}px of content in ${cell.clientWidth}px`);
      }
      const control = cell.querySelector('button, form, details');
      const titled = cell.tagName === 'TH' || cell.classList.contains('card-title') || cell.classList.contains('empty');
      if (cards && text && !control && !titled && !cell.closest('tfoot') && !cell.dataset.label) {
        problems.push(`${name(cell)} shows on its card without saying what it is (no data-label)`);
      }
    }
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """The demo loaded once into a folder each test copies, and the ids its table pages need."""
    folder = tmp_path_factory.mktemp("demo")
    with live_app(folder / "live.sqlite3", STORAGE_LOCAL_ROOT=str(folder / "files")) as app:
        with app.test_request_context():
            load_demo()
        alliance = db.session.scalar(select(Alliance).where(Alliance.name == ALLIANCE_NAME))
        ids = {
            "alliance": alliance.id, "street": db.session.scalar(select(Street.id)),
            "shop": db.session.scalar(select(Shop.id).where(Shop.alliance_id == alliance.id,
                                                            Shop.house_number == demo_shops()[0]["house_number"])),
            # a day with stops on the officer's route
            "route_day": db.session.scalar(select(Inspection.planned_on).where(
                Inspection.planned_on.is_not(None), Inspection.state == InspectionState.OPEN)),
        }
    assert all(ids.values()), ids
    return folder, ids


@pytest.fixture
def app(demo: tuple[Path, dict[str, object]], tmp_path: Path) -> Iterator[Flask]:
    """The live server's app on a fresh copy of the demo."""
    folder = shutil.copytree(demo[0], tmp_path / "demo")
    with live_app(folder / "live.sqlite3", STORAGE_LOCAL_ROOT=str(folder / "files")) as app:
        yield app


def _log_in(phone: Phone, role: Role) -> None:
    account = next(a for a in DEMO_ACCOUNTS if a.role == role)
    phone.log_in(account.phone, DEMO_PASSWORD)
    expect(phone.page.locator('form[action="/logout"]')).to_have_count(1)


def _table_problems(phone: Phone) -> list[str]:
    """Open what folds a table away (the fund's figures), then check every cell of every table."""
    page = phone.page
    for summary in page.locator("main details:has(table) > summary").all():
        summary.click()
    page.evaluate("window.scrollTo(0, 0)")  # what the click scrolled under the sticky top bar comes back
    expect(page.locator("main table").first).to_be_visible()
    return [f"{page.url}: {problem}" for problem in page.evaluate(CELL_PROBLEMS, PHONE["width"])]


def _check_pages(phone: Phone, paths: list[str]) -> None:
    problems = []
    for path in paths:
        response = phone.page.goto(path)
        assert response.status == 200, f"{path} answered {response.status}"
        problems += _table_problems(phone)
        try:
            phone.check_layout()
        except AssertionError as error:
            problems.append(str(error))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", list(TABLE_PAGES), ids=str)
def test_every_table_shows_each_line_whole_on_a_phone(phone: Phone, demo, role):
    """Each role opens the pages of their work that hold a table, on a phone: the ledger, the statement, pledges,
    the registry… Every value of every line shows on screen, whole (a balance is never cut mid-number), with what
    it is; nothing hides in a box that scrolls sideways, the page does not scroll sideways, axe-core is content."""
    _, ids = demo
    _log_in(phone, role)
    _check_pages(phone, [path.format(**ids) for path in TABLE_PAGES[role]])


def test_the_shops_import_preview_shows_each_line_whole_on_a_phone(phone: Phone, demo, tmp_path):
    """A lead checks a register file before importing it: each line of the preview, with its problems, shows
    whole on a phone."""
    _, ids = demo
    register = tmp_path / "商户.csv"
    register.write_text("店名,门牌号,门面宽度,业态,联系电话,营业执照号\r\n"
                        "梧桐书店,2020号,4.5,文化,139 1234 5678,91310105MA1FL8XQ2K\r\n"
                        "弄堂面馆,,abc,餐饮,021-62345678,\r\n", encoding="utf-8-sig", newline="")
    _log_in(phone, Role.ALLIANCE_LEAD)
    phone.page.goto(f"/alliances/{ids['alliance']}/shops/import")
    phone.page.locator("#file").set_input_files(register)
    phone.submit()
    expect(phone.page.get_by_test_id("import-errors")).to_be_visible()
    problems = _table_problems(phone)
    assert not problems, "\n".join(problems)
    phone.check_layout()


def test_the_street_api_keys_show_whole_on_a_phone(phone: Phone, demo):
    """An officer issues a key for the city hotline: the list of keys shows each key whole on a phone."""
    _, ids = demo
    _log_in(phone, Role.STREET_OFFICER)
    phone.page.goto(f"/streets/{ids['street']}/api-keys")
    phone.page.locator("#name").fill("12345市民服务热线")
    phone.page.locator('button[data-action="issue-key"]').click()
    expect(phone.page.get_by_test_id("new-secret")).to_be_visible()
    problems = _table_problems(phone)
    assert not problems, "\n".join(problems)
    phone.check_layout()


def test_the_ledger_is_a_table_on_a_wide_screen(phone: Phone, demo):
    """On a computer the treasurer reads the entries and the statement as tables with their column headers."""
    _, ids = demo
    _log_in(phone, Role.TREASURER)
    phone.page.set_viewport_size(WIDE)
    for path, ledger in [("/alliances/{alliance}/fund/entries", "table.entries"),
                         ("/alliances/{alliance}/fund/statement", "table.statement")]:
        phone.page.goto(path.format(**ids))
        expect(phone.page.locator(f"{ledger} thead")).to_be_visible()
        assert phone.page.locator(ledger).evaluate("(t) => getComputedStyle(t).display") == "table"


@pytest.mark.parametrize("role, path, sheet", [
    (Role.TREASURER, "/alliances/{alliance}/fund/statement/print", "table.statement"),
    (Role.STREET_OFFICER, "/streets/{street}/route?day={route_day}", "table.route-table"),
], ids=["statement", "route"])
def test_a_printed_statement_or_route_keeps_its_columns(phone: Phone, demo, role, path, sheet):
    """Printed from a phone, the statement and the day's route are sheets with columns and a header on every page,
    not a pile of cards."""
    _, ids = demo
    _log_in(phone, role)
    phone.page.goto(path.format(**ids))
    phone.page.emulate_media(media="print")
    table = phone.page.locator(sheet).first
    assert table.evaluate("(t) => getComputedStyle(t).display") == "table"
    assert table.locator("thead").evaluate("(h) => getComputedStyle(h).display") == "table-header-group"
    phone.page.emulate_media(media="screen")
    assert table.evaluate("(t) => getComputedStyle(t).display") == "block"  # a card per line on the phone's screen
