import uuid
from datetime import date, timedelta

from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, expenses, pledges, services
from merchant_alliance.funds.models import EntryKind, ExpenseState, PaymentMethod
from merchant_alliance.funds.shares import ShareRule
from merchant_alliance.projects.lifecycle import Attempt, lifecycle
from merchant_alliance.projects.models import ProjectState
from tests.projects.helpers import upload


def k():
    return uuid.uuid4().hex


def test_flow(world, cast, proposal, in_request, client_as):
    project = proposal()
    lifecycle.perform(cast.owner, project, "submit")
    lifecycle.perform(cast.lead, project, "approve_design")
    fund = services.default_fund(world.a.alliance)
    services.record_entry(cast.treasurer, fund, EntryKind.SUBSIDY, 10_000_00, counterparty="街道", idempotency_key=k())
    b = budgets.set_budget(cast.lead, project, 12_000_00, budgets.default_rule(fund))
    assert (b.fund_fen, b.shop_fen) == (3_000_00, 9_000_00)
    assert "shop's share" in lifecycle.refusal(cast.lead, project, "fund", Attempt())
    p = pledges.create_pledge(cast.owner, fund, project.shop, 9_000_00, date.today() + timedelta(days=10), project=project)
    lifecycle.perform(cast.lead, project, "fund")
    assert project.state == ProjectState.FUNDED
    t = services.totals(fund.id)
    assert (t.balance_fen, t.reserved_fen, t.available_fen) == (10_000_00, 3_000_00, 7_000_00)
    services.record_entry(cast.treasurer, fund, EntryKind.CONTRIBUTION, 4_000_00, pledge=p, idempotency_key=k())
    assert pledges.arrears(fund.id, on=date.today() + timedelta(days=45))[0].outstanding_fen == 5_000_00
    assert pledges.arrears(fund.id, on=date.today() + timedelta(days=45))[0].bucket == 1
    r = expenses.create_request(cast.treasurer, fund, payee="施工队", amount_fen=8_000_00, purpose="定金", project=project,
                                receipts=[upload(filename="发票.jpg")], idempotency_key=k())
    assert r.state == ExpenseState.SUBMITTED
    assert expenses.approve(cast.co_lead, r) is False
    assert expenses.approve(world.a.lead, r) is not None
    db.session.refresh(r)
    expenses.pay(cast.treasurer, r, method=PaymentMethod.BANK_TRANSFER, idempotency_key=k())
    t = services.totals(fund.id)
    assert t.balance_fen == 6_000_00 and t.reserved_fen == 0
    assert budgets.cover(project).spent_fen == 8_000_00
    c = client_as(cast.lead)
    for url in [f"/projects/{project.id}", f"/projects/{project.id}/budget", f"/alliances/{fund.alliance_id}/fund/pledges",
                f"/alliances/{fund.alliance_id}/fund/expenses", f"/fund/expenses/{r.id}", f"/shops/{project.shop_id}/money",
                f"/alliances/{fund.alliance_id}/fund/rules", f"/alliances/{fund.alliance_id}/fund/expenses/new",
                f"/alliances/{fund.alliance_id}/fund/pledges/new", f"/projects/{project.id}/timeline"]:
        resp = c.get(url)
        assert resp.status_code == 200, (url, resp.get_data(as_text=True)[-3000:])
