"""The fund's rules: recording money in and out, reversals, balances. Plain functions for views, API and CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.accounts.services import scope_ids
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import EntryKind, Fund, LedgerEntry, PaymentMethod
from merchant_alliance.money import MAX_FEN, format_fen
from merchant_alliance.photos.services import save_photos
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import utcnow

DEFAULT_FUND_NAME = "资金池"

audit.register_labels({
    "fund.entry": _l("Money recorded in the fund"),
    "fund.reversal": _l("Fund entry reversed"),
}, objects={"ledgerentry": _l("Fund entry"), "fund": _l("Fund")})


@dataclass(frozen=True)
class Totals:
    balance_fen: int
    income_fen: int
    spending_fen: int


def default_fund(alliance: Alliance) -> Fund:
    """The alliance's main fund, created the first time it is needed."""
    fund = db.session.scalar(select(Fund).where(Fund.alliance_id == alliance.id, Fund.is_default))
    if fund is None:
        fund = Fund(alliance=alliance, name=DEFAULT_FUND_NAME, is_default=True)
        db.session.add(fund)
        db.session.flush()
    return fund


def balance_fen(fund_id: int) -> int:
    """The fund's balance, summed by the database (PostgreSQL sums bigints as numeric: back to int)."""
    return int(db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(LedgerEntry.fund_id == fund_id)
    ))


def totals(fund_id: int, since: datetime | None = None) -> Totals:
    """Balance, income and spending (optionally since a moment), in one query."""
    amount = LedgerEntry.amount_fen
    in_window = LedgerEntry.occurred_on >= since if since else True
    income = func.coalesce(func.sum(amount).filter(amount > 0, in_window), 0)
    spending = func.coalesce(func.sum(-amount).filter(amount < 0, in_window), 0)
    row = db.session.execute(
        select(func.coalesce(func.sum(amount), 0), income, spending).where(LedgerEntry.fund_id == fund_id)
    ).one()
    return Totals(*(int(value) for value in row))


def _lock(fund: Fund) -> None:
    """Hold the fund for the rest of this transaction, so the balance checked is the balance written to.

    PostgreSQL locks the row (SELECT … FOR UPDATE). SQLite has no row locks: the no-op UPDATE takes the
    database's write lock now, as BEGIN IMMEDIATE would, so a second writer waits for our commit.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(Fund).where(Fund.id == fund.id).values(id=Fund.id))
    else:
        db.session.execute(select(Fund.id).where(Fund.id == fund.id).with_for_update())


def _already_recorded(idempotency_key: str) -> LedgerEntry | None:
    return db.session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == idempotency_key))


def record_entry(
    actor: User,
    fund: Fund,
    kind: EntryKind,
    amount_fen: int,
    *,
    idempotency_key: str,
    method: PaymentMethod | None = None,
    reference: str = "",
    counterparty: str = "",
    purpose: str = "",
    shop: Shop | None = None,
    project: Project | None = None,
    receipt: FileStorage | None = None,
    occurred_on: datetime | None = None,
) -> LedgerEntry:
    """Record money into or out of the fund. The same idempotency key records once, whatever happens."""
    if not authz.can(actor, "record_money", fund.alliance):
        raise NotAllowed()
    if kind == EntryKind.REVERSAL:
        raise DomainError(_l("Use “reverse” to correct an entry."))
    if not isinstance(amount_fen, int) or not (0 < amount_fen <= MAX_FEN):
        raise DomainError(_l("The amount must be more than zero and at most %(max)s.", max=format_fen(MAX_FEN)))
    if not idempotency_key or len(idempotency_key) > 64:
        raise DomainError(_l("This form has expired. Please reload the page and try again."))
    if shop is not None and shop.alliance_id != fund.alliance_id:
        raise DomainError(_l("That shop is not in this alliance."))
    if project is not None and project.alliance_id != fund.alliance_id:
        raise DomainError(_l("That project is not in this alliance."))
    if kind == EntryKind.CONTRIBUTION and shop is None:
        raise DomainError(_l("A contribution comes from a shop: choose which."))
    existing = _already_recorded(idempotency_key)
    if existing is not None:
        return existing
    signed = amount_fen if kind.is_income else -amount_fen
    try:
        _lock(fund)
        if signed < 0 and balance_fen(fund.id) + signed < 0:
            raise DomainError(_l("The fund holds %(balance)s; it cannot pay out %(amount)s.",
                                 balance=format_fen(balance_fen(fund.id)), amount=format_fen(amount_fen)))
        entry = LedgerEntry(
            fund=fund, kind=kind, amount_fen=signed, method=method, reference=reference.strip()[:100],
            counterparty=counterparty.strip()[:100], purpose=purpose.strip(), shop_id=shop.id if shop else None,
            project_id=project.id if project else None, idempotency_key=idempotency_key, entered_by=actor,
            occurred_on=occurred_on or utcnow(),
        )
        if receipt is not None and receipt.filename:
            photos = save_photos(actor, [receipt], alliance=fund.alliance, shop=shop)
            entry.receipt_photo_id = photos[0].id
        db.session.add(entry)
        db.session.flush()
        audit.record(actor, "fund.entry", entry, kind=str(kind), amount_fen=signed,
                     **scope_ids(alliance=fund.alliance))
        db.session.commit()
    except IntegrityError:
        # A second submit of the same form won the race to the unique key: it recorded the money.
        db.session.rollback()
        existing = _already_recorded(idempotency_key)
        if existing is None:
            raise
        return existing
    except DomainError:
        db.session.rollback()
        raise
    return entry


def reverse_entry(actor: User, entry: LedgerEntry, reason: str, *, idempotency_key: str) -> LedgerEntry:
    """Undo an entry with an exact opposite entry that names it. Each entry can be reversed once."""
    fund = entry.fund
    if not authz.can(actor, "record_money", fund.alliance):
        raise NotAllowed()
    if entry.kind == EntryKind.REVERSAL:
        raise DomainError(_l("A reversal cannot itself be reversed; record a new entry instead."))
    if not (reason or "").strip():
        raise DomainError(_l("Please give a reason for the reversal."))
    existing = _already_recorded(idempotency_key)
    if existing is not None:
        return existing
    try:
        _lock(fund)
        if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id)):
            raise DomainError(_l("This entry has already been reversed."))
        if -entry.amount_fen < 0 and balance_fen(fund.id) - entry.amount_fen < 0:
            raise DomainError(_l("Reversing this income would take the fund below zero."))
        reversal = LedgerEntry(
            fund=fund, kind=EntryKind.REVERSAL, amount_fen=-entry.amount_fen, reverses_id=entry.id,
            purpose=reason.strip(), shop_id=entry.shop_id, project_id=entry.project_id,
            counterparty=entry.counterparty, idempotency_key=idempotency_key, entered_by=actor,
        )
        db.session.add(reversal)
        db.session.flush()
        audit.record(actor, "fund.reversal", reversal, reverses=entry.id, reason=reason.strip(),
                     **scope_ids(alliance=fund.alliance))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = _already_recorded(idempotency_key)
        if existing is None:
            raise DomainError(_l("This entry has already been reversed.")) from None
        return existing
    except DomainError:
        db.session.rollback()
        raise
    return reversal


# --- reading the books -------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryFilters:
    kind: EntryKind | None = None
    shop_id: int | None = None
    since: datetime | None = None  # naive UTC, inclusive
    until: datetime | None = None  # naive UTC, exclusive


def entry_rows(fund_id: int, filters: EntryFilters = EntryFilters()):
    """A select() of the fund's entries as plain rows (what the list shows), newest first."""
    reversal = aliased(LedgerEntry)
    query = (
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.amount_fen, LedgerEntry.occurred_on,
               LedgerEntry.method, LedgerEntry.reference, LedgerEntry.counterparty, LedgerEntry.purpose,
               LedgerEntry.receipt_photo_id, LedgerEntry.reverses_id, Shop.name.label("shop_name"),
               Shop.house_number, User.name.label("entered_by"),
               exists(select(reversal.id).where(reversal.reverses_id == LedgerEntry.id)).label("is_reversed"))
        .outerjoin(Shop, LedgerEntry.shop_id == Shop.id)
        .join(User, LedgerEntry.entered_by_id == User.id)
        .where(LedgerEntry.fund_id == fund_id)
        .order_by(LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc())
    )
    if filters.kind:
        query = query.where(LedgerEntry.kind == filters.kind)
    if filters.shop_id:
        query = query.where(LedgerEntry.shop_id == filters.shop_id)
    if filters.since:
        query = query.where(LedgerEntry.occurred_on >= filters.since)
    if filters.until:
        query = query.where(LedgerEntry.occurred_on < filters.until)
    return query
