"""The flask commands an operator runs: the Yuyuan Road demo and the first platform administrator."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Alliance, Membership, Role, Street, User
from merchant_alliance.accounts.services import check_password_strength
from merchant_alliance.demo import CO_LEAD, DEMO_ACCOUNTS, DEMO_PASSWORD
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, pledges
from merchant_alliance.funds import services as funds
from merchant_alliance.funds.models import ExpenseRequest, ExpenseState, LedgerEntry, Pledge
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.reports.models import HazardReport
from merchant_alliance.safety import registry
from merchant_alliance.safety.models import Certificate, Inspection, Permit, RectificationOrder
from merchant_alliance.shops.models import Risk, Shop, Signboard
from merchant_alliance.timeutil import local_today
from merchant_alliance.works.models import (
    ChangeOrder,
    Contractor,
    Milestone,
    OrderPayment,
    OrderState,
    PunchItem,
    WorkOrder,
)
from merchant_alliance.works.payments import retention_of
from tests.factories import UserFactory

STRONG_PASSWORD = "Yuyuan-Admin-2026"


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def totals() -> dict[str, int]:
    return {model.__name__: count(model) for model in (Street, Alliance, Shop, User, Membership, LedgerEntry,
                                                       Pledge, ExpenseRequest)}


def test_demo_load_creates_the_yuyuan_road_alliance_once_and_prints_the_logins(runner, client):
    result = runner.invoke(args=["demo", "load", "--if-empty"])  # as `make run` does on a new database

    assert result.exit_code == 0, result.output
    assert (count(Street), count(Alliance), count(Shop)) == (1, 1, 91)
    numbers = db.session.scalars(select(Shop.house_number)).all()
    assert len(set(numbers)) == 91
    alliance = db.session.scalar(select(Alliance))
    assert (alliance.name, alliance.road, alliance.street.name) == ("愚园路商家联盟", "愚园路", "静安寺街道")
    assert len(DEMO_ACCOUNTS) == len(Role)
    for account in DEMO_ACCOUNTS:  # one login per role; the other demo users are owners of other shops
        user = db.session.scalar(select(User).where(User.phone == account.phone))
        assert user.email == account.email
        assert account.role in {m.role for m in user.memberships}
    staff_roles = db.session.scalars(select(Membership.role).where(Membership.role != Role.SHOP_OWNER)).all()
    # one of each, and a second lead: large expenses need two leads' approval
    assert sorted(staff_roles) == sorted([*(r for r in Role if r != Role.SHOP_OWNER), Role.ALLIANCE_LEAD])
    assert CO_LEAD.phone in result.output

    # A year of money that adds up: dues, subsidies, running costs, the bookshop's project funded and paid.
    fund = funds.default_fund(alliance)
    books = funds.totals(fund.id)
    assert books.balance_fen == db.session.scalar(select(func.sum(LedgerEntry.amount_fen))) > 0
    assert books.income_fen > books.spending_fen > 0 and books.available_fen >= 0
    assert pledges.arrears(fund.id), "the demo shows some shops behind with their dues"
    bookshop = db.session.scalar(select(Project).where(Project.title == "书店店招整体翻新"))
    assert budgets.cover(bookshop).spent_fen > 0

    # The street office's part: a permit granted with a condition, one denied then granted, an inspection that
    # failed a critical item, its rectification fixed and re-inspected, two signs certified with their tags.
    permits = db.session.scalars(select(Permit).order_by(Permit.id)).all()
    assert [(p.state.value, p.round, len(p.conditions) > 0) for p in permits] == [
        ("granted", 1, True), ("granted", 2, False), ("granted", 1, False), ("granted", 1, False)]
    completed = db.session.scalars(select(Project).where(Project.state == ProjectState.COMPLETED)).all()
    assert len(completed) == 2 and bookshop in completed
    results = db.session.execute(select(Inspection.project_id, Inspection.kind, Inspection.state)
                                 .where(Inspection.project_id.is_not(None)).order_by(Inspection.id)).all()
    assert [(kind.value, state.value) for _, kind, state in results] == [
        ("acceptance", "failed"), ("reinspection", "passed"), ("acceptance", "passed")]
    order = db.session.scalar(select(RectificationOrder))
    assert order.state.value == "closed" and all(item.fixed_at and item.photos for item in order.items)
    certificates = db.session.scalars(select(Certificate).order_by(Certificate.id)).all()
    assert {c.project_id for c in certificates if c.project_id} == {p.id for p in completed}
    assert [c.serial.split("-")[0] for c in certificates] == ["JAS", "JAS", "JAS"]  # and a periodic one
    for certificate in certificates:
        assert client.get(f"/tags/{certificate.token}").status_code == 200
    waiting = db.session.scalars(select(ExpenseRequest.state)).all()
    assert ExpenseState.PAID in waiting and ExpenseState.SUBMITTED in waiting

    # The works: five contractors (one with its insurance lapsed), orders at every stage, a change order approved,
    # a milestone paid minus its retention and the next one asked for, a milestone late, a defect found and closed.
    contractors = db.session.scalars(select(Contractor)).all()
    assert len(contractors) == 5 and any(c.insurance_expires_on < date.today() for c in contractors)
    assert {o.state for o in db.session.scalars(select(WorkOrder))} == set(OrderState)
    assert [c.state.value for c in db.session.scalars(select(ChangeOrder))] == ["approved"]
    paid, asked = db.session.scalars(select(OrderPayment).order_by(OrderPayment.id)).all()
    assert paid.state.value == "paid" and paid.retention_fen == retention_of(paid.gross_fen, Decimal(3)) > 0
    assert asked.state.value == "requested"  # the next milestone's payment waits for the leads
    assert db.session.scalar(select(func.count()).select_from(Milestone).where(
        Milestone.due_on < date.today(), Milestone.state != "accepted")) >= 1
    assert [i.state.value for i in db.session.scalars(select(PunchItem))] == ["closed"]

    # The registry: every shop's sign, in every state; today's route planned; reports one of each kind.
    signs = db.session.scalars(select(Signboard)).all()
    assert {sign.shop_id for sign in signs} == set(db.session.scalars(select(Shop.id)))
    assert {registry.status_of(sign) for sign in signs} == set(registry.STATUS_LABELS)
    assert {sign.risk for sign in signs} == set(Risk)
    assert db.session.scalar(select(func.count()).select_from(RectificationOrder).where(
        RectificationOrder.state == "open")) == 1
    planned = db.session.scalars(select(Inspection).where(Inspection.planned_on == local_today())).all()
    assert planned and {i.signboard_id for i in planned} >= {s.id for s in signs if registry.status_of(s) == "overdue"}
    reports = db.session.scalars(select(HazardReport).order_by(HazardReport.id)).all()
    assert [(r.state.value, r.urgent, r.entries_count) for r in reports] == [
        ("new", True, 1), ("accepted", False, 2), ("dismissed", False, 1), ("inspecting", False, 1)]
    assert all(sign.open_reports == sum(1 for r in reports if r.signboard_id == sign.id and r.state.open)
               for sign in signs)

    assert f"password for all: {DEMO_PASSWORD}" in result.output
    for account in DEMO_ACCOUNTS:
        assert account.phone in result.output and account.email in result.output
    lead = next(a for a in DEMO_ACCOUNTS if a.role == Role.ALLIANCE_LEAD)
    response = client.post("/login", data={"login": lead.phone, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.get(f"/alliances/{alliance.id}/shops").status_code == 200

    before = totals()
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    assert totals() == before
    added = re.search(r"Demo data: (.*)", again.output).group(1)
    assert set(re.findall(r"\+(\d+)", added)) == {"0"}, added
    assert "password for all" in again.output

    assert "demo data not loaded" in runner.invoke(args=["demo", "load", "--if-empty"]).output
    assert totals() == before


def test_demo_load_if_empty_leaves_a_database_with_users_alone(runner, world):
    before = totals()
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "Database already has users; demo data not loaded." in result.output
    assert totals() == before


def test_create_admin_creates_a_platform_administrator_who_can_log_in(runner, client):
    result = runner.invoke(args=["create-admin", "--name", "管理员", "--phone", "139 0000 0000",
                                 "--email", "Admin@Yuyuan.example", "--password", STRONG_PASSWORD])

    assert result.exit_code == 0, result.output
    assert "Platform administrator 管理员 created." in result.output
    admin = db.session.scalar(select(User))
    assert (admin.phone, admin.email) == ("13900000000", "admin@yuyuan.example")
    assert admin.is_platform_admin
    assert client.post("/login", data={"login": "13900000000", "password": STRONG_PASSWORD}).status_code == 302
    assert client.get("/streets").status_code == 200

    second = runner.invoke(args=["create-admin", "--name", "副管理员", "--email", "deputy@yuyuan.example",
                                 "--password", STRONG_PASSWORD])
    assert second.exit_code == 0, second.output
    deputy = db.session.scalar(select(User).where(User.email == "deputy@yuyuan.example"))
    assert deputy.phone is None and deputy.is_platform_admin


def weakness(password: str) -> str:
    """What the password rules say about `password`, in the language the command speaks."""
    with pytest.raises(DomainError) as weak:
        check_password_strength(password)
    return str(weak.value)


WEAK = None  # the message is what the password rules say about the password given


@pytest.mark.parametrize(("args", "message"), [
    (["--phone", "13900000000", "--password", "short1!"], WEAK),
    (["--phone", "13900000000", "--password", "12345678"], WEAK),
    (["--phone", "13900000000", "--password", "aaaaaaaaaaaa"], WEAK),
    (["--password", STRONG_PASSWORD], "Give a valid --phone or --email"),
    (["--phone", "12345", "--password", STRONG_PASSWORD], "Give a valid --phone or --email"),
    (["--email", "not-an-email", "--password", STRONG_PASSWORD], "Give a valid --phone or --email"),
    (["--phone", "13900000001", "--password", STRONG_PASSWORD], "An account with this phone or email already exists"),
    (["--email", "TAKEN@yuyuan.example", "--password", STRONG_PASSWORD],
     "An account with this phone or email already exists"),
], ids=["too-short", "digits-only", "one-letter", "no-login", "bad-phone", "bad-email", "taken-phone", "taken-email"])
def test_create_admin_refuses_a_weak_password_a_taken_login_or_no_way_to_log_in(runner, args, message):
    existing = UserFactory(phone="13900000001", email="taken@yuyuan.example")
    before = totals()
    message = weakness(args[-1]) if message is WEAK else message
    result = runner.invoke(args=["create-admin", "--name", "管理员", *args])
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output and message in result.output
    assert totals() == before
    assert not existing.is_platform_admin
