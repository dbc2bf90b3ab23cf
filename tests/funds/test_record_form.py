"""The treasurer's "record money received" form on a phone: the street's shops can be searched by name or house
number, the receipt is photographed like every other photo, a refused entry comes back with everything typed, and
the entry list leads to the monthly statement."""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.models import LedgerEntry
from tests.fixtures.funds import key
from tests.helpers import login_as
from tests.projects.helpers import fresh_jpeg

pytestmark = pytest.mark.usefixtures("in_request")


def record_url(world) -> str:
    return f"/alliances/{world.a.alliance.id}/fund/record"


def tag(page: str, pattern: str) -> str:
    """The one opening tag of the page that matches `pattern`."""
    found = re.findall(rf"<{pattern}[^>]*>", page)
    assert len(found) == 1, (pattern, found)
    return found[0]


def entries(fund_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.fund_id == fund_id))


def test_the_shop_list_can_be_searched_and_the_receipt_photographed(world, fund):
    """The treasurer opens the form on a phone: a search box (shown by a small deferred script, since the site allows
    no inline script) filters the shop list; the receipt has the camera button, the preview and the shrinking that
    every photo form has, and the form shows its progress while the photo is sent."""
    page = login_as(world.a.treasurer).get(record_url(world)).get_data(as_text=True)

    assert re.search(r'<script src="/static/js/select-filter\.js[^"]*" defer></script>', page)
    box = tag(page, r'input type="search"[^>]*data-select-filter')
    assert 'data-select-filter="shop_id"' in box and " hidden" in box  # shown by the script only
    assert 'aria-label="' in box
    assert f'{world.a.shop.name} · {world.a.shop.house_number}</option>' in page

    form = tag(page, r'form method="post"[^>]*enctype')
    assert "data-upload-form" in form
    assert 'class="upload-progress"' in page
    field = re.search(r'<div class="field photo-field[^"]*" data-photo-field>.*?</div>\s*<ul class="photo-preview"',
                      page, re.S).group(0)
    camera = tag(field, r'input[^>]*capture="environment"')
    assert 'name="receipt"' in camera and 'accept="image/*"' in camera
    chooser = tag(field, r'input[^>]*id="receipt"')
    assert 'type="file"' in chooser and "image/jpeg" in chooser


def test_a_refused_entry_comes_back_with_everything_typed(world, fund):
    """A contribution without its shop is refused: the form comes back with every value as typed, the refusal
    says what to fix, and — since no browser sends a chosen photo twice — it asks for the receipt photo again.
    Nothing is recorded."""
    browser = login_as(world.a.treasurer)
    typed = {"kind": "contribution", "amount": "1,280.50", "shop_id": 0, "pledge_id": 0,
             "counterparty": "静安寺街道办事处", "method": "wechat_pay", "reference": "4200002026112612345",
             "occurred_on": "2026-11-28", "purpose": "十一月会费（微信转账）"}
    response = browser.post(record_url(world), data=typed | {
        "idempotency_key": key(), "receipt": (io.BytesIO(fresh_jpeg()), "微信转账截图.jpg")},
        content_type="multipart/form-data")

    assert response.status_code == 200
    page = html.unescape(response.get_data(as_text=True))
    assert "A contribution comes from a shop: choose which." in page
    for name in ("amount", "counterparty", "reference", "occurred_on"):
        assert f'value="{typed[name]}"' in tag(page, rf'input[^>]*name="{name}"'), name
    assert re.search(r'<textarea[^>]*name="purpose"[^>]*>\s*十一月会费（微信转账）</textarea>', page)
    for name, value in (("kind", "contribution"), ("method", "wechat_pay")):
        assert re.search(rf'<select[^>]*name="{name}".*?<option selected value="{value}">', page, re.S), name
    assert 'data-testid="photos-again"' in page
    assert entries(fund.id) == 0


def test_a_refusal_without_a_receipt_does_not_ask_for_one(world, fund):
    """When no receipt was chosen, there is nothing to choose again: no such notice."""
    response = login_as(world.a.treasurer).post(record_url(world), data={
        "idempotency_key": key(), "kind": "contribution", "amount": "10", "shop_id": 0, "pledge_id": 0,
        "method": "cash"})
    page = response.get_data(as_text=True)
    assert "A contribution comes from a shop" in html.unescape(page)
    assert 'data-testid="photos-again"' not in page


def test_an_entry_with_its_receipt_photo_is_recorded(world, fund):
    """The same form, filled in right, records the contribution with its receipt photo."""
    response = login_as(world.a.treasurer).post(record_url(world), data={
        "idempotency_key": key(), "kind": "contribution", "amount": "300", "shop_id": world.a.shop.id,
        "pledge_id": 0, "method": "wechat_pay", "receipt": (io.BytesIO(fresh_jpeg()), "receipt.jpg")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.fund_id == fund.id))
    assert entry.amount_fen == 300_00 and entry.shop_id == world.a.shop.id and entry.receipt_photo_id is not None


def test_the_entry_list_links_to_the_monthly_statement(world, fund):
    """A member reading the entries finds the monthly statement from there, of the same fund."""
    browser = login_as(world.a.owner)
    page = browser.get(f"/alliances/{world.a.alliance.id}/fund/entries").get_data(as_text=True)
    link = re.search(r'<a [^>]*data-testid="statement-link"[^>]*>([^<]*)</a>', page)
    assert link and "Monthly statement" in link.group(1)
    assert f'href="/alliances/{world.a.alliance.id}/fund/statement"' in link.group(0)

    reserve = services.create_fund(world.a.lead, world.a.alliance, "备用金", idempotency_key=key())
    db.session.commit()
    page = browser.get(f"/alliances/{world.a.alliance.id}/fund/entries?fund={reserve.id}").get_data(as_text=True)
    link = re.search(r'<a [^>]*data-testid="statement-link"[^>]*>', page).group(0)
    assert f'/fund/statement?fund={reserve.id}"' in link
    assert browser.get(f"/alliances/{world.a.alliance.id}/fund/statement?fund={reserve.id}").status_code == 200
