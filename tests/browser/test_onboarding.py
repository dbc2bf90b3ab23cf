"""A shop owner's first day, on a phone: invited by the alliance lead, sets a password, logs in,
switches language and finds their shop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from merchant_alliance.accounts.models import Role
from tests import factories
from tests.browser.conftest import translated

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Yuyuan-Shop-2026"
OWNER_PHONE = "13912340001"


@pytest.fixture
def alliance_with_lead(app):
    """An alliance with one shop that has no owner yet, and its lead."""
    alliance = factories.AllianceFactory(name="愚园路商家联盟")
    shop = factories.ShopFactory(alliance=alliance, name="小店愚园咖啡", house_number="1018",
                                 licence_number="91310106MA1FY2K43X")
    lead = factories.user_with_role(Role.ALLIANCE_LEAD, alliance=alliance)
    return alliance.id, shop.id, shop.name, lead.phone


def test_invited_owner_sets_a_password_logs_in_switches_language_and_sees_the_shop(phone, alliance_with_lead):
    alliance_id, shop_id, shop_name, lead_phone = alliance_with_lead
    page = phone.page

    # The alliance lead logs in on their phone and invites the owner of a shop in the register.
    phone.open("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    phone.screenshot("landing")
    phone.log_in(lead_phone, factories.PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    phone.check_layout()
    phone.follow_menu_link(f"/alliances/{alliance_id}/shops")
    phone.screenshot("register")
    page.get_by_role("link", name=re.compile(shop_name)).click()
    expect(page).to_have_url(re.compile(rf"/shops/{shop_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(shop_name)
    phone.check_layout()
    page.locator(f'main a[href="/shops/{shop_id}/invite"]').click()
    expect(page).to_have_url(re.compile(rf"/shops/{shop_id}/invite$"))
    phone.check_layout()
    phone.screenshot("invite")
    page.locator("#name").fill("陈老板")
    page.locator("#phone").fill(OWNER_PHONE)
    phone.submit()
    link = page.get_by_test_id("invite-link")
    expect(link).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/invite/\S+$"))
    phone.check_layout()
    phone.screenshot("invitation-created")
    invitation_url = link.input_value()
    phone.open(f"/shops/{shop_id}")
    expect(page.locator("main .status-pending")).to_have_count(1)
    edit = page.locator(f'main a[href="/shops/{shop_id}/edit"]').bounding_box()
    deactivate = page.locator(f'main form[action="/shops/{shop_id}/active"] button').bounding_box()
    assert edit["y"] == deactivate["y"], "the shop's action buttons should sit on one row"
    phone.screenshot("shop-lead")
    phone.log_out()

    # The owner opens the link, chooses a password and is logged in, straight to their shop.
    phone.open(invitation_url)
    expect(page.locator("#name")).to_have_value("陈老板")
    expect(page.locator("#phone")).to_have_value(OWNER_PHONE)
    phone.screenshot("accept-invitation")
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#confirm").fill(NEW_PASSWORD)
    phone.submit()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("my-shop")).to_have_text(shop_name)
    expect(page.locator(".flash-success")).to_be_visible()
    phone.check_layout()
    phone.screenshot("dashboard")
    phone.log_out()

    # Later they log in again with their mobile number and the new password.
    phone.log_in(OWNER_PHONE, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("my-shop")).to_have_text(shop_name)

    # English, please: the menu switches it, and the choice survives a reload.
    phone.switch_language("en")
    expect(page.get_by_role("heading", name="My shops")).to_be_visible()
    expect(page.locator(".lang-switch button[aria-pressed=true]")).to_have_attribute("value", "en")
    phone.check_layout()
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="My shops")).to_be_visible()
    phone.open_menu()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    phone.check_layout()
    phone.screenshot("menu-en")

    # Back to Chinese, then to the shop's page.
    phone.switch_language("zh_CN")
    expect(page.locator(".lang-switch button[aria-pressed=true]")).to_have_attribute("value", "zh_CN")
    page.get_by_test_id("my-shop").click()
    expect(page).to_have_url(re.compile(rf"/shops/{shop_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(shop_name)
    expect(page.locator("main")).to_contain_text("陈老板")
    phone.check_layout()
    phone.screenshot("shop")


def test_failed_login_says_why_in_the_chosen_language(app, phone, alliance_with_lead):
    *_, lead_phone = alliance_with_lead
    page = phone.page
    message = "Wrong mobile number, email or password."

    phone.open("/login")
    phone.screenshot("login")
    phone.log_in(lead_phone, "not-the-password")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash-error")).to_have_text(translated(app, "zh_CN", message))
    expect(page.locator("#password")).to_have_value("")
    phone.check_layout()
    phone.screenshot("login-failed")

    phone.switch_language("en")
    phone.log_in(lead_phone, "still-not-the-password")
    expect(page.locator(".flash-error")).to_have_text(message)
    expect(page.get_by_label("Mobile number or email")).to_have_value(lead_phone)
    phone.check_layout()
