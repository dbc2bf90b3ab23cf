"""The fund's read side: what its pages list, one call each for the views. Nothing here writes."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Row, Select, bindparam, func, select

from merchant_alliance import authz
from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.extensions import db
from merchant_alliance.funds import expenses, pledges, services
from merchant_alliance.funds.models import ExpenseRequest, ExpenseState, Fund, LedgerEntry
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop

EXPENSE_PAGE_SIZE = 50


def alliance_and_main_fund(alliance_id: int) -> tuple[Alliance, Fund] | None:
    """The alliance and its main fund, in one query (None when there is no such alliance)."""
    row = db.session.execute(_alliance_and_main_fund(), {"alliance_id": alliance_id}).first()
    return (row[0], row[1]) if row else None


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
