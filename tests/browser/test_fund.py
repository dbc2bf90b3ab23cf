"""The fund on phones: the treasurer records a WeChat payment with its receipt, one lead asks to pay the
contractor, a second lead approves, the treasurer pays; a shop owner then sees it in the open books
and in the CSV, without the receipts or the contractor's bank account."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from merchant_alliance.accounts.models import Alliance, Role, User
from merchant_alliance.accounts.services import grant_role
from merchant_alliance.extensions import db
from merchant_alliance.funds import pledges, services
from merchant_alliance.funds.models import EntryKind, ExpenseRequest, ExpenseState, LedgerEntry, PaymentMethod
from merchant_alliance.shops.models import Shop
from tests import factories
from tests.browser.conftest import Phone, expect_images_loaded, write_jpeg

pytestmark = pytest.mark.browser

PAYEE = "愚园路广告装饰工程队"
BANK = "工商银行静安支行 6222 0210 0100 8888"
UPLOAD_TIMEOUT = 20_000


@pytest.fixture
def alliance_people(app):
    alliance = factories.AllianceFactory(name="愚园路商家联盟")
    shop = factories.ShopFactory(alliance=alliance, name="愚园书店", house_number="1018")
    people = {}
    for key, name, role, scope in [
        ("treasurer", "李会计", Role.TREASURER, {"alliance": alliance}),
        ("lead", "王会长", Role.ALLIANCE_LEAD, {"alliance": alliance}),
        ("co_lead", "赵副会长", Role.ALLIANCE_LEAD, {"alliance": alliance}),
        ("owner", "陈老板", Role.SHOP_OWNER, {"shop": shop}),
    ]:
        user = factories.UserFactory(name=name)
        grant_role(user, role, **scope)
        people[key] = user
    db.session.commit()
    fund = services.default_fund(alliance)
    services.record_entry(people["treasurer"], fund,
                          services.EntryDetails(EntryKind.SUBSIDY, 10_000_00, counterparty="静安寺街道办事处",
                                                method=PaymentMethod.BANK_TRANSFER),
                          idempotency_key=uuid.uuid4().hex)
    return {"alliance_id": alliance.id, "shop_id": shop.id, **{k: u.phone for k, u in people.items()}}


def _fresh():
    db.session.rollback()
    return db.session


def _as(phone: Phone, login: str) -> None:
    phone.page.context.clear_cookies()
    phone.log_in(login, factories.PASSWORD)


def _check(phone: Phone) -> None:
    """check_layout(): it waits for the page and its stylesheet, also a page an upload wrote in place."""
    phone.check_layout()


def _expense_state(page: Page, state: ExpenseState) -> None:
    expect(page.get_by_test_id("expense-state")).to_have_class(re.compile(rf"\bexpense-{state.value}\b"))


def test_money_in_an_approved_expense_out_and_the_open_books_show_it(app, phone: Phone, alliance_people, tmp_path):
    page = phone.page
    alliance_id, shop_id = alliance_people["alliance_id"], alliance_people["shop_id"]
    fund_url = f"/alliances/{alliance_id}/fund"
    receipt = write_jpeg(tmp_path / "微信转账截图.jpg", (900, 1600), colour=(30, 160, 80))
    invoice = write_jpeg(tmp_path / "定金发票.jpg", colour=(200, 200, 190))

    # The treasurer records a shop's WeChat payment, with the screenshot as the receipt.
    _as(phone, alliance_people["treasurer"])
    phone.open(f"{fund_url}/record")
    page.locator("#kind").select_option(EntryKind.CONTRIBUTION.value)
    page.locator("#amount").fill("1,200")
    page.locator("#shop_id").select_option(str(shop_id))
    page.locator("#method").select_option(PaymentMethod.WECHAT_PAY.value)
    page.locator("#reference").fill("4200002026112612345")
    page.locator("#receipt").set_input_files(receipt)
    _check(phone)
    phone.submit()
    expect(page).to_have_url(re.compile(re.escape(fund_url) + "$"))
    expect(page.get_by_test_id("balance")).to_have_text("¥11,200.00")
    payment = _fresh().scalar(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.CONTRIBUTION))
    assert payment.amount_fen == 1_200_00 and payment.receipt_photo_id is not None

    # A lead asks to pay the contractor's deposit, with the invoice.
    _as(phone, alliance_people["lead"])
    phone.open(f"{fund_url}/expenses/new")
    page.locator("#payee").fill(PAYEE)
    page.locator("#payee_account").fill(BANK)
    page.locator("#amount").fill("800")
    page.locator("#purpose").fill("书店店招翻新定金")
    page.locator("#receipts").set_input_files(invoice)
    _check(phone)
    phone.submit()
    expect(page).to_have_url(re.compile(r"/fund/expenses/\d+$"), timeout=UPLOAD_TIMEOUT)
    _expense_state(page, ExpenseState.SUBMITTED)
    expect(page.locator("[data-action=approve]")).to_have_count(0)  # nobody approves their own request
    expense_url = page.url
    request = _fresh().scalar(select(ExpenseRequest))
    assert request.requested_by.phone == alliance_people["lead"] and len(request.receipts) == 1

    # A second lead sees the invoice and approves.
    _as(phone, alliance_people["co_lead"])
    phone.open(expense_url)
    assert expect_images_loaded(page.locator("main .photo-grid img")) == 1
    expect(page.get_by_test_id("payee-account")).to_have_text(BANK)
    _check(phone)
    page.locator("[data-action=approve]").click()
    _expense_state(page, ExpenseState.APPROVED)

    # The treasurer pays it by bank transfer: the ledger now shows it.
    _as(phone, alliance_people["treasurer"])
    phone.open(expense_url)
    page.locator("#method").select_option(PaymentMethod.BANK_TRANSFER.value)
    page.locator("#reference").fill("BT20261126001")
    _check(phone)
    page.locator("[data-action=pay]").click()
    _expense_state(page, ExpenseState.PAID)
    phone.open(fund_url)
    expect(page.get_by_test_id("balance")).to_have_text("¥10,400.00")

    # A shop owner reads the open books: the payment and the expense, but no receipts or bank account.
    _as(phone, alliance_people["owner"])
    phone.open(f"{fund_url}/entries")
    rows = page.locator("table.entries tbody tr")
    expect(rows.filter(has_text=PAYEE)).to_have_count(1)
    expect(rows.filter(has_text=PAYEE)).to_contain_text("-¥800.00")
    expect(rows.filter(has_text="愚园书店")).to_contain_text("¥1,200.00")
    expect(page.locator(f'main a[href*="/photos/{payment.receipt_photo_id}/"]')).to_have_count(0)
    phone.open(expense_url)
    _expense_state(page, ExpenseState.PAID)
    expect(page.locator("main")).to_contain_text(PAYEE)
    expect(page.locator("main")).not_to_contain_text(BANK)
    expect(page.locator("main .photo-grid img")).to_have_count(0)
    assert page.context.request.get(f"/photos/{payment.receipt_photo_id}/display").status == 404

    response = page.context.request.get(f"{fund_url}/entries.csv")
    assert response.ok
    body = response.body()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    expense_rows = [r for r in rows if PAYEE in r]
    assert len(expense_rows) == 1 and "-800.00" in expense_rows[0]
    assert not any(BANK in cell for row in rows for cell in row)


def test_every_page_of_the_books_fits_a_phone(app, phone: Phone, alliance_people):
    """The open books on a 390 px screen: nothing scrolls sideways (each line of a table is a card) and
    every button is big enough to tap, for the treasurer and for a member."""
    alliance_id, shop_id = alliance_people["alliance_id"], alliance_people["shop_id"]
    session = _fresh()
    fund = services.default_fund(session.get(Alliance, alliance_id))
    treasurer = session.scalar(select(User).where(User.phone == alliance_people["treasurer"]))
    shop = session.get(Shop, shop_id)
    pledge = pledges.create_pledge(treasurer, fund, shop, 300_00, pledges.today(), note="第一季度会费")
    services.record_entry(treasurer, fund,
                          services.EntryDetails(EntryKind.CONTRIBUTION, 100_00, pledge=pledge,
                                                method=PaymentMethod.WECHAT_PAY),
                          idempotency_key=uuid.uuid4().hex)
    fund_url = f"/alliances/{alliance_id}/fund"
    pages = [fund_url, f"{fund_url}/entries", f"{fund_url}/statement", f"{fund_url}/shops", f"{fund_url}/projects",
             f"{fund_url}/expenses", f"/shops/{shop_id}/money"]
    for login, extra in [(alliance_people["treasurer"], [f"{fund_url}/pledges", f"{fund_url}/pledges/new",
                                                        f"{fund_url}/record", f"{fund_url}/expenses/new"]),
                         (alliance_people["owner"], [])]:
        _as(phone, login)
        for path in pages + extra:
            phone.open(path)
            _check(phone)
            phone.screenshot(f"books-{login}-{path.strip('/').replace('/', '-')}")
    # The chart is drawn on the server: an <svg> in the page, no script, no request for an image.
    _as(phone, alliance_people["owner"])
    phone.open(fund_url)
    expect(phone.page.locator("main svg.chart")).to_have_count(1)
