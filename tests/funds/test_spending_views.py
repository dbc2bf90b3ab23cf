"""The fund's working pages, through their forms: budgets, pledges and arrears, expense requests and the rules.
Bad input gets a clear message and saves nothing; bank details and receipts stay with the alliance's staff."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from merchant_alliance.accounts.models import Role
from merchant_alliance.audit import action_label
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, expenses, pledges, services
from merchant_alliance.funds.models import (
    EntryKind,
    ExpenseRequest,
    ExpenseState,
    LedgerEntry,
    Pledge,
    ShareCover,
)
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects.models import ProjectState
from tests.factories import user_with_role
from tests.fixtures.funds import approved_project, entry, give, key, promise
from tests.funds.test_budgets import RULE, books
from tests.helpers import first_screen, login_as
from tests.projects.helpers import count, fresh_jpeg, put_in_state, stored_files, text_of, upload

pytestmark = pytest.mark.usefixtures("in_request")  # services called directly tell people, with links

ACCOUNT = "中国工商银行 静安支行 6222 0210 0101 2345 678"
# What people type into a money field by mistake, and the start of what they are told.
HOSTILE = [
    ("1e9", "1e9 is not an amount in yuan"),
    ("-5", "cannot be negative"),
    ("12.345", "at most two decimals"),
    ("abc", "abc is not an amount in yuan"),
    ("¥-0.01", "cannot be negative"),
    ("100000000.01", "larger than ¥100,000,000.00"),
]


def form_key(page: str) -> str:
    return re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)


def errors(response) -> list[str]:
    """The messages next to the form's fields."""
    return re.findall(r'<p class="error">(.*?)</p>', text_of(response))


def flashed(response) -> str:
    return " ".join(re.findall(r'<p class="flash flash-\w+">(.*?)</p>', text_of(response)))


def status(browser, url: str) -> int:
    """The status of a GET, its body read and closed (a photo is streamed from an open file)."""
    response = browser.get(url)
    response.get_data()
    response.close()
    return response.status_code


def jpeg(name: str = "发票.jpg") -> tuple[io.BytesIO, str]:
    return io.BytesIO(fresh_jpeg()), name


@pytest.fixture
def project(world):
    return approved_project(world.a.owner, world.a.shop)


# --- budgets -------------------------------------------------------------------------------------


def test_a_lead_sets_the_budget_by_the_rule_by_percentages_or_by_amounts(cast, fund, project):
    browser = login_as(cast.lead)
    url = f"/projects/{project.id}/budget"
    page = text_of(browser.get(url))
    assert "the fund pays 30% of the budget, at most ¥3,000.00" in page

    response = browser.post(url, data={"budget": "¥12,000", "split": "rule"}, follow_redirects=True)
    assert "Budget ¥12,000.00: shop ¥9,000.00, fund ¥3,000.00, subsidy ¥0.00." in flashed(response)
    assert response.request.path == f"/projects/{project.id}"

    browser.post(url, data={"budget": "100.01", "split": "percent", "fund_share": "33.33"})
    budget = budgets.budget_of(project)
    assert (budget.budget_fen, budget.fund_fen, budget.shop_fen) == (100_01, 33_33, 66_68)

    browser.post(url, data={"budget": "12000", "split": "amount", "fund_share": "2,000", "subsidy_share": "1000.50",
                            "subsidy_source": "静安寺街道办"})
    db.session.expire_all()
    budget = budgets.budget_of(project)
    assert (budget.shop_fen, budget.fund_fen, budget.subsidy_fen, budget.subsidy_source) == (
        8_999_50, 2_000_00, 1_000_50, "静安寺街道办")
    assert 'value="1000.50"' in browser.get(url).get_data(as_text=True)  # the form shows the saved shares

    # The owner reads the budget on the project page; only the leads may change it.
    owner = login_as(cast.owner)
    assert "¥8,999.50" in text_of(owner.get(f"/projects/{project.id}"))
    assert owner.get(url).status_code == 403
    assert owner.post(url, data={"budget": "1", "split": "rule"}).status_code == 403
    assert budgets.budget_of(project).budget_fen == 12_000_00


def test_bad_money_in_the_budget_form_gets_a_clear_message_and_saves_nothing(app, cast, fund, project):
    browser = login_as(cast.lead)
    url = f"/projects/{project.id}/budget"
    browser.post(url, data={"budget": "9000", "split": "rule"})
    cases = [({"budget": typed, "split": "rule"}, message) for typed, message in HOSTILE]
    cases += [({"budget": "12000", "split": "amount", "fund_share": typed}, message) for typed, message in HOSTILE]
    cases += [({"budget": "12000", "split": "amount", "subsidy_share": typed, "subsidy_source": "街道"}, message)
              for typed, message in HOSTILE]
    cases += [({"budget": "12000", "split": "percent", "fund_share": typed}, message) for typed, message in [
        ("abc", "A percentage is a number between 0 and 100"), ("NaN", "A percentage is a number between 0 and 100"),
        ("Infinity", "between 0 and 100"), ("101", "between 0 and 100"), ("-1", "between 0 and 100"),
    ]]
    cases += [
        ({"budget": "", "split": "rule"}, "Please enter an amount."),
        ({"budget": "0", "split": "rule"}, "more than zero"),
        ({"budget": "12000", "split": "amount", "fund_share": "7000", "subsidy_share": "6000",
          "subsidy_source": "街道"}, "more than the budget"),
        ({"budget": "12000", "split": "percent", "fund_share": "60", "subsidy_share": "41", "subsidy_source": "街道"},
         "more than the budget"),
        ({"budget": "12000", "split": "amount", "subsidy_share": "1000"}, "Say who gives the subsidy"),
    ]
    before = books(app)
    for data, message in cases:
        response = browser.post(url, data=data)
        assert response.status_code == 200, data
        assert any(message in error for error in errors(response)), (data, errors(response))
    assert books(app) == before
    assert budgets.budget_of(project).budget_fen == 9_000_00

    # Once funded, the page says the budget is fixed, and a form sent anyway changes nothing.
    put_in_state(project, ProjectState.FUNDED)
    db.session.commit()
    assert "can only be changed after the design is approved" in text_of(browser.get(url))
    before = books(app)
    assert browser.post(url, data={"budget": "15000", "split": "rule"}).status_code == 200
    assert books(app) == before


def test_the_fund_rules_form_is_for_leads_and_refuses_nonsense(app, world, cast, fund):
    url = f"/alliances/{world.a.alliance.id}/fund/rules"
    assert login_as(cast.treasurer).get(url).status_code == 403
    browser = login_as(cast.lead)
    page = browser.get(url).get_data(as_text=True)
    assert 'value="30.00"' in page and 'value="3000.00"' in page and 'value="5000.00"' in page
    good = {"fund_percent": "12.5", "fund_cap": "", "two_approvals_above": "1,000", "shop_share_cover": "paid"}
    before = books(app)
    for field, typed in [("fund_percent", "NaN"), ("fund_percent", "101"), ("fund_percent", "abc"),
                         ("fund_percent", ""), ("fund_cap", "-1"), ("fund_cap", "1e9"), ("fund_cap", "12.345"),
                         ("two_approvals_above", "abc"), ("two_approvals_above", ""), ("shop_share_cover", "never")]:
        response = browser.post(url, data=good | {field: typed})
        assert response.status_code == 200 and errors(response), (field, typed)
    assert books(app) == before

    assert browser.post(url, data=good).status_code == 302
    db.session.refresh(fund)
    assert (fund.percent_text, fund.fund_cap_fen, fund.two_approvals_above_fen, fund.shop_share_cover) == (
        "12.5", None, 1_000_00, ShareCover.PAID)


# --- pledges, arrears and a shop's money ---------------------------------------------------------


def test_an_owner_pledges_for_their_own_shop_through_the_form(app, world, cast, fund, project):
    budgets.set_budget(cast.lead, project, 12_000_00, RULE)
    browser = login_as(cast.owner)
    url = f"/alliances/{world.a.alliance.id}/fund/pledges/new"
    page = text_of(browser.get(f"{url}?project={project.id}"))
    assert world.a.shop.name in page and world.a.other_shop.name not in page
    assert 'value="9000.00"' in page  # the shop's share, still to be covered

    due = (pledges.today() + timedelta(days=30)).isoformat()
    good = {"shop_id": world.a.shop.id, "project_id": project.id, "amount": "9,000", "due_on": due, "note": "分两次"}
    before = books(app)
    cases = [(good | {"amount": typed}, message) for typed, message in HOSTILE]
    cases += [
        (good | {"shop_id": world.a.other_shop.id}, "Not a valid choice"),  # the neighbour's shop
        (good | {"shop_id": world.b.shop.id}, "Not a valid choice"),
        (good | {"due_on": (pledges.today() - timedelta(days=1)).isoformat()}, "The due date cannot be in the past"),
        (good | {"due_on": "next week"}, "Dates are written like 2026-11-26."),
        (good | {"amount": ""}, "Please enter an amount."),
    ]
    for data, message in cases:
        response = browser.post(url, data=data)
        assert response.status_code == 200, data
        assert any(message in error for error in errors(response)), (data, errors(response))
    assert books(app) == before

    response = browser.post(url, data=good, follow_redirects=True)
    assert response.request.path == f"/projects/{project.id}"
    assert "Pledge recorded" in flashed(response)
    pledge = db.session.scalar(select(Pledge))
    assert (pledge.shop_id, pledge.project_id, pledge.amount_fen, pledge.created_by_id) == (
        world.a.shop.id, project.id, 9_000_00, cast.owner.id)
    assert budgets.cover(project).shop_covered

    # Whoever owns no shop and is not the alliance's staff has nothing to pledge for.
    for who, status in [("contractor", 403), ("officer", 403), ("owner_elsewhere", 404)]:
        assert login_as(getattr(cast, who)).get(url).status_code == status, who


def test_a_shops_money_page_is_its_own_and_arrears_are_for_the_staff(app, world, cast, fund):
    pledge = pledges.create_pledge(cast.owner, fund, world.a.shop, 3_000_00, pledges.today() + timedelta(days=5),
                                   note="店招出资")
    entry(fund, EntryKind.CONTRIBUTION, 1_000_00, by=cast.treasurer, pledge=pledge, reference="WX4200001")
    db.session.execute(update(Pledge).where(Pledge.id == pledge.id)
                       .values(due_on=pledges.today() - timedelta(days=45)))  # now 45 days late
    db.session.commit()

    money_url = f"/shops/{world.a.shop.id}/money"
    page = text_of(login_as(cast.owner).get(money_url))
    assert "店招出资" in page and "¥3,000.00" in page and "¥1,000.00" in page and "#WX4200001" in page
    assert "Overdue" in page
    for who in ("lead", "treasurer", "officer", "admin"):
        assert login_as(getattr(cast, who)).get(money_url).status_code == 200, who
    for who in ("neighbour", "contractor", "owner_elsewhere", "lead_elsewhere", "lead_next_door"):
        assert login_as(getattr(cast, who)).get(money_url).status_code == 404, who

    arrears_url = f"/alliances/{world.a.alliance.id}/fund/pledges"
    for who in ("lead", "treasurer", "officer", "admin"):
        page = text_of(login_as(getattr(cast, who)).get(arrears_url))
        assert re.search(r'<tr class="overdue-1">.*?¥2,000\.00.*?<td class="num"[^>]*>45</td>', page, re.S), who
    for who, status in [("owner", 403), ("neighbour", 403), ("contractor", 403), ("lead_elsewhere", 404)]:
        assert login_as(getattr(cast, who)).get(arrears_url).status_code == status, who

    # Cancelling: the staff, with a reason; the owner may not.
    cancel_url = f"/fund/pledges/{pledge.id}/cancel"
    before = books(app)
    assert login_as(cast.owner).post(cancel_url, data={"reason": "不付了"}).status_code == 403
    assert login_as(world.b.lead).post(cancel_url, data={"reason": "不付了"}).status_code == 404
    assert login_as(cast.contractor).post(cancel_url, data={"reason": "不付了"}).status_code == 404
    response = login_as(cast.lead).post(cancel_url, data={"reason": "  "}, follow_redirects=True)
    assert "Please give a reason." in flashed(response)
    assert books(app) == before
    response = login_as(cast.treasurer).post(cancel_url, data={"reason": "店铺歇业"}, follow_redirects=True)
    assert "The pledge has been cancelled." in flashed(response)
    assert pledges.arrears(fund.id) == []
    assert "Nobody is late" in text_of(login_as(cast.lead).get(arrears_url))


# --- expense requests ------------------------------------------------------------------------------


def test_the_expense_form_asks_once_even_when_sent_twice(app, world, cast, fund, project):
    browser = login_as(cast.treasurer)
    url = f"/alliances/{world.a.alliance.id}/fund/expenses/new"
    good = {"payee": "鑫达广告工程部", "payee_account": ACCOUNT, "project_id": project.id, "amount": "1,234.50",
            "purpose": "新店招定金"}

    before = books(app)
    cases = [(good | {"amount": typed}, message) for typed, message in HOSTILE]
    cases += [(good | {"amount": ""}, "Please enter an amount."),
              (good | {"payee": ""}, "Say who is to be paid."),
              (good, "Add at least one photo of the receipt or invoice.")]  # no receipts, not a draft
    for data, message in cases:
        files = {} if message.startswith("Add at least one photo") else {"receipts": [jpeg()]}
        response = browser.post(url, data={"idempotency_key": key(), **data, **files},
                                content_type="multipart/form-data")
        assert response.status_code == 200, data
        assert any(message in error for error in errors(response)), (data, errors(response))
    assert books(app) == before
    assert stored_files(app) == before["files"]  # no orphan photos from the refused forms (only the design's)

    form = form_key(browser.get(url).get_data(as_text=True))
    photos = count(Photo)  # the project's design
    for _ in range(2):  # a double tap on a slow connection
        response = browser.post(url, data={**good, "idempotency_key": form, "receipts": [jpeg(), jpeg("收据.jpg")]},
                                content_type="multipart/form-data")
        assert response.status_code == 302
    request = db.session.scalar(select(ExpenseRequest))
    assert count(ExpenseRequest) == 1 and count(Photo) == photos + 2
    assert response.location == f"/fund/expenses/{request.id}"
    assert (request.amount_fen, request.project_id, request.state) == (1_234_50, project.id, ExpenseState.SUBMITTED)

    # Saved as a draft, receipts may come later, from the request's page.
    response = browser.post(url, data={**good, "idempotency_key": key(), "save_as_draft": "y"},
                            content_type="multipart/form-data", follow_redirects=True)
    assert "saved as a draft" in flashed(response)
    draft = db.session.scalar(select(ExpenseRequest).where(ExpenseRequest.state == ExpenseState.DRAFT))
    response = browser.post(f"/fund/expenses/{draft.id}/submit", follow_redirects=True)
    assert "Add at least one photo" in flashed(response)
    browser.post(f"/fund/expenses/{draft.id}/receipts", data={"receipts": [jpeg()]},
                 content_type="multipart/form-data")
    browser.post(f"/fund/expenses/{draft.id}/submit")
    db.session.refresh(draft)
    assert draft.state == ExpenseState.SUBMITTED and len(draft.receipts) == 1

    for who, status in [("owner", 403), ("officer", 403), ("contractor", 403), ("lead_elsewhere", 404)]:
        assert login_as(getattr(cast, who)).get(url).status_code == status, who


def test_members_see_payee_amount_and_purpose_but_not_bank_details_or_receipts(world, cast, fund):
    request = expenses.create_request(cast.lead, fund, payee="鑫达广告工程部", payee_account=ACCOUNT,
                                      amount_fen=2_345_00, purpose="拆除旧招牌的人工费",
                                      receipts=[upload(filename="发票.jpg")], idempotency_key=key())
    photo = request.receipts[0]
    detail, photo_url = f"/fund/expenses/{request.id}", f"/photos/{photo.id}/display"
    listing = f"/alliances/{world.a.alliance.id}/fund/expenses"

    for who in ("owner", "neighbour"):
        browser = login_as(getattr(cast, who))
        for url in (listing, detail):
            page = text_of(browser.get(url))
            assert "鑫达广告工程部" in page and "¥2,345.00" in page and "拆除旧招牌的人工费" in page, (who, url)
            assert "6222" not in page and f"/photos/{photo.id}/" not in page, (who, url)
        assert "1 receipt photos, seen by the leads" in text_of(browser.get(detail))
        assert status(browser, photo_url) == status(browser, f"/photos/{photo.id}/thumb") == 404, who

    for who in ("lead", "co_lead", "treasurer", "officer", "admin"):
        browser = login_as(getattr(cast, who))
        page = text_of(browser.get(detail))
        assert ACCOUNT in page and f"/photos/{photo.id}/thumb" in page, who
        assert status(browser, photo_url) == 200, who

    contractor = login_as(cast.contractor)
    assert contractor.get(listing).status_code == 403 and contractor.get(detail).status_code == 403
    assert status(contractor, photo_url) == 404


def test_people_from_another_street_find_nothing_of_this_alliances_money(app, world, cast, fund, project):
    give(cast.treasurer, fund, 5_000_00)
    budgets.set_budget(cast.lead, project, 12_000_00, RULE)
    pledge = promise(cast.owner, fund, project, 9_000_00)
    request = expenses.create_request(cast.lead, fund, payee="鑫达", payee_account=ACCOUNT, amount_fen=100_00,
                                      purpose="定金", receipts=[upload()], idempotency_key=key())
    alliance_id = world.a.alliance.id
    pages = [f"/fund/expenses/{request.id}", f"/alliances/{alliance_id}/fund/expenses",
             f"/alliances/{alliance_id}/fund/expenses/new", f"/alliances/{alliance_id}/fund/pledges",
             f"/alliances/{alliance_id}/fund/pledges/new", f"/alliances/{alliance_id}/fund/rules",
             f"/projects/{project.id}/budget", f"/shops/{world.a.shop.id}/money",
             f"/photos/{request.receipts[0].id}/thumb"]
    posts = [(f"/fund/expenses/{request.id}/{action}", {"reason": "x", "method": "cash", "idempotency_key": key()})
             for action in ("submit", "approve", "reject", "cancel", "pay", "receipts")]
    posts += [(f"/fund/pledges/{pledge.id}/cancel", {"reason": "x"}),
              (f"/projects/{project.id}/budget", {"budget": "1", "split": "rule"}),
              (f"/alliances/{alliance_id}/fund/rules", {"fund_percent": "1", "two_approvals_above": "1",
                                                        "shop_share_cover": "paid"})]
    before = books(app)
    for person in (world.b.lead, world.b.treasurer, world.b.owner, world.b.officer, world.b.contractor):
        browser = login_as(person)
        for url in pages:
            assert browser.get(url).status_code == 404, (person.name, url)
        for url, data in posts:
            assert browser.post(url, data=data).status_code == 404, (person.name, url)
    assert books(app) == before


def test_four_eyes_through_the_buttons_and_every_step_on_the_timeline(app, world, cast, fund, project):
    give(cast.treasurer, fund, 20_000_00)
    request = expenses.create_request(cast.lead, fund, payee="鑫达广告工程部", amount_fen=6_000_00, project=project,
                                      purpose="新店招制作与安装", receipts=[upload()], idempotency_key=key())
    detail = f"/fund/expenses/{request.id}"

    def press(who, action, **data):
        response = login_as(who).post(f"{detail}/{action}", data=data, follow_redirects=True)
        assert response.status_code == 200 and response.request.path == detail
        db.session.expire_all()
        return flashed(response)

    def now():
        return db.session.get(ExpenseRequest, request.id).state, len(db.session.get(ExpenseRequest,
                                                                                    request.id).approvals)

    lead = login_as(cast.lead)
    assert 'data-action="approve"' not in lead.get(detail).get_data(as_text=True)  # not on one's own request
    before = books(app)
    assert "You asked for this expense" in press(cast.lead, "approve")
    for who in ("treasurer", "owner", "officer"):
        assert "You are not allowed to do that." in press(getattr(cast, who), "approve")
    assert "Only an approved request can be paid" in press(cast.treasurer, "pay", method="cash",
                                                           idempotency_key=key())
    assert "Please give a reason." in press(cast.co_lead, "reject", reason="")
    assert books(app) == before

    assert 'data-action="approve"' in login_as(cast.co_lead).get(detail).get_data(as_text=True)
    assert "a second lead must approve this amount too" in press(cast.co_lead, "approve")
    assert now() == (ExpenseState.SUBMITTED, 1)
    assert "already approved" in press(cast.co_lead, "approve")  # the same lead again
    assert now() == (ExpenseState.SUBMITTED, 1)
    third = user_with_role(Role.ALLIANCE_LEAD, alliance=world.a.alliance)
    assert "the treasurer can pay it now" in press(third, "approve")
    assert now() == (ExpenseState.APPROVED, 2)
    assert "You are not allowed to do that." in press(cast.lead, "pay", method="cash", idempotency_key=key())
    assert count(LedgerEntry) == 1

    treasurer = login_as(cast.treasurer)
    page = treasurer.get(detail).get_data(as_text=True)
    payment = {"idempotency_key": form_key(page), "method": "bank_transfer", "reference": "2026110500001"}
    first = treasurer.post(f"{detail}/pay", data=payment, follow_redirects=True)
    second = treasurer.post(f"{detail}/pay", data=payment, follow_redirects=True)  # the form sent twice
    assert "Paid: ¥6,000.00 to 鑫达广告工程部" in flashed(first)
    assert "already been paid" in flashed(second)
    assert count(LedgerEntry) == 2 and services.balance_fen(fund.id) == 14_000_00
    assert "Paid" in text_of(treasurer.get(detail))

    # Payment refused for want of money: the request stays approved and no money moves.
    big = expenses.create_request(cast.treasurer, fund, payee="另一家", amount_fen=14_000_01, purpose="整条街的灯箱",
                                  receipts=[upload()], idempotency_key=key())
    expenses.approve(cast.lead, big)
    expenses.approve(cast.co_lead, big)
    before = books(app)
    response = treasurer.post(f"/fund/expenses/{big.id}/pay", data={"idempotency_key": key(), "method": "cash"},
                              follow_redirects=True)
    assert "The fund has ¥14,000.00 available" in flashed(response)
    assert books(app) == before

    # Every step is on the project's timeline (the owner reads it) and in the alliance's audit log.
    timeline = text_of(login_as(cast.owner).get(f"/projects/{project.id}/timeline"))
    for action, times in [("expense.created", 1), ("expense.submitted", 1), ("expense.approved", 2),
                          ("fund.entry", 1), ("expense.paid", 1)]:
        assert timeline.count(f"timeline-entry timeline-{action.replace('.', '-')}\"") == times, action
    log = text_of(lead.get(f"/alliances/{world.a.alliance.id}/audit"))
    assert log.count(f"Expense request #{request.id}") == 5
    for action in ("expense.created", "expense.submitted", "expense.approved", "expense.paid"):
        assert action_label(action) in log, action


def test_the_expense_page_opens_with_its_state_why_and_each_persons_next_step(app, world, cast, fund, project):
    """Who asked reads how many approvals it has and what comes next; a lead who may approve is sent to the
    request before the choice; one who approved already waits; the treasurer pays from the first screen; a
    rejected request says why."""
    give(cast.treasurer, fund, 20_000_00)
    request = expenses.create_request(cast.lead, fund, payee="鑫达广告工程部", amount_fen=6_000_00, project=project,
                                      purpose="新店招制作与安装", receipts=[upload()], idempotency_key=key())
    url = f"/fund/expenses/{request.id}"
    asked = first_screen(login_as(cast.lead).get(url))
    assert "Awaiting approval" in asked and "0 of 2" in asked
    assert 'data-testid="waiting-for"' in asked and "Approve" in asked and "next-step" not in asked

    deciding = login_as(cast.co_lead).get(url)
    assert 'href="#decision" data-testid="next-step"' in first_screen(deciding)
    page = deciding.get_data(as_text=True)
    assert page.index("新店招制作与安装") < page.index('id="decision"')  # what it is for, before the choice
    assert page.count('data-action="approve"') == 1

    expenses.approve(cast.co_lead, request)
    db.session.commit()
    approved_once = first_screen(login_as(cast.co_lead).get(url))
    assert "1 of 2" in approved_once and "next-step" not in approved_once and 'data-testid="waiting-for"' in \
        approved_once
    expenses.approve(user_with_role(Role.ALLIANCE_LEAD, alliance=world.a.alliance), request)
    db.session.commit()
    paying = login_as(cast.treasurer).get(url)
    assert "Approved, to be paid" in first_screen(paying) and 'data-action="pay"' in first_screen(paying)
    assert paying.get_data(as_text=True).count('data-action="pay"') == 1
    assert "Record the payment" in first_screen(login_as(cast.lead).get(url))  # what the lead waits for

    refused = expenses.create_request(cast.treasurer, fund, payee="另一家", amount_fen=100_00, purpose="灯箱",
                                      receipts=[upload()], idempotency_key=key())
    expenses.reject(cast.lead, refused, "报价偏高，请再询两家")
    db.session.commit()
    why = first_screen(login_as(cast.treasurer).get(f"/fund/expenses/{refused.id}"))
    assert "Rejected" in why and "报价偏高，请再询两家" in why


def test_a_refund_is_asked_for_through_the_form_and_only_to_a_shop_of_this_alliance(app, world, cast,
                                                                                    fund):
    browser = login_as(cast.treasurer)
    url = f"/alliances/{world.a.alliance.id}/fund/expenses/new"
    refund = {"payee": "", "amount": "200", "purpose": "多缴会费退回", "project_id": 0}
    before = books(app)
    response = browser.post(url, data={**refund, "idempotency_key": key(), "refund_shop_id": world.b.shop.id,
                                       "receipts": [jpeg()]}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert any("Not a valid choice" in error for error in errors(response))
    assert books(app) == before and stored_files(app) == set()

    response = browser.post(url, data={**refund, "idempotency_key": key(), "refund_shop_id": world.a.shop.id,
                                       "receipts": [jpeg()]}, content_type="multipart/form-data")
    assert response.status_code == 302
    request = db.session.scalar(select(ExpenseRequest))
    assert (request.refund_shop_id, request.payee, request.amount_fen) == (world.a.shop.id, world.a.shop.name, 200_00)
    assert world.a.shop.name in text_of(login_as(cast.lead).get(response.location))
