"""Budget against actual: every budgeted project with what was paid for it, its variance, and the chart."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, expenses, services
from merchant_alliance.funds.models import EntryKind, PaymentMethod
from merchant_alliance.funds.shares import ShareRule
from merchant_alliance.projects import services as projects
from tests.fixtures.funds import entry
from tests.helpers import counted_queries, login_as
from tests.projects.helpers import upload


def key() -> str:
    return uuid.uuid4().hex


def approved_with_budget(proposal, cast, budget_fen: int, title: str):
    project = proposal(title=title)
    projects.move(cast.owner, project, "submit")
    projects.move(cast.lead, project, "approve_design")
    budgets.set_budget(cast.lead, project, budget_fen, ShareRule(fund_fen=budget_fen))
    return project


def pay(cast, fund, project, amount_fen: int) -> None:
    request = expenses.create_request(cast.lead, fund, payee="施工队", amount_fen=amount_fen, purpose="工程款",
                                      project=project, receipts=[upload()], idempotency_key=key())
    assert expenses.approve(cast.co_lead, request)  # below the two-approval threshold: one lead suffices
    expenses.pay(cast.treasurer, request, method=PaymentMethod.BANK_TRANSFER, idempotency_key=key())


def test_each_project_shows_its_budget_what_was_paid_and_the_variance(world, proposal, cast, in_request):
    fund = services.default_fund(world.a.alliance)
    entry(fund, EntryKind.SUBSIDY, 50_000_00, by=cast.treasurer, counterparty="街道")
    under = approved_with_budget(proposal, cast, 4_000_00, "书店招牌")
    over = approved_with_budget(proposal, cast, 3_000_00, "<script>alert(1)</script>面馆")
    pay(cast, fund, under, 2_500_00)
    pay(cast, fund, over, 3_200_00)
    mistake = entry(fund, EntryKind.EXPENSE, 100_00, by=cast.treasurer, project=under)
    services.reverse_entry(cast.treasurer, mistake, "重复付款", idempotency_key=key())

    lines = {line.project_id: line for line in budgets.budget_lines(fund.id)}
    assert (lines[under.id].actual_fen, lines[under.id].variance_fen) == (2_500_00, 1_500_00)  # reversal nets out
    assert (lines[over.id].actual_fen, lines[over.id].variance_fen) == (3_200_00, -200_00)

    page = login_as(cast.owner).get(f"/alliances/{fund.alliance_id}/fund/projects")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "¥1,500.00" in html and "-¥200.00" in html and "¥7,000.00" in html  # total budget
    assert "<script>alert(1)</script>" not in html
    svg = html[html.index("<svg"):html.index("</svg>") + len("</svg>")]
    ET.fromstring(svg)  # noqa: S314 - our own page: well-formed, the hostile title escaped inside it


def test_the_page_costs_the_same_queries_for_one_project_as_for_many(world, proposal, cast, in_request):
    fund = services.default_fund(world.a.alliance)
    db.session.commit()
    reader = login_as(cast.owner)
    url = f"/alliances/{fund.alliance_id}/fund/projects"

    def queries() -> int:
        db.session.expire_all()
        with counted_queries() as statements:
            assert reader.get(url).status_code == 200
        return len(statements)

    approved_with_budget(proposal, cast, 1_000_00, "第一个")
    one = queries()
    for n in range(4):
        approved_with_budget(proposal, cast, 1_000_00 * (n + 2), f"又一个{n}")
    assert queries() == one
