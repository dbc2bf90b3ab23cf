"""The works on phones, from the installation to the last fen: the contractor logs a day on site with two photos and
marks "installed" done; a lead accepts it (the project is now installed) and asks the fund for the milestone's
payment; two other leads approve it and the treasurer pays it, minus the 3% retention; once the street office has
signed the sign off, the retention is released through an approved expense of its own and paid.

Each person uses their own phone (a browser context of their own) and only what the pages show them: links,
buttons, the photo chooser. Every page they pass through must fit 390 px, have buttons big enough to tap and no
serious or critical axe-core problem (Phone.check_layout).
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from PIL import Image
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.funds import pledges
from merchant_alliance.funds.models import EntryKind, ExpenseRequest, ExpenseState, LedgerEntry, PaymentMethod
from merchant_alliance.funds.services import default_fund
from merchant_alliance.notifications.models import Notification
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import inspections
from merchant_alliance.safety.models import Outcome
from merchant_alliance.works import contractors, orders, quotes
from merchant_alliance.works.models import (
    Acceptor,
    Milestone,
    MilestoneKind,
    MilestoneState,
    OrderPayment,
    PaymentKind,
    PaymentState,
    SiteLogEntry,
)
from tests import factories
from tests.browser.conftest import TIMEOUT_MS, Phone, axe_violations, expect_images_loaded, write_jpeg
from tests.fixtures.funds import funded_project, give

pytestmark = pytest.mark.browser

CONTRACTOR = "静安广告装饰工程队"
TITLE = "愚园书店新店招"
ORDER_FEN = 20_000_00  # installation is 30% of it: ¥6,000, so ¥5,820 leaves the fund, above the two-leads threshold
INSTALLATION_FEN = 6_000_00
RETENTION_FEN = 180_00  # 3% of the installation's ¥6,000
WORK_DONE = "拆除旧招牌，新牌面吊装就位，四颗M12锚栓紧固。"


def _jpeg(name: str) -> FileStorage:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 90, 140)).save(buffer, "JPEG")
    buffer.seek(0)
    return FileStorage(stream=buffer, filename=name, content_type="image/jpeg")


@pytest.fixture
def under_way(app, world) -> dict:
    """Side A's bookshop sign, funded, quoted for and contracted to one installer whose person is the side's contractor
    account; design, removal and fabrication are done and accepted, installation and clean-up are still to come.
    The alliance releases the retention as soon as the sign is signed off (no warranty period), the fund holds
    enough, and two more leads are there to approve what one lead asks for."""
    side = world.a
    fund = default_fund(side.alliance)
    give(side.treasurer, fund, 50_000_00)
    assert fund.two_approvals_above_fen < INSTALLATION_FEN - RETENTION_FEN, "the payment would need only one lead"
    project = funded_project(fund, owner=side.owner, shop=side.shop, budget_fen=ORDER_FEN, lead=side.lead, title=TITLE)
    contractors.update_settings(side.lead, side.alliance, retention_percent=Decimal(3), warranty_days=0,
                                accepted_by=Acceptor.LEAD)
    contractor = contractors.add_contractor(side.lead, side.alliance, {"name": CONTRACTOR,
                                                                      "kinds": ["fabricator", "installer"]})
    contractors.add_person(side.lead, contractor, side.contractor.id)
    (quote,) = quotes.invite(side.lead, project, [contractor], "拆旧、制作、安装新店招")
    quotes.submit(side.contractor, quote, quotes.Offer(ORDER_FEN, "拆旧、制作、安装、清场", 20,
                                                       pledges.today() + timedelta(days=30)))
    order = quotes.select_quote(side.lead, quote, "报价合理，工期最短")
    for milestone in order.milestones[:3]:
        orders.mark_done(side.contractor, milestone, "已完成",
                         [_jpeg(f"{milestone.kind.value}-{n}.jpg") for n in range(milestone.photos_needed)])
        orders.accept(side.lead, milestone)
    installation = next(m for m in order.milestones if m.kind == MilestoneKind.INSTALLATION)
    co_lead = factories.user_with_role(Role.ALLIANCE_LEAD, alliance=side.alliance)
    third_lead = factories.user_with_role(Role.ALLIANCE_LEAD, alliance=side.alliance)
    return {"project_id": project.id, "order_id": order.id, "installation_id": installation.id,
            "photos_needed": installation.photos_needed, "fund_id": fund.id, "alliance_id": side.alliance.id,
            "contractor": side.contractor.phone, "lead": side.lead.phone, "lead_id": side.lead.id,
            "co_lead": co_lead.phone, "third_lead": third_lead.phone, "treasurer": side.treasurer.phone,
            "officer_id": side.officer.id}


class WorksPhone(Phone):
    """A phone that runs axe-core again whenever the page's content changed, not only on a new URL: the order page
    is looked at with the day logged, the milestone done, accepted and paid. The phones share what was looked at
    already: the login page is the same page on each."""

    def __init__(self, page: Page, checked: set) -> None:
        super().__init__(page)
        self.checked_pages = checked

    def check_accessibility(self) -> None:
        viewer = "".join(self.page.locator(".menu-user").all_text_contents())
        key = (self.page.url.split("#")[0], viewer, self.page.locator("main").inner_text())
        if key in self.checked_pages:
            return
        self.checked_pages.add(key)
        problems = axe_violations(self.page)
        if problems:
            heading = f"{self.page.url}: axe-core found serious or critical problems:"
            raise AssertionError("\n".join([heading, *problems]))


def _fresh():
    """The test's own session, seeing what the live server committed since."""
    db.session.rollback()
    return db.session


def _said(app: Flask, message: str, **values: object) -> str:
    """`message` as the app shows it to a Chinese phone (the English source until its translation is merged)."""
    with app.test_request_context(), force_locale("zh_CN"):
        return gettext(message, **values)


def _choose_photos(page: Page, scope: Locator, *photos: Path) -> None:
    """Tap the field's "Choose photos" button and pick `photos`; their previews appear before anything is sent."""
    field = scope.locator("[data-photo-field]")
    with page.expect_file_chooser() as chooser:
        field.locator("label.photo-button").last.click()
    chooser.value.set_files(list(photos))
    expect(field.locator(".photo-preview li")).to_have_text([re.compile(re.escape(p.name)) for p in photos])


def _milestone_state(milestone: Locator, state: MilestoneState) -> None:
    expect(milestone.get_by_test_id("milestone-state")).to_have_class(re.compile(rf"\bmilestone-{state.value}\b"))


def _expense_state(page: Page, state: ExpenseState) -> None:
    expect(page.get_by_test_id("expense-state")).to_have_class(re.compile(rf"\bexpense-{state.value}\b"))


def _accept_audits(milestone_id: int) -> int:
    return _fresh().scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "milestone.accept", AuditEvent.object_id == milestone_id))


def _sign_off(officer_id: int, project_id: int) -> None:
    """The street office's acceptance inspection, every item passed (photos where the checklist asks): the sign
    off, with its certificate."""
    session = _fresh()
    officer, project = session.get(User, officer_id), session.get(Project, project_id)
    inspection = inspections.start_for_project(officer, project)
    for n, question in enumerate(inspections.questions(inspection)):
        photos = [_jpeg(f"验收{n}.jpg")] if question.photo_required else []
        inspections.save_answer(officer, inspection, question.code, Outcome.PASS, "", photos)
    verdict = inspections.finish(officer, inspection, summary="新招牌安装牢固，验收合格。")
    assert verdict.passed


def test_site_log_installation_accepted_paid_minus_retention_then_retention_released(
        app, under_way, new_context, live_server, tmp_path):
    """The installer logs the day and marks the sign installed with its photos (refused without them); the lead
    accepts (a second tap from an old tab changes nothing) and asks for the payment; two leads approve, the treasurer
    pays ¥6,000 minus the ¥180 retention; after the sign off, the ¥180 is released and paid: nothing is held."""
    checked: set = set()

    def phone_of(login: str) -> WorksPhone:
        context = new_context(base_url=live_server)
        context.set_default_timeout(TIMEOUT_MS)
        person = WorksPhone(context.new_page(), checked)
        person.log_in(login, factories.PASSWORD)
        expect(person.page.locator("form[action='/logout']")).to_have_count(1)
        person.check_layout()
        return person

    order_id, installation_id = under_way["order_id"], under_way["installation_id"]
    order_url = f"/orders/{order_id}"
    ladder = write_jpeg(tmp_path / "吊装.jpg", (900, 1200), colour=(90, 90, 100))
    crew = write_jpeg(tmp_path / "施工人员.jpg", (1200, 900), colour=(200, 120, 40))
    fixed = write_jpeg(tmp_path / "安装完成-正面.jpg", colour=(30, 110, 60))
    side_view = write_jpeg(tmp_path / "安装完成-侧面.jpg", colour=(30, 60, 110))
    invoice = write_jpeg(tmp_path / "安装款发票.jpg", (900, 1200), colour=(220, 220, 210))
    release_invoice = write_jpeg(tmp_path / "质保金收据.jpg", (900, 1200), colour=(210, 220, 220))

    # 1. The contractor's home page shows their work; they open the order and log the day with two photos.
    contractor = phone_of(under_way["contractor"])
    page = contractor.page
    work = page.locator("#contractor-work")
    expect(work.locator("h2")).to_have_text(_said(app, "Your work"))
    work.get_by_test_id("open-orders").locator(f'a[href="{order_url}"]').click()
    expect(page).to_have_url(re.compile(rf"{order_url}$"))
    contractor.check_layout()
    page.locator("main [data-action=log]").click()
    expect(page).to_have_url(re.compile(rf"{order_url}/log$"))
    contractor.check_layout()
    _choose_photos(page, page.locator("main form"), ladder, crew)
    page.locator("#work_done").fill(WORK_DONE)
    page.locator("#crew_size").fill("4")
    page.locator("#weather").fill("晴")
    contractor.check_layout()
    page.locator("main [data-action=save-log]").click()
    expect(page).to_have_url(re.compile(rf"{order_url}(#site-log)?$"))
    contractor.check_layout()
    entry = page.locator("#site-log li.list-item").filter(has_text=WORK_DONE)
    expect(entry).to_have_count(1)
    assert expect_images_loaded(entry.locator(".photo-grid img")) == 2
    contractor.screenshot("works-1-site-log")
    logged = _fresh().scalars(select(SiteLogEntry).where(SiteLogEntry.order_id == order_id)).all()
    assert len(logged) == 1 and len(logged[0].photos) == 2

    # Marking "installed" done without its photos is refused, saying how many it needs; nothing changes.
    installation = page.locator(f"#milestone-{installation_id}")
    _milestone_state(installation, MilestoneState.PENDING)
    installation.locator("[data-action=done-installation]").click()
    expect(page.locator(".flash-error")).to_have_text(_said(
        app, "This milestone needs %(n)s photo(s) that show it is done.", n=under_way["photos_needed"]))
    contractor.check_layout()
    _milestone_state(installation, MilestoneState.PENDING)
    assert _fresh().get(Milestone, installation_id).state == MilestoneState.PENDING

    # With the two photos it needs, it is marked done.
    _choose_photos(page, installation, fixed, side_view)
    installation.locator("textarea").fill("牌面水平，灯箱通电正常。")
    installation.locator("[data-action=done-installation]").click()
    _milestone_state(installation, MilestoneState.DONE)
    contractor.check_layout()
    assert expect_images_loaded(installation.locator(".photo-grid img")) == 2
    contractor.screenshot("works-1-installation-done")
    assert _fresh().get(Milestone, installation_id).state == MilestoneState.DONE

    # 2. The lead follows the notice to the order and accepts the installation: the project is installed. The same
    # order left open in another tab, accepted again there, says so and changes nothing.
    lead = phone_of(under_way["lead"])
    page = lead.page
    notice = _fresh().scalar(select(Notification).where(Notification.user_id == under_way["lead_id"],
                                                        Notification.endpoint == "works.order",
                                                        Notification.read_at.is_(None))
                             .order_by(Notification.id.desc()))
    assert notice is not None, "the lead was not asked to accept the installation"
    page.locator("a.bell").click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    lead.check_layout()
    page.locator(f'main .notifications .unread form[action="/notifications/{notice.id}/open"] button').click()
    expect(page).to_have_url(re.compile(rf"{order_url}$"))
    lead.check_layout()
    stale = lead.page.context.new_page()
    stale.goto(order_url)
    installation = page.locator(f"#milestone-{installation_id}")
    installation.locator("[data-action=accept-installation]").click()
    _milestone_state(installation, MilestoneState.ACCEPTED)
    lead.check_layout()
    session = _fresh()
    assert session.get(Project, under_way["project_id"]).state == ProjectState.INSTALLED
    accepted_at = session.get(Milestone, installation_id).decided_at
    stale.locator(f"#milestone-{installation_id} [data-action=accept-installation]").click()
    expect(stale.locator(".flash-error")).to_have_text(_said(app, "This milestone is already accepted."))
    stale.close()
    assert _fresh().get(Milestone, installation_id).decided_at == accepted_at
    assert _accept_audits(installation_id) == 1

    # The lead asks the fund to pay the installation, with the invoice: the expense request's page opens.
    page.locator("[data-action=pay-open-installation]").click()
    pay_form = installation.locator("form:has([data-action=pay-installation])")
    expect(pay_form).to_be_visible()
    lead.check_layout()
    lead.screenshot("works-2-ask-for-payment")
    _choose_photos(page, pay_form, invoice)
    pay_form.locator("[data-action=pay-installation]").click()
    expect(page).to_have_url(re.compile(r"/fund/expenses/\d+$"))
    lead.check_layout()
    _expense_state(page, ExpenseState.SUBMITTED)
    expense_url = page.url
    payment = _fresh().scalar(select(OrderPayment).where(OrderPayment.milestone_id == installation_id))
    assert (payment.gross_fen, payment.retention_fen) == (INSTALLATION_FEN, RETENTION_FEN)
    asked = _fresh().get(ExpenseRequest, payment.expense_request_id)
    assert asked.amount_fen == INSTALLATION_FEN - RETENTION_FEN and len(asked.receipts) == 1

    # 3. Above the threshold, two other leads approve; then the treasurer pays it.
    approvers = {}
    for login, after in ((under_way["co_lead"], ExpenseState.SUBMITTED),
                         (under_way["third_lead"], ExpenseState.APPROVED)):
        approver = approvers[login] = phone_of(login)
        approver.open(expense_url)
        assert expect_images_loaded(approver.page.locator("main .photo-grid img")) == 1  # the invoice
        approver.page.locator("[data-action=approve]").click()
        _expense_state(approver.page, after)
        approver.check_layout()
    treasurer = phone_of(under_way["treasurer"])
    page = treasurer.page
    treasurer.open(expense_url)
    page.locator("#method").select_option(PaymentMethod.BANK_TRANSFER.value)
    page.locator("#reference").fill("BT20261201001")
    page.locator("[data-action=pay]").click()
    _expense_state(page, ExpenseState.PAID)
    treasurer.check_layout()
    session = _fresh()
    request = session.get(ExpenseRequest, payment.expense_request_id)
    assert len(request.approvals) == 2
    paid_entry = session.get(LedgerEntry, request.paid_entry_id)
    assert (paid_entry.kind, paid_entry.amount_fen) == (EntryKind.EXPENSE, -(INSTALLATION_FEN - RETENTION_FEN))
    assert session.get(OrderPayment, payment.id).state == PaymentState.PAID

    treasurer.open(order_url)
    expect(page.get_by_test_id("paid")).to_have_text("¥5,820.00")
    expect(page.get_by_test_id("retained")).to_have_text("¥180.00")
    expect(page.get_by_test_id("payment-installation")).to_contain_text("¥5,820.00")
    expect(page.get_by_test_id("release-refusal")).to_have_text(_said(
        app, "The retention is released only after the street office has signed the sign off."))
    expect(page.locator("[data-action=release-open]")).to_have_count(0)
    treasurer.screenshot("works-3-paid-minus-retention")

    # 4. The street office inspects the sign and signs it off.
    _sign_off(under_way["officer_id"], under_way["project_id"])
    assert _fresh().get(Project, under_way["project_id"]).state == ProjectState.COMPLETED

    # 5. The lead asks for the retention's release, one other lead approves (it is below the threshold), the
    # treasurer pays it: nothing is held any more.
    lead.open(order_url)
    page = lead.page
    page.locator("[data-action=release-open]").click()
    release_form = page.locator("#money form:has([data-action=release])")
    expect(release_form).to_be_visible()
    lead.check_layout()
    _choose_photos(page, release_form, release_invoice)
    release_form.locator("[data-action=release]").click()
    expect(page).to_have_url(re.compile(r"/fund/expenses/\d+$"))
    lead.check_layout()
    _expense_state(page, ExpenseState.SUBMITTED)
    release_url = page.url
    release = _fresh().scalar(select(OrderPayment).where(OrderPayment.order_id == order_id,
                                                         OrderPayment.kind == PaymentKind.RETENTION))
    assert release.gross_fen == RETENTION_FEN
    assert _fresh().get(ExpenseRequest, release.expense_request_id).amount_fen == RETENTION_FEN

    approver = approvers[under_way["co_lead"]]
    approver.open(release_url)
    approver.page.locator("[data-action=approve]").click()
    _expense_state(approver.page, ExpenseState.APPROVED)
    approver.check_layout()
    page = treasurer.page
    treasurer.open(release_url)
    page.locator("#method").select_option(PaymentMethod.BANK_TRANSFER.value)
    page.locator("#reference").fill("BT20261201002")
    page.locator("[data-action=pay]").click()
    _expense_state(page, ExpenseState.PAID)
    treasurer.check_layout()
    session = _fresh()
    request = session.get(ExpenseRequest, release.expense_request_id)
    released_entry = session.get(LedgerEntry, request.paid_entry_id)
    assert (released_entry.kind, released_entry.amount_fen) == (EntryKind.EXPENSE, -RETENTION_FEN)
    assert session.get(OrderPayment, release.id).state == PaymentState.PAID

    treasurer.open(order_url)
    expect(page.get_by_test_id("retained")).to_have_text("¥0.00")
    expect(page.get_by_test_id("paid")).to_have_text("¥6,000.00")
    expect(page.get_by_test_id("release")).to_contain_text("¥180.00")
    expect(page.get_by_test_id("release").locator(".badge")).to_have_class(
        re.compile(rf"\bpayment-{PaymentState.PAID.value}\b"))
    treasurer.screenshot("works-5-retention-released")
