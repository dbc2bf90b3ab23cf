"""Spending with four eyes: staff ask with receipts, leads approve (two different ones above the threshold,
never their own request), only the treasurer pays, and the fund never pays out money it does not have."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.audit import AuditEvent, events_for_object
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, expenses, services
from merchant_alliance.funds.models import (
    EntryKind,
    ExpenseApproval,
    ExpenseRequest,
    ExpenseState,
    Fund,
    LedgerEntry,
    PaymentMethod,
)
from merchant_alliance.money import MAX_FEN
from merchant_alliance.notifications.models import Notification
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects import services as projects
from tests.factories import user_with_role
from tests.fixtures.funds import approved_project, entry, funded_project, give, key
from tests.funds.test_budgets import RULE, books, money
from tests.projects.helpers import count, stored_files, upload

pytestmark = pytest.mark.usefixtures("in_request")

E = ExpenseState
THRESHOLD = 5_000_00  # the alliance's default: above it, two leads approve
ACCOUNT = "中国工商银行 静安支行 6222 0210 0101 2345 678"
NOT_LEADS = ("treasurer", "owner", "contractor", "officer", "admin", "lead_next_door", "lead_elsewhere", "nobody")


@pytest.fixture
def fund(world) -> Fund:
    """The alliance's fund, holding ¥20,000 from the street office."""
    fund = services.default_fund(world.a.alliance)
    db.session.commit()
    give(world.a.treasurer, fund, 20_000_00)
    return fund


def ask(by: User, fund: Fund, fen: int, *, receipts: int = 1, **kwargs) -> ExpenseRequest:
    values = {"payee": "鑫达广告工程部", "payee_account": ACCOUNT, "purpose": "拆除旧招牌、安装新店招的定金",
              "idempotency_key": key()} | kwargs
    return expenses.create_request(by, fund, amount_fen=fen, receipts=[upload(filename="发票.jpg")
                                                                        for _ in range(receipts)], **values)


def pay(treasurer: User, request: ExpenseRequest, idempotency_key: str | None = None) -> None:
    expenses.pay(treasurer, request, method=PaymentMethod.BANK_TRANSFER, reference="2026110512345",
                 idempotency_key=idempotency_key or key())


def state(request: ExpenseRequest) -> ExpenseState:
    return db.session.scalar(select(ExpenseRequest.state).where(ExpenseRequest.id == request.id))


def approvers(request: ExpenseRequest) -> list[int]:
    return list(db.session.scalars(select(ExpenseApproval.approver_id).where(ExpenseApproval.request_id == request.id)
                                   .order_by(ExpenseApproval.id)))


def refused(app, error: type[DomainError], action, *args, match: str | None = None, **kwargs) -> None:
    """`action` is refused, and nothing at all changes: no entry, no state, no approval, no photo, no event."""
    before = books(app)
    with pytest.raises(error, match=match):
        action(*args, **kwargs)
    db.session.rollback()
    assert books(app) == before


def not_a_photo(name: str = "发票.jpg") -> FileStorage:
    return FileStorage(io.BytesIO(b"%PDF-1.4 not a photo"), filename=name, content_type="image/jpeg")


# --- asking ----------------------------------------------------------------------------------------


def test_the_alliances_staff_ask_with_receipts_and_a_double_submit_asks_once(app, world, cast, fund):
    request = ask(cast.lead, fund, 1_200_00, receipts=2, payee="  鑫达广告工程部 ", idempotency_key="form-1")
    assert (request.state, request.payee, request.payee_account, request.requested_by_id) == (
        E.SUBMITTED, "鑫达广告工程部", ACCOUNT, cast.lead.id)
    assert len(request.receipts) == 2 and count(Photo) == 2
    assert [e.action for e in db.session.scalars(events_for_object(request))] == ["expense.submitted",
                                                                                  "expense.created"]
    told = set(db.session.scalars(select(Notification.user_id)))
    assert cast.co_lead.id in told and cast.lead.id not in told  # the other leads review it

    files = stored_files(app)
    again = ask(cast.lead, fund, 1_200_00, receipts=2, idempotency_key="form-1")  # the same form, sent twice
    assert again.id == request.id
    assert count(ExpenseRequest) == 1 and count(Photo) == 2 and stored_files(app) == files

    assert ask(cast.treasurer, fund, 300_00).state == E.SUBMITTED  # the treasurer may ask too
    for who in ("owner", "officer", "contractor", "admin", "lead_next_door", "lead_elsewhere", "nobody"):
        refused(app, NotAllowed, ask, getattr(cast, who), fund, 100_00)


def test_impossible_requests_are_refused_and_leave_no_photo_behind(app, world, cast, fund):
    elsewhere = approved_project(world.b.owner, world.b.shop)
    design_photos, design_files = count(Photo), stored_files(app)  # the other alliance's design, and no more
    for kwargs, message in [
        ({"receipts": 0}, "photo of the receipt"),
        ({"payee": "  "}, "who is to be paid"),
        ({"purpose": ""}, "what the money is for"),
        ({"project": elsewhere}, "not in this alliance"),
        ({"idempotency_key": ""}, "expired"),
        ({"idempotency_key": "k" * 65}, "expired"),
    ]:
        refused(app, DomainError, ask, cast.lead, fund, 100_00, match=message, **kwargs)
    for fen in (0, -1, MAX_FEN + 1, 99.5):
        refused(app, DomainError, ask, cast.lead, fund, fen, match="more than zero")
    # One good photo and one that is not: both refused, nothing stored.
    refused(app, DomainError, expenses.create_request, cast.lead, fund, payee="鑫达", amount_fen=100_00,
            purpose="定金", receipts=[upload(), not_a_photo()], idempotency_key=key(), match="发票.jpg")
    assert count(Photo) == design_photos and stored_files(app) == design_files


def test_a_draft_gets_its_receipts_before_it_is_submitted(app, cast, fund):
    draft = ask(cast.lead, fund, 800_00, receipts=0, submit=False)
    assert draft.state == E.DRAFT and draft.receipts == []
    assert count(Notification) == 0  # nobody is asked to review a draft
    refused(app, DomainError, expenses.submit, cast.lead, draft, match="photo of the receipt")
    refused(app, DomainError, expenses.approve, cast.co_lead, draft, match="Only a submitted request")
    refused(app, NotAllowed, expenses.add_receipts, cast.co_lead, draft, [upload()])  # not theirs
    refused(app, DomainError, expenses.add_receipts, cast.lead, draft, [], match="photo of the receipt")
    refused(app, DomainError, expenses.add_receipts, cast.lead, draft, [not_a_photo()], match="发票.jpg")
    assert stored_files(app) == set()

    expenses.add_receipts(cast.lead, draft, [upload(filename="发票.jpg")])
    refused(app, NotAllowed, expenses.submit, cast.co_lead, draft)  # only the person who asked submits
    expenses.submit(cast.lead, draft)
    assert state(draft) == E.SUBMITTED and len(draft.receipts) == 1
    refused(app, DomainError, expenses.submit, cast.lead, draft)  # a second tap
    refused(app, DomainError, expenses.add_receipts, cast.lead, draft, [upload()], match="while the request is a draft")


# --- approving: four eyes --------------------------------------------------------------------------


def test_two_leads_approve_above_the_threshold_one_at_or_below_and_never_the_one_who_asked(app, world, cast, fund):
    request = ask(cast.lead, fund, THRESHOLD + 1)
    assert expenses.approvals_needed(request) == 2
    assert "approve" not in expenses.actions_for(cast.lead, request)
    refused(app, DomainError, expenses.approve, cast.lead, request, match="You asked for this expense")
    for who in NOT_LEADS:
        refused(app, NotAllowed, expenses.approve, getattr(cast, who), request)
        assert "approve" not in expenses.actions_for(getattr(cast, who), request)

    assert expenses.approve(cast.co_lead, request) is False
    assert (state(request), approvers(request)) == (E.SUBMITTED, [cast.co_lead.id])
    # The same lead's second approval (another tap, another tab) does not count as the second pair of eyes.
    assert "approve" not in expenses.actions_for(cast.co_lead, request)
    refused(app, DomainError, expenses.approve, cast.co_lead, request, match="already approved")
    assert (state(request), approvers(request)) == (E.SUBMITTED, [cast.co_lead.id])
    refused(app, DomainError, pay, cast.treasurer, request, match="Only an approved request")

    third = user_with_role(Role.ALLIANCE_LEAD, alliance=world.a.alliance)
    assert expenses.actions_for(third, request) == {"approve", "reject", "cancel"}
    assert expenses.approve(third, request) is True
    assert (state(request), approvers(request)) == (E.APPROVED, [cast.co_lead.id, third.id])
    fourth = user_with_role(Role.ALLIANCE_LEAD, alliance=world.a.alliance)
    refused(app, DomainError, expenses.approve, fourth, request, match="Only a submitted request")
    assert "pay" in expenses.actions_for(cast.treasurer, request)

    # At or below the threshold, one lead approves (the treasurer asked, so any lead may).
    request = ask(cast.treasurer, fund, THRESHOLD)
    assert expenses.approvals_needed(request) == 1
    assert expenses.approve(cast.lead, request) is True
    assert (state(request), approvers(request)) == (E.APPROVED, [cast.lead.id])
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.message.contains("approved"))))
    assert cast.treasurer.id in told

    # The alliance lowers its threshold: the same amount now needs two leads.
    budgets.update_rules(cast.lead, fund, fund_percent=RULE.fund_percent, fund_cap_fen=RULE.fund_cap_fen,
                         two_approvals_above_fen=1_000_00, shop_share_cover=fund.shop_share_cover)
    second = ask(cast.treasurer, fund, THRESHOLD)
    assert expenses.approve(cast.lead, second) is False
    assert state(second) == E.SUBMITTED




def test_rejected_and_cancelled_requests_go_no_further(app, cast, fund):
    request = ask(cast.treasurer, fund, 900_00)
    for reason in ("", "   ", None):
        refused(app, DomainError, expenses.reject, cast.lead, request, reason, match="reason")
    for who in NOT_LEADS:
        refused(app, NotAllowed, expenses.reject, getattr(cast, who), request, "太贵")
    expenses.reject(cast.lead, request, "  报价比另一家高出一倍  ")
    assert state(request) == E.REJECTED
    db.session.refresh(request)
    assert request.decision_reason == "报价比另一家高出一倍"
    assert expenses.actions_for(cast.co_lead, request) == set()
    refused(app, DomainError, expenses.approve, cast.co_lead, request, match="Only a submitted request")
    refused(app, DomainError, pay, cast.treasurer, request, match="Only an approved request")
    refused(app, DomainError, expenses.cancel, cast.treasurer, request, match="can no longer be cancelled")
    refused(app, DomainError, expenses.reject, cast.co_lead, request, "again", match="Only a request waiting")

    # The person who asked (or a lead) may cancel before it is paid, even once approved; nobody else.
    withdrawn = ask(cast.treasurer, fund, 900_00)
    expenses.approve(cast.lead, withdrawn)
    for who in ("owner", "officer", "admin", "lead_elsewhere"):
        refused(app, NotAllowed, expenses.cancel, getattr(cast, who), withdrawn)
    expenses.cancel(cast.treasurer, withdrawn)
    assert state(withdrawn) == E.CANCELLED
    refused(app, DomainError, expenses.approve, cast.co_lead, withdrawn, match="Only a submitted request")
    refused(app, DomainError, pay, cast.treasurer, withdrawn, match="Only an approved request")
    refused(app, DomainError, expenses.cancel, cast.lead, withdrawn, match="can no longer be cancelled")

    approved = ask(cast.treasurer, fund, 900_00)
    expenses.approve(cast.lead, approved)
    expenses.reject(cast.co_lead, approved, "发票抬头不对")  # a lead may still stop it before it is paid
    assert state(approved) == E.REJECTED
    assert count(LedgerEntry) == 1  # only the subsidy: nothing was paid


# --- paying ------------------------------------------------------------------------------------------


def test_only_the_treasurer_pays_an_approved_request_and_only_once(app, world, cast, fund):
    request = ask(cast.lead, fund, 2_000_00, receipts=2)
    expenses.approve(cast.co_lead, request)
    for who in ("lead", "co_lead", "owner", "officer", "contractor", "admin"):
        refused(app, NotAllowed, pay, getattr(cast, who), request)
    refused(app, NotAllowed, pay, world.b.treasurer, request)
    refused(app, DomainError, expenses.pay, cast.treasurer, request, method=PaymentMethod.CASH, idempotency_key="",
            match="expired")

    pay(cast.treasurer, request, "pay-form-1")
    db.session.refresh(request)
    entry = db.session.get(LedgerEntry, request.paid_entry_id)
    assert (request.state, entry.kind, entry.amount_fen, entry.counterparty, entry.purpose, entry.method,
            entry.reference, entry.entered_by_id, entry.receipt_photo_id) == (
        E.PAID, EntryKind.EXPENSE, -2_000_00, "鑫达广告工程部", "拆除旧招牌、安装新店招的定金",
        PaymentMethod.BANK_TRANSFER, "2026110512345", cast.treasurer.id, request.receipts[0].id)
    assert money(fund) == (18_000_00, 0, 18_000_00)

    # The pay form sent twice, or paid again from another tab: one payment.
    refused(app, DomainError, pay, cast.treasurer, request, "pay-form-1", match="already been paid")
    refused(app, DomainError, pay, cast.treasurer, request, match="already been paid")
    refused(app, DomainError, expenses.cancel, cast.lead, request, match="can no longer be cancelled")
    refused(app, DomainError, expenses.reject, cast.co_lead, request, "晚了", match="Only a request waiting")
    assert count(LedgerEntry) == 2 and expenses.actions_for(cast.treasurer, request) == set()


def test_payment_is_refused_when_the_fund_lacks_available_money_and_nothing_changes(app, world, cast, fund):
    # Spend the ¥20,000 down to ¥3,500, then fund a project whose ¥3,000 share is set aside: ¥500 available.
    services.record_entry(cast.treasurer, fund,
                          services.EntryDetails(EntryKind.EXPENSE, 16_500_00, counterparty="上一期工程"),
                          idempotency_key=key())
    project = funded_project(fund, owner=cast.owner, shop=world.a.shop, budget_fen=12_000_00, rule=RULE, lead=cast.lead)
    assert money(fund) == (3_500_00, 3_000_00, 500_00)

    general = ask(cast.lead, fund, 600_00, purpose="联盟宣传单印刷")
    expenses.approve(cast.co_lead, general)
    refused(app, DomainError, pay, cast.treasurer, general, match="¥500.00 available")
    assert state(general) == E.APPROVED
    assert not db.session.scalar(select(AuditEvent).where(AuditEvent.action == "expense.paid"))

    # The project's own expense may use its reservation (and the ¥200 more it needs from what is available).
    for_project = ask(cast.lead, fund, 3_200_00, project=project)
    expenses.approve(cast.co_lead, for_project)
    pay(cast.treasurer, for_project)
    assert state(for_project) == E.PAID
    assert money(fund) == (300_00, 0, 300_00)
    assert budgets.cover(project).spent_fen == 3_200_00
    refused(app, DomainError, pay, cast.treasurer, general, match="¥300.00 available")


def test_every_step_is_in_the_audit_log_and_on_the_projects_timeline(app, world, cast, fund):
    project = approved_project(cast.owner, world.a.shop)
    request = ask(cast.lead, fund, THRESHOLD + 1, project=project, receipts=0, submit=False)
    expenses.add_receipts(cast.lead, request, [upload()])
    expenses.submit(cast.lead, request)
    expenses.approve(cast.co_lead, request)
    third = user_with_role(Role.ALLIANCE_LEAD, alliance=world.a.alliance)
    expenses.approve(third, request)
    pay(cast.treasurer, request)
    rejected = ask(cast.treasurer, fund, 100_00, project=project)
    expenses.reject(cast.lead, rejected, "重复申请")

    steps = [(e.action, e.actor_id) for e in reversed(list(db.session.scalars(events_for_object(request))))]
    assert steps == [("expense.created", cast.lead.id), ("expense.submitted", cast.lead.id),
                     ("expense.approved", cast.co_lead.id), ("expense.approved", third.id),
                     ("expense.paid", cast.treasurer.id)]
    event = db.session.scalar(events_for_object(request).limit(1))
    assert (event.alliance_id, event.project_id, event.details["amount_fen"], event.details["payee"]) == (
        world.a.alliance.id, project.id, THRESHOLD + 1, "鑫达广告工程部")

    timeline = [(e.action, e.details.get("reason")) for e in projects.timeline(project)]
    for step in [("expense.created", None), ("expense.submitted", None), ("expense.approved", None),
                 ("fund.entry", None), ("expense.paid", None), ("expense.rejected", "重复申请")]:
        assert step in timeline, step
    assert [a for a, _ in timeline].count("expense.approved") == 2


def test_money_back_to_a_shop_is_a_refund_approved_and_paid_like_any_expense(world, cast, fund, in_request):
    entry(fund, EntryKind.CONTRIBUTION, 500_00, by=cast.treasurer, shop=world.a.shop)
    request = expenses.create_request(cast.treasurer, fund, payee="", amount_fen=200_00, purpose="多缴会费退回",
                                      receipts=[upload()], idempotency_key=key(), refund_to=world.a.shop)
    assert request.payee == world.a.shop.name
    expenses.approve(cast.lead, request)
    expenses.pay(cast.treasurer, request, method=PaymentMethod.WECHAT_PAY, idempotency_key=key())
    paid = db.session.get(LedgerEntry, request.paid_entry_id)
    assert (paid.kind, paid.amount_fen, paid.shop_id) == (EntryKind.REFUND, -200_00, world.a.shop.id)
    assert services.balance_fen(fund.id) == 20_000_00 + 500_00 - 200_00

    with pytest.raises(DomainError, match="not in this alliance"):
        expenses.create_request(cast.treasurer, fund, payee="", amount_fen=100_00, purpose="退款",
                                receipts=[upload()], idempotency_key=key(), refund_to=world.b.shop)
