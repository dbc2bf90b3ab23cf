"""An alliance lead fills the register from a spreadsheet, on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from merchant_alliance.accounts.models import Role
from tests import factories

pytestmark = pytest.mark.browser

# What Excel writes for "CSV UTF-8": a byte-order mark, Chinese headers, CRLF line ends.
REGISTER_CSV = (
    "店名,门牌号,门面宽度,业态,联系电话\r\n"
    "梧桐书店,1020号,4.5,文化,139 1234 5678\r\n"
    "弄堂面馆,1022-1,3,餐饮,021-62345678\r\n"
)


def test_lead_imports_shops_from_a_csv_file(phone, tmp_path):
    alliance = factories.AllianceFactory(name="愚园路商家联盟")
    factories.ShopFactory(alliance=alliance, name="小店愚园咖啡", house_number="1018")
    lead = factories.user_with_role(Role.ALLIANCE_LEAD, alliance=alliance)
    csv_file = tmp_path / "愚园路商户.csv"
    csv_file.write_text(REGISTER_CSV, encoding="utf-8-sig", newline="")
    page = phone.page

    phone.log_in(lead.phone, factories.PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    phone.follow_menu_link(f"/alliances/{alliance.id}/shops")
    page.locator(f'main a[href="/alliances/{alliance.id}/shops/import"]').click()
    expect(page).to_have_url(re.compile(r"/shops/import$"))
    phone.check_layout()

    page.locator("#file").set_input_files(csv_file)
    phone.submit()
    expect(page.get_by_test_id("import-ok")).to_be_visible()
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("梧桐书店")
    expect(rows.nth(0)).to_contain_text("13912345678")
    expect(rows.nth(1)).to_contain_text("弄堂面馆")
    phone.check_layout()
    phone.screenshot("import-preview")

    page.locator("main form:has(input[name=step][value=confirm]) button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/alliances/{alliance.id}/shops$"))
    expect(page.locator(".flash-success")).to_be_visible()
    names = page.locator("main .shop-row .shop-name")
    expect(names).to_have_text(["小店愚园咖啡", "梧桐书店", "弄堂面馆"])
    phone.check_layout()
