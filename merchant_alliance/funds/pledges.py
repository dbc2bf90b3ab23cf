"""Pledges: what a shop promised to pay and by when. Payments that name a pledge settle it.

A pledge's paid amount is the sum of the ledger entries that name it (a reversed payment names it too,
so it un-settles exactly). Arrears are open pledges past their due date, bucketed by days overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.accounts.services import scope_ids
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import Fund, LedgerEntry, Pledge
from merchant_alliance.funds.services import check_amount, check_idempotency_key
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import local_today, utcnow

AUDIT_LABELS = {
    "fund.pledge": _l("recorded a pledge"),
    "fund.pledge_cancelled": _l("cancelled a pledge"),
}
AUDIT_OBJECTS = {"pledge": _l("Pledge")}

# A promise to pay further ahead than this is a typing mistake (and would sit in no arrears report for years).
PLEDGE_YEARS = 5
# Days overdue at which arrears move to the next column: 1–30, 31–60, 61–90, over 90.
BUCKETS = (30, 60, 90)


def today() -> date:
    """Today in Shanghai: due dates are Shanghai calendar days."""
    return local_today()


def may_pledge(user: User, shop: Shop) -> bool:
    """A shop's owner pledges for their shop; the alliance's staff record pledges on a shop's behalf."""
    return authz.can(user, "manage_pledges", shop.alliance) or authz.can(user, "propose", shop)


def create_pledge(actor: User, fund: Fund, shop: Shop, amount_fen: int, due_on: date, *,
                  project: Project | None = None, note: str = "", idempotency_key: str | None = None) -> Pledge:
    """Record a promise to pay; the same form key (a double submit) records it once."""
    if not may_pledge(actor, shop):
        raise NotAllowed()
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
        existing = db.session.scalar(select(Pledge).where(Pledge.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    check_amount(amount_fen)
    if shop.alliance_id != fund.alliance_id:
        raise DomainError(_l("That shop is not in this alliance."))
    if project is not None and project.shop_id != shop.id:
        raise DomainError(_l("That project is not this shop's.")).on("project_id")
    if due_on is None:
        raise DomainError(_l("Give the date by which the money will be paid.")).on("due_on")
    if due_on < today():
        raise DomainError(_l("The due date cannot be in the past.")).on("due_on")
    if due_on > today() + timedelta(days=365 * PLEDGE_YEARS):
        raise DomainError(_l("The due date can be at most %(years)s years from today.", years=PLEDGE_YEARS)) \
            .on("due_on")
    pledge = Pledge(fund_id=fund.id, shop_id=shop.id, project_id=project.id if project else None,
                    amount_fen=amount_fen, due_on=due_on, note=note.strip()[:200], created_by_id=actor.id,
                    idempotency_key=idempotency_key)
    db.session.add(pledge)
    try:
        db.session.flush()
    except IntegrityError:  # the same form's second submit won the race to the unique key
        db.session.rollback()
        return db.session.scalar(select(Pledge).where(Pledge.idempotency_key == idempotency_key))
    audit.record(actor, "fund.pledge", pledge, amount_fen=amount_fen, shop=shop.id, due_on=due_on.isoformat(),
                 project_id=project.id if project else None, **scope_ids(alliance=fund.alliance))
    db.session.commit()
    return pledge


def cancel_pledge(actor: User, pledge: Pledge, reason: str) -> None:
    """Withdraw a promise that will not be kept (what was paid on it stays paid)."""
    if not authz.can(actor, "manage_pledges", pledge.fund.alliance):
        raise NotAllowed()
    if pledge.cancelled_at is not None:
        raise DomainError(_l("This pledge has already been cancelled."))
    if not (reason or "").strip():
        raise DomainError(_l("Please give a reason."))
    now = utcnow()
    # Once, decided where it is written: of two cancellations at the same moment the second finds it done.
    cancelled = db.session.execute(
        update(Pledge).where(Pledge.id == pledge.id, Pledge.cancelled_at.is_(None)).values(cancelled_at=now)
        .execution_options(synchronize_session=False, cache_scopes=scopes_of(pledge))
    ).rowcount
    if cancelled != 1:
        db.session.rollback()
        raise DomainError(_l("This pledge has already been cancelled."))
    set_committed_value(pledge, "cancelled_at", now)
    audit.record(actor, "fund.pledge_cancelled", pledge, reason=reason.strip(), project_id=pledge.project_id,
                 **scope_ids(alliance=pledge.fund.alliance))
    db.session.commit()


# --- reading ------------------------------------------------------------------------------------


def pledge_rows(fund_id: int, *, shop_id: int | None = None, open_only: bool = False):
    """A select() of pledges with what has been paid on each, soonest due first."""
    query = (
        select(Pledge.id, Pledge.shop_id, Pledge.project_id, Pledge.amount_fen, Pledge.due_on, Pledge.note,
               Pledge.cancelled_at, Pledge.paid_fen, Shop.name.label("shop_name"), Shop.house_number,
               Project.title.label("project_title"))
        .join(Shop, Pledge.shop_id == Shop.id)
        .outerjoin(Project, Pledge.project_id == Project.id)
        .where(Pledge.fund_id == fund_id)
        .order_by(Pledge.due_on, Pledge.id)
    )
    if shop_id is not None:
        query = query.where(Pledge.shop_id == shop_id)
    if open_only:
        query = query.where(Pledge.cancelled_at.is_(None), Pledge.paid_fen < Pledge.amount_fen)
    return query


@dataclass(frozen=True)
class Arrear:
    pledge_id: int
    shop_id: int
    shop_name: str
    house_number: str
    project_title: str | None
    due_on: date
    outstanding_fen: int
    days_overdue: int

    @property
    def bucket(self) -> int:
        """0 for 1–30 days, 1 for 31–60, 2 for 61–90, 3 for over 90."""
        return sum(self.days_overdue > limit for limit in BUCKETS)


def arrears(fund_id: int, on: date | None = None) -> list[Arrear]:
    """Open pledges past their due date, longest overdue first (one query)."""
    on = on or today()
    rows = db.session.execute(
        pledge_rows(fund_id, open_only=True).where(Pledge.due_on < on).order_by(None)
        .order_by(Pledge.due_on, Shop.name)
    )
    return [
        Arrear(pledge_id=r.id, shop_id=r.shop_id, shop_name=r.shop_name, house_number=r.house_number,
               project_title=r.project_title, due_on=r.due_on, outstanding_fen=int(r.amount_fen - r.paid_fen),
               days_overdue=(on - r.due_on).days)
        for r in rows
    ]


def arrears_by_bucket(items: list[Arrear]) -> list[int]:
    """Totals of the four columns: 1–30, 31–60, 61–90, over 90 days."""
    totals = [0, 0, 0, 0]
    for item in items:
        totals[item.bucket] += item.outstanding_fen
    return totals


def pledge_status(row) -> str:
    """open, settled, overdue or cancelled, for a row of pledge_rows()."""
    if row.cancelled_at is not None:
        return "cancelled"
    if row.paid_fen >= row.amount_fen:
        return "settled"
    return "overdue" if row.due_on < today() else "open"


def shop_payments(fund_id: int, shop_id: int):
    """A select() of the shop's own entries (its contributions, refunds and their reversals), newest first."""
    return (
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.amount_fen, LedgerEntry.occurred_on,
               LedgerEntry.method, LedgerEntry.reference, LedgerEntry.pledge_id, Project.title.label("project_title"))
        .outerjoin(Project, LedgerEntry.project_id == Project.id)
        .where(LedgerEntry.fund_id == fund_id, LedgerEntry.shop_id == shop_id)
        .order_by(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc())
    )


def open_pledges(fund_id: int) -> list:
    """Every open pledge (rows of pledge_rows()), for the treasurer's "this payment settles" choice."""
    return list(db.session.execute(pledge_rows(fund_id, open_only=True)))

