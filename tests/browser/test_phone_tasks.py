"""The key tasks on a phone, done the way a person does them: on the Yuyuan Road demo, at 390×844, touching only
what the screen shows by its visible name (roles, labels and text; no CSS selector, and no typed address after the
login page). After every change of state, the state and the person's one next step are on the first screen, without
scrolling; every page reached is checked for sideways scrolling, tap sizes and by axe-core (`Phone.check_layout`).

1. A shop owner whose only sign already has a proposal records another sign with a photo and proposes its renovation
   with a mock-up; the sign's photo becomes version 1's photo of the sign as it is now.
2. The change-request loop: the lead asks for changes with a reason, the owner sees the reason and the next step,
   adds version 2, sends it again, the lead approves.
3. The treasurer records a shop's contribution with a photo of the receipt.
4. A member reads this month's statement and downloads it as a spreadsheet.
"""

from __future__ import annotations

import csv
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Locator, expect
from sqlalchemy import select

from merchant_alliance.accounts.models import Alliance, Role, User
from merchant_alliance.demo import ALLIANCE_NAME, DEMO_ACCOUNTS, DEMO_PASSWORD, demo_shops, load_demo
from merchant_alliance.extensions import db
from merchant_alliance.funds import services as funds
from merchant_alliance.funds.models import EntryKind, LedgerEntry, PaymentMethod
from merchant_alliance.money import format_fen
from merchant_alliance.projects.demo import SCENARIOS
from merchant_alliance.shops.models import Shop
from tests.browser.conftest import PHONE, Phone, live_app, translated, write_jpeg

pytestmark = pytest.mark.browser

ZH = "zh_CN"
UPLOAD_TIMEOUT = 20_000
OWNER, LEAD, TREASURER = (next(a for a in DEMO_ACCOUNTS if a.role == role)
                          for role in (Role.SHOP_OWNER, Role.ALLIANCE_LEAD, Role.TREASURER))
SUBMITTED_TITLE = SCENARIOS[0][1]  # the demo owner's proposal, waiting for the lead's review
REASON = "招牌请缩窄到6米以内，并补一张夜间效果图。"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo loaded once per module (it takes seconds) into a folder each test copies."""
    folder = tmp_path_factory.mktemp("demo")
    with live_app(folder / "live.sqlite3", STORAGE_LOCAL_ROOT=str(folder / "files")) as app:
        with app.test_request_context():  # the demo's notifications link to pages
            load_demo()
    return folder


@pytest.fixture
def app(demo: Path, tmp_path: Path) -> Iterator[Flask]:
    """The live server's app on a fresh copy of the demo."""
    folder = shutil.copytree(demo, tmp_path / "demo")
    with live_app(folder / "live.sqlite3", STORAGE_LOCAL_ROOT=str(folder / "files")) as app:
        yield app


class Person:
    """A person with the phone: finds things by what the screen says, in the app's default language."""

    def __init__(self, app: Flask, phone: Phone) -> None:
        self.app, self.phone, self.page = app, phone, phone.page

    def t(self, message: str) -> str:
        return translated(self.app, ZH, message)

    def link(self, message: str) -> Locator:
        return self.page.get_by_role("link", name=self.t(message), exact=True)

    def button(self, message: str) -> Locator:
        return self.page.get_by_role("button", name=self.t(message), exact=True)

    def standing(self) -> Locator:
        """The first card of an object page: its state, why, and the next step."""
        return self.page.get_by_role("region", name=self.t("Where it stands"))

    def log_in(self, account) -> None:
        """From the start page, the one address typed: the login form, by its labels."""
        self.page.goto("/login")
        self.page.get_by_label(self.t("Mobile number or email")).fill(account.phone)
        self.page.get_by_label(self.t("Password")).fill(DEMO_PASSWORD)
        self.button("Log in").click()
        expect(self.page.get_by_role("heading", level=1)).to_have_text(
            self.t("Hello, %(name)s") % {"name": account.name})
        self.arrived()

    def log_out(self) -> None:
        self.page.get_by_label(self.t("Menu"), exact=True).click()
        self.button("Log out").click()
        expect(self.page.get_by_text(self.t("You have logged out."))).to_be_visible()
        self.arrived()

    def arrived(self, *, changed: bool = False) -> None:
        """A page was reached: nothing scrolls sideways, its buttons are big enough to tap, axe-core finds no serious
        problem (`Phone.check_layout`; it also waits for a page that upload.js wrote in place). `changed`: the page
        was seen before this change of state, and shows other things now: check it again."""
        if changed:
            self.phone.checked_pages.clear()
        self.phone.check_layout()

    def follow(self, locator: Locator, heading: str | re.Pattern) -> None:
        """Tap `locator`, which leads to the page headed `heading`, and check that page once it is there."""
        locator.click()
        expect(self.page.get_by_role("heading", level=1)).to_have_text(heading)
        self.arrived()

    def on_first_screen(self, locator: Locator, *, top: bool = True) -> None:
        """`locator` is whole on the screen as the page opened (`top`: scrolled nowhere), not under the top bar."""
        expect(locator).to_be_in_viewport()
        if top:
            assert self.page.evaluate("window.scrollY") == 0, f"{self.page.url} did not open at its top"
        bar = self.page.get_by_role("banner").bounding_box()
        box = locator.bounding_box()
        assert box["y"] >= bar["y"] + bar["height"] and box["y"] + box["height"] <= PHONE["height"], \
            f"{locator} is not whole on the first screen of {self.page.url}: {box}"

    def take_photo(self, button_text: str, photo: Path) -> None:
        """Tap the page's first photo button saying `button_text` (the file input behind it is hidden) and pick
        `photo`: its preview shows before anything is sent."""
        with self.page.expect_file_chooser() as chooser:
            self.page.get_by_text(self.t(button_text), exact=True).first.click()
        chooser.value.set_files(photo)
        expect(self.page.get_by_role("listitem").filter(has_text=photo.name)).to_be_visible()


@pytest.fixture
def person(app: Flask, phone: Phone) -> Person:
    return Person(app, phone)


def test_a_shop_owner_records_another_sign_with_a_photo_and_proposes_its_renovation(person: Person, tmp_path):
    """The owner's only sign already has a proposal: the form says so before anything is typed and offers to record
    another sign; its photo, taken there, is the photo of the sign as it is now in version 1, beside the mock-up."""
    page, t = person.page, person.t
    sign_photo = write_jpeg(tmp_path / "侧墙灯箱.jpg", colour=(90, 90, 140))
    mockup = write_jpeg(tmp_path / "木牌效果图.jpg", colour=(140, 90, 40))
    title = "侧墙灯箱换成木牌"

    person.log_in(OWNER)
    propose = person.link("Propose a renovation")
    person.on_first_screen(propose)
    person.follow(propose, t("New renovation proposal"))
    # Every sign of the shop is busy: the blocking proposal and the way round it come before any field.
    expect(page.get_by_role("link", name=SUBMITTED_TITLE, exact=True)).to_be_in_viewport()
    expect(page.get_by_role("textbox", name=t("Title"), exact=True)).to_have_count(0)
    another = person.link("Record another signboard")
    person.on_first_screen(another)
    person.follow(another, t("Record a signboard"))

    person.take_photo("Take a photo", sign_photo)
    page.get_by_role("textbox", name=t("Position on the facade"), exact=True).fill("侧墙")
    page.get_by_role("spinbutton", name=t("Width (m)"), exact=True).fill("1.20")
    page.get_by_role("spinbutton", name=t("Height (m)"), exact=True).fill("0.60")
    page.get_by_role("combobox", name=t("Condition"), exact=True).select_option(label=t("Worn"))
    person.button("Save").click()

    # Back at the proposal, the new sign chosen: the form is the next step, on the first screen.
    expect(page.get_by_text(t("Signboard recorded."))).to_be_visible(timeout=UPLOAD_TIMEOUT)
    person.on_first_screen(page.get_by_text(t("Signboard recorded.")))
    person.arrived()
    sign = page.get_by_role("combobox", name=t("Signboard"), exact=True)
    expect(sign.get_by_role("option", selected=True)).to_have_text(re.compile("^侧墙"))
    person.on_first_screen(page.get_by_role("textbox", name=t("Title"), exact=True))
    page.get_by_role("textbox", name=t("Title"), exact=True).fill(title)
    page.get_by_role("textbox", name=t("What do you want to change, and why?"), exact=True).fill("灯箱老化漏电。")
    person.button("Create the proposal").click()

    # Version 1: the design, starting from the recorded sign; the sign's photo is used unless another is added.
    person.on_first_screen(page.get_by_text(t("Proposal created. Now add the design: its size, materials and "
                                              "mock-ups.")))
    person.arrived()
    person.on_first_screen(page.get_by_role("heading", name=t("Design version %(n)s") % {"n": 1}))
    expect(page.get_by_role("spinbutton", name=t("Width (m)"), exact=True)).to_have_value("1.20")
    expect(page.get_by_text(re.compile(re.escape(t("If you add no new photo of the sign as it is now, the %(num)d "
                                                   "photo taken when it was registered is used.") % {"num": 1})))
           ).to_be_visible()
    page.get_by_role("textbox", name=t("Materials"), exact=True).fill("柚木面板，镀锌钢框")
    person.take_photo("Choose photos", mockup)  # the first "choose photos": the mock-ups'
    person.button("Save this version").click()

    # Saved as a draft: its state and the one next step, submitting it, open the project page.
    person.on_first_screen(page.get_by_text(t("Version %(n)s saved.") % {"n": 1}))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    person.on_first_screen(person.standing().get_by_text(t("Draft"), exact=True))
    person.arrived()
    submit = person.button("Submit for review")
    person.on_first_screen(submit)
    expect(page.get_by_role("list", name=t("Mock-ups")).get_by_role("img", name=mockup.name)).to_be_visible()
    expect(page.get_by_role("list", name=t("The sign as it is now")).get_by_role("img", name=sign_photo.name)
           ).to_be_visible()
    submit.click()

    # Submitted: the owner's turn is over, and the first screen says who acts next.
    person.on_first_screen(person.standing().get_by_text(t("Submitted for review"), exact=True))
    person.on_first_screen(person.standing().get_by_text(
        t("Next: %(steps)s, by someone else.") % {"steps": t("Approve the design")}))
    expect(submit).to_have_count(0)
    person.arrived(changed=True)


def test_the_lead_asks_for_changes_the_owner_answers_with_a_new_version_and_the_lead_approves(person: Person,
                                                                                              tmp_path):
    """The demo owner's proposal waits for review. Each person finds it on their home, sees where it stands and the
    one thing to do on the first screen of its page; the owner reads the lead's reason there, not under the timeline."""
    page, t = person.page, person.t
    night = write_jpeg(tmp_path / "夜间效果图.jpg", colour=(20, 20, 60))
    ask = t("Ask for changes")

    def open_from_home(heading: str) -> None:
        item = page.get_by_role("region", name=t(heading)).get_by_role("link", name=SUBMITTED_TITLE)
        person.on_first_screen(item)
        person.follow(item, SUBMITTED_TITLE)

    def decide_below() -> None:
        """The lead's first screen: the state and a way to the decision, which lies below the design."""
        person.on_first_screen(person.standing().get_by_text(t("Submitted for review"), exact=True))
        decide = person.link("Look at the design, then decide below")
        person.on_first_screen(decide)
        decide.click()
        person.on_first_screen(person.button("Approve the design"), top=False)  # not hidden under the top bar

    # The lead asks for changes, with a reason the shop will see.
    person.log_in(LEAD)
    open_from_home("Waiting for you as lead")
    decide_below()
    reason_box = page.get_by_role("textbox", name=t("Reason for “%(action)s” (the shop will see it)") % {"action": ask},
                                  exact=True)
    person.on_first_screen(reason_box, top=False)
    reason_box.fill(REASON)
    page.get_by_role("button", name=ask, exact=True).click()
    person.on_first_screen(person.standing().get_by_text(t("Changes requested"), exact=True))
    person.on_first_screen(person.standing().get_by_text(REASON))
    person.arrived(changed=True)
    person.log_out()

    # The owner: their home already says what is asked and why; the project page says it again, with the step.
    person.log_in(OWNER)
    item = page.get_by_role("region", name=t("My renovation projects")).get_by_role("link", name=SUBMITTED_TITLE)
    expect(item).to_contain_text(t("Changes requested"))
    expect(item).to_contain_text(REASON)
    open_from_home("My renovation projects")
    person.on_first_screen(person.standing().get_by_text(t("Changes requested"), exact=True))
    person.on_first_screen(person.standing().get_by_text(REASON))
    add = person.link("Add a new version")
    person.on_first_screen(add)
    person.follow(add, t("Design version %(n)s") % {"n": 2})
    width = page.get_by_role("spinbutton", name=t("Width (m)"), exact=True)
    expect(width).not_to_have_value("")  # starts from version 1
    width.fill("6.00")
    person.take_photo("Choose photos", night)
    person.button("Save this version").click()

    # Version 2 saved: sending it again is now the one step, on the first screen, under the reason it answers.
    person.on_first_screen(page.get_by_text(t("Version %(n)s saved.") % {"n": 2}))
    person.on_first_screen(person.standing().get_by_text(t("Changes requested"), exact=True))
    person.on_first_screen(person.standing().get_by_text(REASON))
    person.arrived(changed=True)
    resubmit = person.button("Submit the new version")
    person.on_first_screen(resubmit)
    expect(page.get_by_role("list", name=t("Mock-ups")).get_by_role("img", name=night.name)).to_be_visible()
    resubmit.click()
    person.on_first_screen(person.standing().get_by_text(t("Submitted for review"), exact=True))
    person.on_first_screen(person.standing().get_by_text(
        t("Next: %(steps)s, by someone else.") % {"steps": t("Approve the design")}))
    person.arrived(changed=True)
    person.log_out()

    # The lead approves version 2.
    person.log_in(LEAD)
    open_from_home("Waiting for you as lead")
    expect(page.get_by_role("heading", name=t("Design version %(n)s") % {"n": 2})).to_be_visible()
    decide_below()
    person.button("Approve the design").click()
    person.on_first_screen(person.standing().get_by_text(t("Design approved"), exact=True))
    expect(person.button("Approve the design")).to_have_count(0)
    expect(page.get_by_role("button", name=ask, exact=True)).to_have_count(0)
    expect(person.standing()).not_to_contain_text(REASON)  # the old round's reason no longer explains the state
    person.on_first_screen(person.standing().get_by_role("link", name=t("Set the budget"), exact=True))
    person.arrived(changed=True)
    person.log_out()

    # The shop's next step, now: the structural plan for the street office.
    person.log_in(OWNER)
    open_from_home("My renovation projects")
    person.on_first_screen(person.standing().get_by_role("link", name=t("Send the structural plan"), exact=True))


def test_the_treasurer_records_a_contribution_with_a_photo_of_the_receipt(app, person: Person, tmp_path):
    """From the treasurer's home, one tap to the form; the shop is found among the street's 91 by its name; the
    receipt is photographed with the camera button; the books open with what was recorded and the next one."""
    page, t = person.page, person.t
    receipt = write_jpeg(tmp_path / "微信转账截图.jpg", (900, 1600), colour=(30, 160, 80))
    shop = demo_shops()[0]
    choice = f"{shop['name']} · {shop['house_number']}"

    person.log_in(TREASURER)
    record = person.link("Record money received")
    person.on_first_screen(record)
    person.follow(record, t("Record money received"))

    page.get_by_role("combobox", name=t("What is it?"), exact=True).select_option(label=t("Contribution"))
    page.get_by_role("textbox", name=t("Amount (yuan)"), exact=True).fill("600")
    page.get_by_role("searchbox", name=t("Search shops by name or number"), exact=True).fill(shop["name"])
    page.get_by_role("combobox", name=t("From which shop"), exact=True).select_option(label=choice)
    page.get_by_role("combobox", name=t("How it was paid"), exact=True).select_option(label=t("WeChat Pay"))
    page.get_by_role("textbox", name=t("Reference number"), exact=True).fill("4200002026120100601")
    person.take_photo("Take a photo", receipt)
    person.button("Record it").click()

    # Recorded: the books say so on their first screen, with the new balance and the next entry to record.
    done = t("Recorded: %(kind)s of %(amount)s.") % {"kind": t("Contribution"), "amount": format_fen(600_00)}
    person.on_first_screen(page.get_by_text(done))
    person.arrived()
    db.session.rollback()  # see what the live server committed
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.reference == "4200002026120100601"))
    assert entry.kind == EntryKind.CONTRIBUTION and entry.amount_fen == 600_00
    assert entry.receipt_photo_id is not None, "the receipt photo was not kept"
    alliance = db.session.scalar(select(Alliance).where(Alliance.name == ALLIANCE_NAME))
    balance = funds.balance_fen(funds.default_fund(alliance).id)
    db.session.rollback()
    person.on_first_screen(page.get_by_text(format_fen(balance), exact=True).first)
    person.on_first_screen(person.link("Record money received"))


def test_a_member_reads_this_months_statement_and_downloads_it(app, person: Person, tmp_path):
    """A shop owner opens the books from home, then this month's statement: the shop's payment is a line of it,
    and the spreadsheet has the columns' names and the same line."""
    page, t = person.page, person.t
    shop_values = demo_shops()[0]
    reference = "4200002026120100777"
    alliance = db.session.scalar(select(Alliance).where(Alliance.name == ALLIANCE_NAME))
    shop = db.session.scalar(select(Shop).where(Shop.alliance_id == alliance.id,
                                                Shop.house_number == shop_values["house_number"]))
    treasurer = db.session.scalar(select(User).where(User.phone == TREASURER.phone))
    funds.record_entry(treasurer, funds.default_fund(alliance),
                       funds.EntryDetails(EntryKind.CONTRIBUTION, 777_00, shop=shop, method=PaymentMethod.WECHAT_PAY,
                                          reference=reference),
                       idempotency_key=uuid.uuid4().hex)
    db.session.commit()

    person.log_in(OWNER)
    books = person.link("The alliance's books")
    person.on_first_screen(books)
    person.follow(books, re.compile(re.escape(ALLIANCE_NAME)))
    statement = person.link("Monthly statement")
    person.on_first_screen(statement)
    before, after = t("Statement for %(month)s").split("%(month)s")
    person.follow(statement, re.compile(f"^{re.escape(before)}.+{re.escape(after)}$"))
    line = page.get_by_role("row").filter(has_text=reference)  # a card on a phone
    expect(line).to_contain_text(shop_values["name"])
    expect(line).to_contain_text(format_fen(777_00))

    with page.expect_download() as download:
        person.link("Download as a spreadsheet (CSV)").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.suffix == ".csv", path.name
    rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:3] == [t("Date"), t("Entry no."), t("What")], rows[0]
    mine = [row for row in rows if reference in row]
    assert len(mine) == 1, rows
    assert shop_values["name"] in mine[0] and "777.00" in mine[0] and t("Contribution") in mine[0], mine[0]
