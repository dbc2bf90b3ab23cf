"""The treasurer records a shop's payment on a phone: finds the shop among the street's many by typing part of its
name or its house number, photographs the receipt with the camera button, records it, and goes on from the entry
list to the monthly statement. A screen reader hears which field each photo button belongs to and how many
notifications wait."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, expect
from sqlalchemy import select

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.accounts.services import grant_role
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import EntryKind, LedgerEntry
from merchant_alliance.notifications import services as notifications
from merchant_alliance.projects.models import ProjectState
from merchant_alliance.shops.models import Shop
from tests import factories
from tests.browser.conftest import Phone, translated, write_jpeg
from tests.fixtures.projects import make_project

pytestmark = pytest.mark.browser

ZH = "zh_CN"
UPLOAD_TIMEOUT = 20_000
# A street's worth of shops: the one the treasurer wants is found by a piece of its name or its house number.
BAKERIES = [("街角面包房", "1203"), ("老面包作坊", "1311")]
OTHERS = [(f"{kind}{n}号店", str(1000 + 2 * n)) for n, kind in enumerate(["花店", "茶叶", "五金", "眼镜", "文具",
                                                                         "咖啡", "书店", "药房", "鞋店", "水果"] * 3)]


@pytest.fixture
def street(app):
    """Yuyuan Road with 32 shops, its treasurer (two notifications unread) and a shop owner."""
    alliance = factories.AllianceFactory(name="愚园路商家联盟")
    shops = {name: factories.ShopFactory(alliance=alliance, name=name, house_number=number)
             for name, number in BAKERIES + OTHERS}
    treasurer = factories.UserFactory(name="李会计")
    grant_role(treasurer, Role.TREASURER, alliance=alliance)
    grant_role(factories.UserFactory(name="王会长"), Role.ALLIANCE_LEAD, alliance=alliance)
    owner = factories.UserFactory(name="陈老板")
    grant_role(owner, Role.SHOP_OWNER, shop=shops["街角面包房"])
    db.session.commit()
    for _ in range(2):
        notifications.notify([treasurer.id], "Notifications")
    people = {"alliance_id": alliance.id, "street_id": alliance.street_id, "bakery_id": shops["街角面包房"].id,
              "treasurer": treasurer.phone,
              "owner_id": owner.id, "owner": owner.phone}
    db.session.commit()  # and no transaction left open: the live server writes to the same SQLite file
    return people


def offered(select_box: Locator) -> list[str]:
    """The shops the select offers now (its empty choice aside), as the person sees them in the list."""
    return select_box.evaluate(
        "(s) => [...s.options].filter((o) => !o.hidden && o.value !== '0' && o.value !== '').map((o) => o.text)")


def test_the_treasurer_finds_the_shop_photographs_the_receipt_and_reads_the_statement(app, phone: Phone, street,
                                                                                       tmp_path):
    page = phone.page
    t = lambda message: translated(app, ZH, message)  # noqa: E731
    receipt = write_jpeg(tmp_path / "微信转账截图.jpg", (900, 1600), colour=(30, 160, 80))
    phone.log_in(street["treasurer"], factories.PASSWORD)

    # The bell says what it shows: the count is in its name (nothing hidden behind an aria-label).
    expect(page.get_by_test_id("unread-count")).to_have_text("2")
    expect(page.locator("a.bell")).to_have_accessible_name(f"{t('Notifications')} 2 {t('unread')}")

    phone.open(f"/alliances/{street['alliance_id']}/fund/record")
    page.get_by_label(t("What is it?")).select_option(EntryKind.CONTRIBUTION.value)
    page.get_by_label(t("Amount (yuan)")).fill("1,200")

    # 32 shops: typing part of a name leaves the matching ones; a house number, the one shop.
    shops = page.get_by_role("combobox", name=t("From which shop"))
    assert len(offered(shops)) == len(BAKERIES + OTHERS)
    search = page.get_by_role("searchbox", name=t("Search shops by name or number"))
    expect(search).to_be_visible()
    search.fill("面包")
    assert sorted(offered(shops)) == sorted(f"{name} · {number}" for name, number in BAKERIES)
    search.fill("1203")
    assert offered(shops) == ["街角面包房 · 1203"]
    shops.select_option(label="街角面包房 · 1203")
    page.get_by_label(t("How it was paid")).select_option("wechat_pay")
    page.get_by_label(t("Reference number")).fill("4200002026112612345")

    # The receipt: the camera button opens the camera (capture), and the photo shows before it is sent.
    field = page.locator("[data-photo-field]")
    camera = field.get_by_text(t("Take a photo"), exact=True)
    with page.expect_file_chooser() as chooser:
        camera.click()
    assert chooser.value.element.get_attribute("capture") == "environment"
    chooser.value.set_files(receipt)
    expect(field.get_by_role("listitem")).to_contain_text(receipt.name)
    label = t("Photo of the receipt or voucher (optional)")
    inputs = field.locator("input[type=file]")
    expect(inputs.first).to_have_accessible_name(f"{t('Take a photo')} {label}")
    expect(inputs.last).to_have_accessible_name(f"{t('Choose photos')} {label}")
    phone.check_layout()

    db.session.rollback()  # the translations above read with the test's session: leave the file to the server
    page.get_by_role("button", name=t("Record it")).click()
    expect(page).to_have_url(re.compile(rf"/alliances/{street['alliance_id']}/fund$"), timeout=UPLOAD_TIMEOUT)
    phone.check_layout()
    db.session.rollback()
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.CONTRIBUTION))
    assert (entry.amount_fen, entry.shop_id) == (1_200_00, street["bakery_id"]) and entry.receipt_photo_id

    # From the entries, the monthly statement is one visible tap away.
    page.get_by_role("link", name=t("All entries"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/fund/entries$"))
    phone.check_layout()
    statement = page.get_by_role("link", name=t("Monthly statement"), exact=True)
    expect(statement).to_be_in_viewport()
    statement.click()
    expect(page).to_have_url(re.compile(r"/fund/statement$"))
    phone.check_layout()
    expect(page.locator("main")).to_contain_text("街角面包房")


def test_each_photo_button_says_which_photo_it_takes(app, phone: Phone, street):
    """A design version asks for two kinds of photos: a screen reader hears "choose photos" followed by which
    photos, so the two "choose photos" buttons of the page are told apart."""
    t = lambda message: translated(app, ZH, message)  # noqa: E731
    project = make_project(ProjectState.DRAFT, by=db.session.get(User, street["owner_id"]),
                           shop=db.session.get(Shop, street["bakery_id"]))
    project_id = project.id
    db.session.commit()
    phone.log_in(street["owner"], factories.PASSWORD)
    expect(phone.page.get_by_test_id("unread-count")).to_have_count(0)
    expect(phone.page.locator("a.bell")).to_have_accessible_name(t("Notifications"))  # nothing new, no number

    phone.open(f"/projects/{project_id}/versions/new")
    buttons = phone.page.locator("[data-photo-field] input[type=file]")
    names = [f"{t('Choose photos')} {t('Mock-ups of the new design')}",
             f"{t('Take a photo')} {t('Photos of the sign as it is now')}",
             f"{t('Choose photos')} {t('Photos of the sign as it is now')}"]
    expect(buttons).to_have_count(len(names))
    for button, name in zip(buttons.all(), names, strict=True):
        expect(button).to_have_accessible_name(name)


def test_a_passer_by_finds_the_shop_to_report_the_same_way(app, phone: Phone, street):
    """The hazard report form searches its shop list with the same script: a piece of the name is enough."""
    phone.open(f"/streets/{street['street_id']}/report")
    search = phone.page.get_by_role("searchbox", name=translated(app, ZH, "Search by name or number"))
    search.fill("面包")
    shops = phone.page.locator("select#shop")
    assert sorted(offered(shops)) == sorted(f"{number} · {name}" for name, number in BAKERIES)
    search.fill("")
    assert len(offered(shops)) == len(BAKERIES + OTHERS)
