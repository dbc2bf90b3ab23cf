"""Homes: the first page after login shows each person what waits for them, in every role they hold, each item
one tap from its action, and nothing of another alliance. Side B of the world mirrors side A with MARK in its
names, which must never appear on side A's homes. Each home costs the same queries at any size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from merchant_alliance.accounts import services as accounts
from merchant_alliance.accounts.models import Alliance, Role
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.funds import expenses
from merchant_alliance.funds import services as funds
from merchant_alliance.funds.models import EntryKind, PaymentMethod, Pledge
from merchant_alliance.money import format_fen
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import inspections
from merchant_alliance.shops.models import Signboard
from merchant_alliance.shops.services import register_signboard
from merchant_alliance.timeutil import local_today, utcnow
from tests.factories import user_with_role
from tests.fixtures.funds import entry, give, key, promise
from tests.fixtures.projects import REASON, make_project
from tests.helpers import counted_queries, flashed_errors, login_as
from tests.projects.helpers import SIGNBOARD, put_in_state, text_of, upload
from tests.reports.reporting import report
from tests.safety.test_inspections import answer_all

S = ProjectState
MARK = "乙方机密"


def home(user) -> str:
    response = login_as(user).get("/")
    assert response.status_code == 200
    return text_of(response)


def section(page: str, testid: str) -> str:
    """The HTML of the list marked `data-testid=testid` (up to its end), or "" when the page has none."""
    start = page.find(f'data-testid="{testid}"')
    return "" if start < 0 else page[start:page.find("</ul>", start)]


def home_queries(user) -> int:
    client = login_as(user)
    client.get("/")  # the first page warms what any page loads once (the session, the menu)
    with counted_queries() as statements:
        assert client.get("/").status_code == 200
    return len(statements)


def mirror_on_side_b(world) -> None:
    """Side B's own waiting things, all named with MARK: a design to review, changes asked, a pledge due."""
    make_project(S.SUBMITTED, by=world.b.owner, shop=world.b.shop, title=f"{MARK}店招")
    asked = make_project(S.CHANGES_REQUESTED, by=world.b.owner, shop=world.b.shop, title=f"{MARK}灯箱",
                         reason=f"{MARK}理由")
    fund_b = funds.default_fund(world.b.alliance)
    give(world.b.treasurer, fund_b, 5_000_00)
    promise(world.b.owner, fund_b, asked, 1_000_00, days=3)
    ask(world.b.treasurer, fund_b, 300_00, payee=f"{MARK}收款人")


def ask(by, fund, fen: int, *, payee: str = "鑫达广告工程部"):
    return expenses.create_request(by, fund, payee=payee, amount_fen=fen, purpose="拆除旧招牌的定金",
                                   receipts=[upload(filename="发票.jpg")], idempotency_key=key())


def overdue(pledge: Pledge, days: int) -> None:
    db.session.execute(update(Pledge).where(Pledge.id == pledge.id).values(due_on=local_today() - timedelta(days=days)))
    db.session.commit()


def stale(project: Project, days: int) -> None:
    db.session.execute(update(Project).where(Project.id == project.id)
                       .values(updated_at=utcnow() - timedelta(days=days)))
    db.session.commit()


# --- the shop owner -----------------------------------------------------------------------------------


def test_the_owner_sees_each_project_with_what_it_waits_for_and_the_changes_asked_first_with_their_reason(
        app, world):
    """The café owner has a design under review, one back with changes asked and one at the street office: the
    changes come first with the lead's reason, each line says whose turn it is, and a tap opens the project.
    The quick links propose a renovation, open the shop and the alliance's books. Side B's projects stay away."""
    a = world.a
    reviewing = make_project(S.SUBMITTED, by=a.owner, shop=a.shop, title="门头木质招牌")
    asked = make_project(S.CHANGES_REQUESTED, by=a.owner, shop=a.shop, title="侧面灯箱")
    at_the_office = make_project(S.PERMIT_REQUESTED, by=a.owner, shop=a.shop, title="二楼招牌")
    finished = make_project(S.DESIGN_APPROVED, by=a.owner, shop=a.shop, title="已完工的招牌")
    put_in_state(finished, S.COMPLETED)
    db.session.commit()
    mirror_on_side_b(world)

    page = home(a.owner)
    projects = section(page, "owner-projects")
    assert f"changes asked of you: {REASON}" in projects
    assert "waiting for the lead's review" in projects and "waiting for the street office's permit" in projects
    assert projects.index("侧面灯箱") < projects.index("门头木质招牌")  # the owner's own turn first
    for project in (reviewing, asked, at_the_office):
        assert f'href="/projects/{project.id}"' in projects
    assert "已完工的招牌" not in projects  # over: nothing waits
    assert f'href="/shops/{a.shop.id}/projects/new"' in page and f'href="/shops/{a.shop.id}"' in page
    assert f'href="/alliances/{a.alliance.id}/fund"' in page
    assert MARK not in page


def test_the_owner_sees_pledges_due_soon_or_overdue_and_each_signs_safety(app, world):
    """A pledge due in three days and one ten days late show, the late one first; one due in two months does not.
    The signs: one with a rectification to finish, one whose inspection is overdue, one never inspected, the most
    urgent first, each opening its rectification or its registry page."""
    a = world.a
    fund = funds.default_fund(a.alliance)
    give(a.treasurer, fund, 50_000_00)
    project = make_project(S.DESIGN_APPROVED, by=a.owner, shop=a.shop)
    soon = promise(a.owner, fund, project, 1_000_00, days=3)
    late = promise(a.owner, fund, project, 2_000_00, days=1)
    overdue(late, 10)
    promise(a.owner, fund, project, 3_000_00, days=60)
    # A sign failed its acceptance inspection: the street office orders a rectification.
    put_in_state(project, S.INSTALLED)
    db.session.commit()
    inspection = inspections.start_for_project(a.officer, project)
    answer_all(a.officer, inspection, failing={"S16": "堵塞消防通道"})
    inspections.finish(a.officer, inspection)
    late_sign = register_signboard(a.owner, a.shop, SIGNBOARD | {"position": "侧墙"})
    db.session.execute(update(Signboard).where(Signboard.id == late_sign.id).values(
        last_inspected_on=local_today() - timedelta(days=400), last_passed=True,
        next_due_on=local_today() - timedelta(days=5)))
    db.session.commit()
    register_signboard(a.owner, a.shop, SIGNBOARD | {"position": "后门"})
    mirror_on_side_b(world)

    page = home(a.owner)
    due = section(page, "owner-pledges")
    assert format_fen(2_000_00) in due and format_fen(1_000_00) in due and format_fen(3_000_00) not in due
    assert due.index(format_fen(2_000_00)) < due.index(format_fen(1_000_00))
    assert "overdue since" in due and f'href="/shops/{a.shop.id}/money"' in due
    assert soon.id and MARK not in page
    signs = section(page, "owner-signs")
    statuses = [part.split('"')[0] for part in signs.split('data-status="')[1:]]
    assert statuses[:2] == ["rectify", "overdue"] and "never" in statuses
    assert "Rectification: fix by" in signs and "Inspection overdue since" in signs
    assert '/rectifications/' in signs and f'href="/signboards/{late_sign.id}/registry"' in signs


def test_someone_with_no_shop_sees_no_owner_cards(app, world):
    """The treasurer owns no shop: no projects, pledges or signs of an owner on their home."""
    page = home(world.a.treasurer)
    assert 'id="owner-projects"' not in page and 'id="owner-money"' not in page and 'id="owner-safety"' not in page


# --- the alliance lead ---------------------------------------------------------------------------------


def test_the_lead_sees_designs_to_review_expenses_to_approve_budgets_to_set_and_stuck_projects(app, world):
    """The lead sees the café's design to review but not the one they proposed themselves (another lead must
    approve it), the treasurer's expense request but not their own, the approved design waiting for its budget,
    and the project at the street office for three weeks. Nothing of side B; the treasurer sees none of it."""
    a = world.a
    fund = funds.default_fund(a.alliance)
    give(a.treasurer, fund, 50_000_00)
    to_review = make_project(S.SUBMITTED, by=a.owner, shop=a.shop, title="待审设计")
    user_with_role(Role.ALLIANCE_LEAD, alliance=a.alliance)  # the lead's own design is for this one to review
    make_project(S.SUBMITTED, by=a.lead, shop=a.other_shop, title="组长自己提的设计")
    to_budget = make_project(S.DESIGN_APPROVED, by=a.owner, shop=a.shop, title="待定预算")
    stuck = make_project(S.PERMIT_REQUESTED, by=user_with_role(Role.SHOP_OWNER, shop=a.other_shop),
                         shop=a.other_shop, title="卡住的项目")
    stale(stuck, 21)
    theirs = ask(a.treasurer, fund, 800_00, payee="鑫达广告工程部")
    ask(a.lead, fund, 900_00, payee="组长自己的请款")
    mirror_on_side_b(world)

    page = home(a.lead)
    review = section(page, "designs-to-review")
    assert f'href="/projects/{to_review.id}"' in review and "组长自己提的设计" not in review
    approve = section(page, "expenses-to-approve")
    assert f'href="/fund/expenses/{theirs.id}"' in approve and "组长自己的请款" not in approve
    assert f'href="/projects/{to_budget.id}/budget"' in section(page, "budgets-to-set")
    stuck_list = section(page, "stuck-projects")
    assert "卡住的项目" in stuck_list and "待审设计" not in stuck_list
    assert MARK not in page
    assert 'id="lead-work"' not in home(a.treasurer) and 'id="lead-money"' not in home(a.treasurer)


def test_the_lead_sets_the_goal_and_reads_the_progress_towards_it(app, world):
    """Without a goal the lead is asked to set one; they set 40 (recorded in the audit log) and read "Renewed 1
    of 40 hazardous signs" with one project completed."""
    a = world.a
    done = make_project(S.DESIGN_APPROVED, by=a.owner, shop=a.shop)
    put_in_state(done, S.COMPLETED)
    db.session.commit()
    client = login_as(a.lead)
    assert "Set a goal" in text_of(client.get("/"))

    response = client.post(f"/alliances/{a.alliance.id}/renewal-goal", data={"goal": "40"}, follow_redirects=True)
    assert "The renewal goal has been saved." in text_of(response)
    assert "Renewed 1 of 40 hazardous signs" in text_of(response)
    assert db.session.scalar(select(Alliance.renewal_goal).where(Alliance.id == a.alliance.id)) == 40
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "alliance.renewal_goal_set"))
    assert (event.actor_id, event.alliance_id, event.details["goal"]) == (a.lead.id, a.alliance.id, 40)


@pytest.mark.parametrize("value", ["0", "-3", "10001", "四十", "1e3"])
def test_a_goal_that_is_not_a_sensible_number_of_signs_is_refused(app, world, value):
    """Zero, a negative, an absurd or an unreadable goal is refused with a message; the goal stays as it was."""
    a = world.a
    client = login_as(a.lead)
    client.post(f"/alliances/{a.alliance.id}/renewal-goal", data={"goal": "12"}, follow_redirects=True)
    response = client.post(f"/alliances/{a.alliance.id}/renewal-goal", data={"goal": value}, follow_redirects=True)
    assert "The goal must be a number of signs between 1 and 10000." in flashed_errors(response) or \
        "Not a valid integer value." in flashed_errors(response)
    assert "The renewal goal has been saved." not in text_of(response)
    assert db.session.scalar(select(Alliance.renewal_goal).where(Alliance.id == a.alliance.id)) == 12


def test_only_the_alliances_own_lead_sets_its_goal(app, world):
    """The treasurer and the shop owner see the alliance but may not set its goal (403); side B's lead does not
    even see it (404). The goal stays unset."""
    a = world.a
    assert login_as(a.treasurer).post(f"/alliances/{a.alliance.id}/renewal-goal", data={"goal": "5"}).status_code \
        == 403
    assert login_as(a.owner).post(f"/alliances/{a.alliance.id}/renewal-goal", data={"goal": "5"}).status_code == 403
    assert login_as(world.b.lead).post(f"/alliances/{a.alliance.id}/renewal-goal",
                                       data={"goal": "5"}).status_code == 404
    assert db.session.scalar(select(Alliance.renewal_goal).where(Alliance.id == a.alliance.id)) is None


# --- the treasurer ----------------------------------------------------------------------------------------


def test_the_treasurer_sees_requests_to_pay_overdue_pledges_and_this_months_income_and_spending(app, world):
    """An approved request waits for payment; two pledges are late, the longest first; this month ¥20,000 came in
    and ¥300 went out (a request paid). A request still waiting for approval is not the treasurer's yet."""
    a = world.a
    fund = funds.default_fund(a.alliance)
    give(a.treasurer, fund, 20_000_00)
    to_pay = ask(a.treasurer, fund, 500_00, payee="鑫达广告工程部")
    expenses.approve(a.lead, to_pay)
    paid = ask(a.treasurer, fund, 300_00, payee="已付的供应商")
    expenses.approve(a.lead, paid)
    expenses.pay(a.treasurer, paid, method=PaymentMethod.BANK_TRANSFER, idempotency_key=key())
    ask(a.treasurer, fund, 700_00, payee="还没批的请款")
    project = make_project(S.DESIGN_APPROVED, by=a.owner, shop=a.shop)
    neighbour = user_with_role(Role.SHOP_OWNER, shop=a.other_shop)
    other = make_project(S.DESIGN_APPROVED, by=neighbour, shop=a.other_shop, title="邻店招牌")
    overdue(promise(a.owner, fund, project, 1_000_00, days=1), 5)
    overdue(promise(neighbour, fund, other, 2_000_00, days=1), 40)
    mirror_on_side_b(world)

    page = home(a.treasurer)
    pay = section(page, "expenses-to-pay")
    assert f'href="/fund/expenses/{to_pay.id}"' in pay and "已付的供应商" not in pay and "还没批的请款" not in pay
    late = section(page, "overdue-pledges")
    assert late.index("40 days overdue") < late.index("5 days overdue")
    assert f"Income {format_fen(20_000_00)}, spending {format_fen(300_00)}" in page
    assert MARK not in page


# --- the same queries at any size -----------------------------------------------------------------------


def add_owner_things(world, n: int) -> None:
    a = world.a
    fund = funds.default_fund(a.alliance)
    for i in range(n):
        project = make_project(S.CHANGES_REQUESTED, by=a.owner, shop=a.shop, title=f"招牌{n}-{i}")
        promise(a.owner, fund, project, 100_00 + i, days=2)
        sign = register_signboard(a.owner, a.shop, SIGNBOARD | {"position": f"位置{n}-{i}"})
        db.session.execute(update(Signboard).where(Signboard.id == sign.id).values(
            next_due_on=local_today() - timedelta(days=i + 1), last_passed=True, last_inspected_on=local_today()))
        db.session.commit()


def add_lead_things(world, n: int) -> None:
    a = world.a
    fund = funds.default_fund(a.alliance)
    give(a.treasurer, fund, 10_000_00)
    for i in range(n):
        make_project(S.SUBMITTED, by=a.owner, shop=a.shop, title=f"待审{n}-{i}")
        stale(make_project(S.DESIGN_APPROVED, by=a.owner, shop=a.shop, title=f"待定{n}-{i}"), 20)
        ask(a.treasurer, fund, 100_00 + i)


def add_treasurer_things(world, n: int) -> None:
    a = world.a
    fund = funds.default_fund(a.alliance)
    give(a.treasurer, fund, 10_000_00)
    project = make_project(S.DESIGN_APPROVED, by=a.owner, shop=a.shop, title=f"出资{n}")
    for i in range(n):
        request = ask(a.treasurer, fund, 100_00 + i)
        expenses.approve(a.lead, request)
        overdue(promise(a.owner, fund, project, 100_00 + i, days=1), i + 1)
        entry(fund, EntryKind.SUBSIDY, 50_00 + i, by=a.treasurer, counterparty="街道办")


@pytest.mark.parametrize("role, add", [("owner", add_owner_things), ("lead", add_lead_things),
                                       ("treasurer", add_treasurer_things)])
def test_each_home_costs_the_same_queries_with_a_little_or_a_lot_waiting(app, world, role, add):
    """One item of each kind, then four more of each: the home asks the database as many times."""
    user = getattr(world.a, role)
    add(world, 1)
    few = home_queries(user)
    add(world, 4)
    assert home_queries(user) == few


def test_a_person_holding_several_roles_sees_the_cards_of_each(app, world):
    """The alliance's lead also runs a shop: their home has the owner's cards and the lead's."""
    a = world.a
    lead_and_owner = user_with_role(Role.ALLIANCE_LEAD, alliance=a.alliance)
    accounts.grant_role(lead_and_owner, Role.SHOP_OWNER, shop=a.other_shop)
    db.session.commit()
    page = home(lead_and_owner)
    assert 'id="owner-projects"' in page and 'id="lead-work"' in page and 'id="lead-money"' in page


def test_every_home_shows_a_change_at_once_whether_it_is_cached_or_built_each_time(app, world):
    """The owner's and lead's homes are cached under their own alliance's version, so a new design to review or
    a change asked shows on the next view; an officer's home reads across the street's alliances and is built
    on every view, so a new report on any road shows at once (a second view is never an old page)."""
    a = world.a
    lead, owner, officer = login_as(a.lead), login_as(a.owner), login_as(a.officer)
    for client in (lead, owner, officer):
        client.get("/")  # and again below: a cached page would be served the second time
    project = make_project(S.SUBMITTED, by=a.owner, shop=a.shop, title="新的设计稿")
    assert "新的设计稿" in section(text_of(lead.get("/")), "designs-to-review")
    put_in_state(project, S.CHANGES_REQUESTED)
    assert "新的设计稿" in text_of(owner.get("/"))
    assert 'data-testid="new-reports-total">0<' in text_of(officer.get("/"))
    report(a, description="招牌一角松动")
    db.session.commit()
    assert 'data-testid="new-reports-total">1<' in text_of(officer.get("/"))
    assert "overdue-signs" not in text_of(officer.get("/"))
    sign = register_signboard(a.owner, a.shop, SIGNBOARD, [upload()])
    db.session.commit()
    officer.get("/")
    sign.next_due_on = local_today() - timedelta(days=3)  # a change in one alliance only
    db.session.commit()
    assert f"/signboards/{sign.id}/registry" in section(text_of(officer.get("/")), "overdue-signs")
