"""The fund's pages: the treasurer records money through the form; members read the open books."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.models import EntryKind, LedgerEntry
from merchant_alliance.photos.models import Photo
from tests.fixtures.funds import entries, entry
from tests.helpers import counted_queries, login_as


def entry_count() -> int:
    return db.session.scalar(select(func.count(LedgerEntry.id)))


def form_key(client, alliance_id: int) -> str:
    page = client.get(f"/alliances/{alliance_id}/fund/record").get_data(as_text=True)
    return re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)


def receipt_jpeg() -> tuple[io.BytesIO, str]:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
    buffer.seek(0)
    return buffer, "收据.jpg"


def test_the_treasurer_records_a_wechat_payment_once_even_when_the_form_is_sent_twice(client, world):
    login_as(world.a.treasurer, client)
    alliance_id = world.a.alliance.id
    key = form_key(client, alliance_id)
    for _ in range(2):  # a double tap on a slow connection
        response = client.post(f"/alliances/{alliance_id}/fund/record", data={
            "idempotency_key": key, "kind": "contribution", "amount": "¥1,234.5", "shop_id": world.a.shop.id,
            "method": "wechat_pay", "reference": "4200001234", "purpose": "店招改造出资",
            "receipt": receipt_jpeg(),
        }, content_type="multipart/form-data")
        assert response.status_code == 302
    assert entry_count() == 1
    entry = db.session.scalar(select(LedgerEntry))
    assert entry.amount_fen == 123_450 and entry.receipt_photo_id is not None
    overview = client.get(f"/alliances/{alliance_id}/fund", follow_redirects=True).get_data(as_text=True)
    assert "¥1,234.50" in overview


@pytest.mark.parametrize("amount", ["-5", "1e9", "12.345", "abc", "", "¥-0.01", "999999999999"])
def test_a_bad_amount_gets_a_clear_message_and_records_nothing(client, world, amount):
    login_as(world.a.treasurer, client)
    response = client.post(f"/alliances/{world.a.alliance.id}/fund/record", data={
        "idempotency_key": "k1", "kind": "contribution", "amount": amount, "shop_id": world.a.shop.id,
        "method": "cash",
    })
    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    assert entry_count() == 0


def test_a_bad_receipt_file_records_no_money_and_stores_nothing(client, world):
    login_as(world.a.treasurer, client)
    response = client.post(f"/alliances/{world.a.alliance.id}/fund/record", data={
        "idempotency_key": "k2", "kind": "contribution", "amount": "100", "shop_id": world.a.shop.id,
        "method": "cash", "receipt": (io.BytesIO(b"<html>not a photo</html>"), "receipt.jpg"),
    }, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "receipt.jpg" in response.get_data(as_text=True)
    assert entry_count() == 0
    assert db.session.scalar(select(func.count(Photo.id))) == 0


def test_members_see_the_books_but_not_the_receipts(client, world):
    fund = services.default_fund(world.a.alliance)
    buffer, name = receipt_jpeg()
    entry(fund, EntryKind.CONTRIBUTION, 500_00, by=world.a.treasurer, shop=world.a.shop, purpose="出资",
          receipt=FileStorage(buffer, name), idempotency_key="m1")
    login_as(world.a.owner, client)
    page = client.get(f"/alliances/{world.a.alliance.id}/fund/entries").get_data(as_text=True)
    assert "¥500.00" in page and "/photos/" not in page
    client.post("/logout")
    login_as(world.a.lead, client)
    page = client.get(f"/alliances/{world.a.alliance.id}/fund/entries").get_data(as_text=True)
    assert "/photos/" in page


def test_entries_filter_by_kind_and_reversal_through_the_page(client, world):
    fund = services.default_fund(world.a.alliance)
    contribution = entry(fund, EntryKind.CONTRIBUTION, 300_00, by=world.a.treasurer, shop=world.a.shop,
                         idempotency_key="f1")
    entry(fund, EntryKind.SUBSIDY, 200_00, by=world.a.treasurer, counterparty="静安寺街道办", idempotency_key="f2")
    login_as(world.a.treasurer, client)
    base = f"/alliances/{world.a.alliance.id}/fund/entries"
    only_subsidies = client.get(f"{base}?kind=subsidy").get_data(as_text=True)
    assert "静安寺街道办" in only_subsidies and "¥300.00" not in only_subsidies
    assert client.post(f"/fund/entries/{contribution.id}/reverse",
                       data={"idempotency_key": "r1", "reason": "记错店铺"}).status_code == 302
    assert client.post(f"/fund/entries/{contribution.id}/reverse",
                       data={"idempotency_key": "r2", "reason": "again"}).status_code == 302
    assert services.balance_fen(fund.id) == 200_00
    assert entry_count() == 3  # two entries and one reversal: the second reversal was refused


def test_the_entry_list_issues_as_many_queries_for_many_entries_as_for_few(app, client, world):
    fund = services.default_fund(world.a.alliance)
    login_as(world.a.lead, client)
    url = f"/alliances/{world.a.alliance.id}/fund/entries"

    def queries() -> int:
        with counted_queries() as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    entry(fund, EntryKind.CONTRIBUTION, 100, by=world.a.treasurer, shop=world.a.shop, idempotency_key="q0")
    few = queries()
    entries(fund, [(EntryKind.CONTRIBUTION, 100 + n, {"shop": world.a.other_shop if n % 2 else world.a.shop})
                   for n in range(1, 40)], by=world.a.treasurer)
    assert queries() == few
