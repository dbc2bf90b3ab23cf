"""The fund's read side: what its pages list, one call each for the views. Nothing here writes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Row, Select, bindparam, func, select

from merchant_alliance import authz
from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.extensions import db
from merchant_alliance.funds import expenses, pledges, reports, services
from merchant_alliance.funds.models import (
    ExpenseApproval,
    ExpenseRequest,
    ExpenseState,
    Fund,
    LedgerEntry,
    LedgerMonth,
    Pledge,
    ProjectBudget,
)
from merchant_alliance.pagecache import alliance_scope, remembered
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop

EXPENSE_PAGE_SIZE = 50


def alliance_and_main_fund(alliance_id: int) -> tuple[Alliance, Fund] | None:
    """The alliance and its main fund, in one query, or none while their versions have not changed since this
    process last read them (`pagecache.remembered`); None when there is no such alliance."""

    def load() -> tuple[Alliance, Fund] | None:
        row = db.session.execute(_alliance_and_main_fund(), {"alliance_id": alliance_id}).first()
        return (row[0], row[1]) if row else None

    return remembered(f"alliance-and-main-fund:{alliance_id}", [alliance_scope(alliance_id)], load)


@functools.cache
def _alliance_and_main_fund() -> Select:
    return (select(Alliance, Fund).join(Fund, (Fund.alliance_id == Alliance.id) & Fund.is_default)
            .where(Alliance.id == bindparam("alliance_id")))


def recent_entries(fund_id: int, limit: int = 10) -> list[Row]:
    """The fund's newest entries, as the entry list shows them."""
    return list(db.session.execute(services.entry_rows(fund_id).limit(limit)))


def shop_names(alliance_id: int) -> list[Row]:
    """(id, name, house_number) of every shop of the alliance, by name: the entry list's shop filter."""
    return list(db.session.execute(select(Shop.id, Shop.name, Shop.house_number)
                                   .where(Shop.alliance_id == alliance_id).order_by(Shop.name)))


def project_titles(alliance_id: int) -> list[Row]:
    """(id, title) of every project of the alliance, by title: the entry list's project filter."""
    return list(db.session.execute(select(Project.id, Project.title)
                                   .where(Project.alliance_id == alliance_id).order_by(Project.title)))


def shops_of(alliance_id: int, *, active_only: bool = False) -> list[Shop]:
    """The alliance's shops by name (only those still active, when asked), to choose one in a form."""
    query = select(Shop).where(Shop.alliance_id == alliance_id).order_by(Shop.name)
    return list(db.session.scalars(query.where(Shop.active) if active_only else query))


def pledgeable_shops(user: User, alliance: Alliance) -> list[Shop]:
    """The active shops this user may pledge for, by name: every shop for the staff, their own for an owner."""
    query = select(Shop).where(Shop.alliance_id == alliance.id, Shop.active).order_by(Shop.name)
    if not authz.can(user, "manage_pledges", alliance):
        owned = [m.shop_id for m in user.memberships if m.shop_id]
        query = query.where(Shop.id.in_(owned))
    return list(db.session.scalars(query))


def projects_of(alliance_id: int) -> list[Project]:
    """The alliance's projects, the most recently changed first, to choose one in a form."""
    return list(db.session.scalars(select(Project).where(Project.alliance_id == alliance_id)
                                   .order_by(Project.updated_at.desc())))


def projects_of_shops(shops: list[Shop]) -> list[Project]:
    """The projects of these shops, the most recently changed first."""
    return list(db.session.scalars(select(Project).where(Project.shop_id.in_([s.id for s in shops]))
                                   .order_by(Project.updated_at.desc())))


def pledge_page(fund_id: int, *, open_only: bool, page: int, per_page: int) -> tuple[list[Row], int]:
    """One page of the fund's pledges (rows of pledges.pledge_rows(), soonest due first) and how many there are."""
    query = pledges.pledge_rows(fund_id, open_only=open_only)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = list(db.session.execute(query.limit(per_page).offset((page - 1) * per_page)))
    return rows, total


def shop_pledges(fund_id: int, shop_id: int) -> list[Row]:
    """Every pledge of the shop, with what has been paid on each (rows of pledges.pledge_rows())."""
    return list(db.session.execute(pledges.pledge_rows(fund_id, shop_id=shop_id)))


def shop_payments(fund_id: int, shop_id: int) -> list[Row]:
    """The shop's own entries (contributions, refunds and their reversals), newest first."""
    return list(db.session.execute(pledges.shop_payments(fund_id, shop_id)))


@dataclass(frozen=True)
class ShopMoney:
    """A shop's standing with the fund, for the card on the shop's page."""

    paid_fen: int  # everything the shop's entries add up to
    owed_fen: int  # still to pay on its open and overdue pledges
    overdue: int  # how many of those are past their due date


def shop_money(fund_id: int, shop_id: int) -> ShopMoney:
    """What the shop has paid into the fund, still owes on its pledges, and how many pledges are overdue."""
    statuses = [(row, pledges.pledge_status(row)) for row in shop_pledges(fund_id, shop_id)]
    owing = [(row, status) for row, status in statuses if status in ("open", "overdue")]
    return ShopMoney(
        paid_fen=services.sum_fen(LedgerEntry.amount_fen, LedgerEntry.fund_id == fund_id,
                                  LedgerEntry.shop_id == shop_id),
        owed_fen=sum(row.amount_fen - row.paid_fen for row, _ in owing),
        overdue=sum(1 for _, status in owing if status == "overdue"),
    )


def project_requests(fund_id: int, project_id: int) -> list[ExpenseRequest]:
    """The fund's expense requests for one project, newest first."""
    return list(db.session.scalars(expenses.requests_of(fund_id).where(ExpenseRequest.project_id == project_id)))


def expense_page(fund_id: int, state: ExpenseState | None, page: int) -> Pagination:
    """One page of the fund's expense requests (in one state, when given), newest first."""
    return db.paginate(expenses.requests_of(fund_id, state), page=page, per_page=EXPENSE_PAGE_SIZE, error_out=False)


# --- what waits on the home page -------------------------------------------------------------------

HOME_LIMIT = 10  # each list of a home card shows the most urgent few, with the total beside it
OVERDUE_SHOWN = 3  # the treasurer's card names the longest overdue pledges; the pledge page has the rest
DUE_SOON = timedelta(days=14)  # an owner sees a pledge on their home from this long before it is due


@dataclass(frozen=True)
class OwnerMoney:
    pledges: list[Row]  # open pledges of the owner's shops due within DUE_SOON or overdue, the earliest first
    books: list[Row]  # (id, name) of the alliances of the owner's shops: their books are one tap away
    today: date


def owner_money(shop_ids: list[int]) -> OwnerMoney:
    """The owner's pledges due soon or overdue, and whose books they may read: two queries."""
    today = pledges.today()
    rows = list(db.session.execute(
        select(Pledge.id, Pledge.shop_id, Pledge.amount_fen, Pledge.paid_fen, Pledge.due_on, Fund.alliance_id,
               Shop.name.label("shop_name"), Project.title.label("project_title"))
        .join(Fund, Pledge.fund_id == Fund.id).join(Shop, Pledge.shop_id == Shop.id)
        .outerjoin(Project, Pledge.project_id == Project.id)
        .where(Pledge.shop_id.in_(shop_ids), Pledge.cancelled_at.is_(None), Pledge.paid_fen < Pledge.amount_fen,
               Pledge.due_on <= today + DUE_SOON)
        .order_by(Pledge.due_on, Pledge.id).limit(HOME_LIMIT)))
    books = list(db.session.execute(
        select(Alliance.id, Alliance.name).where(Alliance.id.in_(select(Shop.alliance_id).where(Shop.id.in_(shop_ids))))
        .order_by(Alliance.name)))
    return OwnerMoney(pledges=rows, books=books, today=today)


@dataclass(frozen=True)
class LeadMoney:
    to_approve: list[Row]  # expense requests waiting for this lead's approval, the oldest first
    to_approve_total: int
    budgets: list[Row]  # projects whose budget is still to set, the longest waiting first
    budgets_total: int


def lead_money(user: User, alliance_ids: list[int]) -> LeadMoney:
    """Expense requests this lead may approve (not their own, not approved by them already) and projects whose
    budget is still to set, in the alliances they lead: two queries."""
    total = func.count().over().label("total")
    approved_by_me = select(ExpenseApproval.id).where(ExpenseApproval.request_id == ExpenseRequest.id,
                                                      ExpenseApproval.approver_id == user.id).exists()
    to_approve = list(db.session.execute(
        select(ExpenseRequest.id, ExpenseRequest.payee, ExpenseRequest.amount_fen, ExpenseRequest.created_at, total)
        .join(Fund, ExpenseRequest.fund_id == Fund.id)
        .where(Fund.alliance_id.in_(alliance_ids), ExpenseRequest.state == ExpenseState.SUBMITTED,
               ExpenseRequest.requested_by_id != user.id, ~approved_by_me)
        .order_by(ExpenseRequest.created_at, ExpenseRequest.id).limit(HOME_LIMIT)))
    # The lifecycle says when a budget may be set; a project there without one waits for its lead.
    budgets = list(db.session.execute(
        select(Project.id, Project.title, Project.state, Project.updated_at, Shop.name.label("shop_name"), total)
        .join(Shop, Project.shop_id == Shop.id)
        .outerjoin(ProjectBudget, ProjectBudget.project_id == Project.id)
        .where(Project.alliance_id.in_(alliance_ids), Project.state.in_(lifecycle.states_allowing("set_budget")),
               ProjectBudget.project_id.is_(None))
        .order_by(Project.updated_at, Project.id).limit(HOME_LIMIT)))
    return LeadMoney(to_approve=to_approve, to_approve_total=to_approve[0].total if to_approve else 0,
                     budgets=budgets, budgets_total=budgets[0].total if budgets else 0)


@dataclass(frozen=True)
class MonthFlow:
    alliance_id: int
    alliance_name: str
    income_fen: int
    spending_fen: int


@dataclass(frozen=True)
class TreasurerMoney:
    to_pay: list[Row]  # approved expense requests, the oldest first
    to_pay_total: int
    overdue: list[Row]  # open pledges past their due date, the longest overdue first
    overdue_total: int
    months: list[MonthFlow]  # this month's income and spending of each alliance's funds
    month: str
    today: date


def treasurer_money(alliance_ids: list[int]) -> TreasurerMoney:
    """Approved requests to pay, overdue pledges and this month's income and spending (from the monthly sums,
    never the whole ledger) in the alliances this treasurer keeps the books of: three queries."""
    total = func.count().over().label("total")
    today = pledges.today()
    to_pay = list(db.session.execute(
        select(ExpenseRequest.id, ExpenseRequest.payee, ExpenseRequest.amount_fen, ExpenseRequest.updated_at, total)
        .join(Fund, ExpenseRequest.fund_id == Fund.id)
        .where(Fund.alliance_id.in_(alliance_ids), ExpenseRequest.state == ExpenseState.APPROVED)
        .order_by(ExpenseRequest.updated_at, ExpenseRequest.id).limit(HOME_LIMIT)))
    overdue = list(db.session.execute(
        select(Pledge.id, Pledge.amount_fen, Pledge.paid_fen, Pledge.due_on, Fund.alliance_id,
               Shop.name.label("shop_name"), Shop.house_number, total)
        .join(Fund, Pledge.fund_id == Fund.id).join(Shop, Pledge.shop_id == Shop.id)
        .where(Fund.alliance_id.in_(alliance_ids), Pledge.cancelled_at.is_(None),
               Pledge.paid_fen < Pledge.amount_fen, Pledge.due_on < today)
        .order_by(Pledge.due_on, Pledge.id).limit(OVERDUE_SHOWN)))
    month = reports.Month(today.year, today.month)
    months = [MonthFlow(alliance_id, name, int(income), int(spending)) for alliance_id, name, income, spending
              in db.session.execute(
                  select(Alliance.id, Alliance.name,
                         func.coalesce(func.sum(LedgerMonth.income_fen), 0),
                         func.coalesce(func.sum(LedgerMonth.spending_fen), 0))
                  .join(Fund, Fund.alliance_id == Alliance.id)
                  .outerjoin(LedgerMonth, (LedgerMonth.fund_id == Fund.id) & (LedgerMonth.month == month.first_day))
                  .where(Alliance.id.in_(alliance_ids)).group_by(Alliance.id, Alliance.name).order_by(Alliance.name))]
    return TreasurerMoney(to_pay=to_pay, to_pay_total=to_pay[0].total if to_pay else 0, overdue=overdue,
                          overdue_total=overdue[0].total if overdue else 0, months=months, month=str(month),
                          today=today)
