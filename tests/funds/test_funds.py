"""More than one fund: a lead opens a reserve fund; its money, pages and links are kept apart from the main one."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.models import EntryKind, Fund
from tests.fixtures.funds import entry
from tests.helpers import login_as


def fund_count() -> int:
    return db.session.scalar(select(func.count(Fund.id)))


def test_a_lead_opens_a_reserve_fund_and_its_books_are_kept_apart(client, world):
    alliance = world.a.alliance
    main = services.default_fund(alliance)
    entry(main, EntryKind.SUBSIDY, 1_000_00, by=world.a.treasurer, counterparty="街道")
    login_as(world.a.lead, client)
    response = client.post(f"/alliances/{alliance.id}/funds", data={"name": "备用金"})
    reserve = db.session.scalar(select(Fund).where(Fund.name == "备用金"))
    assert reserve is not None and not reserve.is_default and reserve.alliance_id == alliance.id
    assert response.headers["Location"].endswith(f"/alliances/{alliance.id}/fund?fund={reserve.id}")
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "fund")) == "fund.created"

    login_as(world.a.treasurer, client)
    page = client.get(f"/alliances/{alliance.id}/fund/record?fund={reserve.id}").get_data(as_text=True)
    assert "备用金" in page
    form_key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)
    client.post(f"/alliances/{alliance.id}/fund/record?fund={reserve.id}", data={
        "idempotency_key": form_key, "kind": "donation", "amount": "300", "counterparty": "赞助商", "method": "cash",
        "shop_id": 0, "pledge_id": 0,
    })
    assert (services.balance_fen(reserve.id), services.balance_fen(main.id)) == (300_00, 1_000_00)

    overview = client.get(f"/alliances/{alliance.id}/fund?fund={reserve.id}").get_data(as_text=True)
    assert "¥300.00" in overview and "备用金" in overview
    # Links from the reserve fund's page stay on the reserve fund.
    assert f"/alliances/{alliance.id}/fund/statement?fund={reserve.id}" in overview
    assert f"/alliances/{alliance.id}/fund/entries?fund={reserve.id}" in overview
    main_page = client.get(f"/alliances/{alliance.id}/fund").get_data(as_text=True)
    assert "¥1,000.00" in main_page and "statement?fund=" not in main_page


def test_a_fund_of_another_alliance_is_not_found_and_only_a_lead_opens_funds(client, world):
    other = services.default_fund(world.b.alliance)
    db.session.commit()
    login_as(world.a.treasurer, client)  # who may reach every one of these pages for the main fund
    for path in ("fund", "fund/entries", "fund/statement", "fund/record", "fund/expenses"):
        assert client.get(f"/alliances/{world.a.alliance.id}/{path}?fund={other.id}").status_code == 404, path
    before = fund_count()
    for user in (world.a.treasurer, world.a.owner, world.a.officer, world.b.lead):
        login_as(user, client)
        assert client.post(f"/alliances/{world.a.alliance.id}/funds", data={"name": "小金库"}).status_code in (403, 404)
    assert fund_count() == before


@pytest.mark.parametrize("name", ["备用金", "", "   ", "长" * 101, services.DEFAULT_FUND_NAME],
                         ids=["taken", "empty", "blank", "too-long", "the-main-funds"])
def test_a_fund_needs_a_name_of_its_own(client, world, name):
    login_as(world.a.lead, client)
    url = f"/alliances/{world.a.alliance.id}/funds"
    client.post(url, data={"name": "备用金"})
    before = fund_count()
    response = client.post(url, data={"name": name}, follow_redirects=True)
    assert response.status_code == 200
    assert "flash-error" in response.get_data(as_text=True)
    assert fund_count() == before
