"""Amounts typed into the fund's forms. A mistake is shown under the field it is in, with what was typed, and
nothing is recorded; zero is an amount only where it means something (no threshold, a cap of nothing)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, pledges, services
from merchant_alliance.funds.models import EntryKind, LedgerEntry, PaymentMethod
from merchant_alliance.funds.shares import ShareRule
from merchant_alliance.timeutil import local_day_start_utc
from tests.funds.test_budgets import RULE, approved_project, books, key
from tests.helpers import login_as

pytestmark = pytest.mark.usefixtures("in_request")  # services called directly tell people, with links


def field_block(page: str, name: str) -> str:
    """The part of the page that shows the form field `name`: its label, input, hint and errors."""
    blocks = re.split(r'(?=<div class="field[ "])', page)
    found = [block for block in blocks if re.search(rf'<(input|select|textarea)[^>]*\bname="{name}"', block)]
    assert len(found) == 1, f"no field {name} on the page"
    return found[0]


def errors_under(page: str, name: str) -> list[str]:
    """The messages shown under the form field `name`."""
    return [html.unescape(m) for m in re.findall(r'<p class="error">(.*?)</p>', field_block(page, name))]


def shown_in(page: str, name: str) -> str:
    """What the input `name` shows."""
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', page).group(0)
    value = re.search(r'\bvalue="([^"]*)"', tag)
    return html.unescape(value.group(1)) if value else ""


@dataclass(frozen=True)
class MoneyForm:
    """One of the fund's forms with an amount in it: who fills it in, where, and a sensible filling."""

    name: str
    who: str  # a member of the `cast`
    url: Callable  # (world, project) -> str
    good: Callable  # (world) -> the form's fields, the amount field left to the test
    field: str  # the money field


def upcoming(days: int = 30) -> str:
    return (pledges.today() + timedelta(days=days)).isoformat()


MONEY_FORMS = [
    MoneyForm("entry", "treasurer", lambda w, p: f"/alliances/{w.a.alliance.id}/fund/record",
              lambda w: {"idempotency_key": key(), "kind": "donation", "counterparty": "赞助商", "method": "cash",
                         "shop_id": 0, "pledge_id": 0}, "amount"),
    MoneyForm("budget", "lead", lambda w, p: f"/projects/{p.id}/budget", lambda w: {"split": "rule"}, "budget"),
    MoneyForm("pledge", "owner", lambda w, p: f"/alliances/{w.a.alliance.id}/fund/pledges/new",
              lambda w: {"idempotency_key": key(), "shop_id": w.a.shop.id, "project_id": 0, "due_on": upcoming()},
              "amount"),
    MoneyForm("expense", "treasurer", lambda w, p: f"/alliances/{w.a.alliance.id}/fund/expenses/new",
              lambda w: {"idempotency_key": key(), "payee": "鑫达广告工程部", "purpose": "定金", "project_id": 0,
                         "refund_shop_id": 0, "save_as_draft": "y"}, "amount"),
    MoneyForm("fund cap", "lead", lambda w, p: f"/alliances/{w.a.alliance.id}/fund/rules",
              lambda w: {"fund_percent": "30", "two_approvals_above": "5000", "shop_share_cover": "pledged"},
              "fund_cap"),
    MoneyForm("two approvals above", "lead", lambda w, p: f"/alliances/{w.a.alliance.id}/fund/rules",
              lambda w: {"fund_percent": "30", "fund_cap": "3000", "shop_share_cover": "pledged"},
              "two_approvals_above"),
]
BY_NAME = {form.name: form for form in MONEY_FORMS}


@pytest.fixture
def project(world):
    return approved_project(world.a.owner, world.a.shop)


@pytest.mark.parametrize(("typed", "message"), [
    ("12.345", "Amounts have at most two decimals (fen)."),
    ("abc", "abc is not an amount in yuan, e.g. 1234.50."),
    ("-5", "The amount cannot be negative."),
    ("1" * 41, "is not an amount in yuan"),
])
@pytest.mark.parametrize("form", MONEY_FORMS, ids=lambda f: f.name)
def test_a_bad_amount_is_shown_under_its_field_as_typed_and_nothing_is_recorded(app, world, cast, fund, project,
                                                                                 form, typed, message):
    """Whoever fills in a money form and mistypes the amount sees why right under it, with what they typed
    still there to correct; the fund's books stay as they were."""
    browser = login_as(getattr(cast, form.who))
    before = books(app)
    response = browser.post(form.url(world, project), data=form.good(world) | {form.field: typed})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert any(message in error for error in errors_under(page, form.field)), errors_under(page, form.field)
    assert shown_in(page, form.field) == typed
    assert books(app) == before


@pytest.mark.parametrize("form", [f for f in MONEY_FORMS if f.name not in ("fund cap", "two approvals above")],
                         ids=lambda f: f.name)
def test_an_amount_of_zero_is_refused_where_money_must_move(app, world, cast, fund, project, form):
    """Recording, pledging, asking for or budgeting ¥0 is a mistake: said under the amount, nothing saved."""
    browser = login_as(getattr(cast, form.who))
    before = books(app)
    response = browser.post(form.url(world, project), data=form.good(world) | {form.field: "0"})
    assert response.status_code == 200
    assert errors_under(response.get_data(as_text=True), form.field) == ["The amount must be more than zero."]
    assert books(app) == before


def test_zero_is_a_threshold_and_a_cap_in_the_funds_rules(world, cast, fund):
    """A lead sets “every expense needs two leads” (above ¥0) and “the fund pays nothing by default” (a cap of
    ¥0): both are rules, not mistakes; an empty cap means no cap."""
    browser = login_as(cast.lead)
    url = f"/alliances/{world.a.alliance.id}/fund/rules"
    rules = {"fund_percent": "30", "fund_cap": "0", "two_approvals_above": "0.00", "shop_share_cover": "paid"}
    assert browser.post(url, data=rules).status_code == 302
    db.session.refresh(fund)
    assert (fund.fund_cap_fen, fund.two_approvals_above_fen) == (0, 0)
    page = browser.get(url).get_data(as_text=True)
    assert (shown_in(page, "fund_cap"), shown_in(page, "two_approvals_above")) == ("0.00", "0.00")

    assert browser.post(url, data=rules | {"fund_cap": "", "two_approvals_above": "1,000"}).status_code == 302
    db.session.refresh(fund)
    assert (fund.fund_cap_fen, fund.two_approvals_above_fen) == (None, 1_000_00)

    response = browser.post(url, data=rules | {"two_approvals_above": ""})  # no threshold is not a rule
    assert errors_under(response.get_data(as_text=True), "two_approvals_above") == ["Please enter an amount."]
    db.session.refresh(fund)
    assert fund.two_approvals_above_fen == 1_000_00


@pytest.mark.parametrize(("split", "typed", "field", "message"), [
    ("amount", {"fund_share": "abc"}, "fund_share", "abc is not an amount in yuan"),
    ("amount", {"subsidy_share": "12.345"}, "subsidy_share", "Amounts have at most two decimals (fen)."),
    ("amount", {"subsidy_share": "-1"}, "subsidy_share", "The amount cannot be negative."),
    ("percent", {"fund_share": "NaN"}, "fund_share", "A percentage is a number between 0 and 100, e.g. 30 or 12.5."),
    ("percent", {"subsidy_share": "zwanzig"}, "subsidy_share", "A percentage is a number between 0 and 100"),
    ("percent", {"fund_share": "101"}, "fund_share", "A percentage must be between 0 and 100."),
    ("percent", {"subsidy_share": "-5"}, "subsidy_share", "A percentage must be between 0 and 100."),
])
def test_a_bad_share_of_the_budget_is_shown_under_that_share(app, cast, fund, project, split, typed, field, message):
    """The lead splits a budget by hand and mistypes one share: the message is under that share, not under the
    budget, and the budget stays as it was."""
    browser = login_as(cast.lead)
    before = books(app)
    data = {"budget": "12000", "split": split, "subsidy_source": "静安寺街道办", **typed}
    response = browser.post(f"/projects/{project.id}/budget", data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert any(message in error for error in errors_under(page, field)), errors_under(page, field)
    assert errors_under(page, "budget") == []
    assert shown_in(page, field) == typed[field] and shown_in(page, "budget") == "12000"
    assert books(app) == before


def test_a_budget_to_change_is_shown_in_yuan(cast, fund, project):
    """The lead opens a budget set before: the budget and the shares are there in yuan, ready to change."""
    budgets.set_budget(cast.lead, project, 12_345_60, ShareRule(fund_fen=2_000_00, subsidy_fen=1_000_50),
                       subsidy_source="静安寺街道办")
    page = login_as(cast.lead).get(f"/projects/{project.id}/budget").get_data(as_text=True)
    assert [shown_in(page, name) for name in ("budget", "fund_share", "subsidy_share", "subsidy_source")] == [
        "12345.60", "2000.00", "1000.50", "静安寺街道办"]


@pytest.mark.parametrize(("form", "mistakes"), [
    ("entry", {"amount": "abc", "occurred_on": "next week"}),
    ("fund cap", {"fund_cap": "-1", "fund_percent": "abc"}),
    ("pledge", {"amount": "12.345", "due_on": "soon"}),
])
def test_every_mistake_in_a_money_form_is_shown_at_once(app, world, cast, fund, project, form, mistakes):
    """Two fields wrong: both are marked on the first try, not one after the other."""
    form = BY_NAME[form]
    browser = login_as(getattr(cast, form.who))
    before = books(app)
    response = browser.post(form.url(world, project), data=form.good(world) | mistakes)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert all(errors_under(page, name) for name in mistakes), {name: errors_under(page, name) for name in mistakes}
    assert books(app) == before


def test_a_payment_on_a_pledge_is_recorded_as_the_treasurer_typed_it(world, cast, fund, project):
    """Every field of the treasurer's form lands in the entry: the shop and the project come from the pledge."""
    budgets.set_budget(cast.lead, project, 12_000_00, RULE)
    pledge = pledges.create_pledge(cast.owner, fund, world.a.shop, 9_000_00, pledges.today() + timedelta(days=30),
                                   project=project)
    browser = login_as(cast.treasurer)
    url = f"/alliances/{world.a.alliance.id}/fund/record"
    assert "¥9,000.00 by" in browser.get(url).get_data(as_text=True)  # the open pledge is offered
    yesterday = pledges.today() - timedelta(days=1)
    response = browser.post(url, data={
        "idempotency_key": key(), "kind": "contribution", "amount": "¥1,000.5", "shop_id": 0,
        "pledge_id": pledge.id, "method": "bank_transfer", "reference": "BT20261129", "purpose": "首期",
        "occurred_on": yesterday.isoformat(),
    }, follow_redirects=True)
    assert "Recorded: Contribution of ¥1,000.50." in html.unescape(response.get_data(as_text=True))
    entry = db.session.scalar(select(LedgerEntry))
    assert (entry.kind, entry.amount_fen, entry.shop_id, entry.project_id, entry.pledge_id) == (
        EntryKind.CONTRIBUTION, 1_000_50, world.a.shop.id, project.id, pledge.id)
    assert (entry.method, entry.reference, entry.purpose, entry.occurred_on) == (
        PaymentMethod.BANK_TRANSFER, "BT20261129", "首期", local_day_start_utc(yesterday))
    assert services.balance_fen(fund.id) == 1_000_50


def test_required_amounts_are_marked_and_the_optional_cap_is_not(world, cast, fund, project):
    """The star says which amounts must be filled in; on a phone the keypad for numbers comes up."""
    for form in MONEY_FORMS:
        page = login_as(getattr(cast, form.who)).get(form.url(world, project)).get_data(as_text=True)
        block = field_block(page, form.field)
        assert ('class="required"' in block) == (form.name != "fund cap"), form.name
        assert 'inputmode="decimal"' in block, form.name
