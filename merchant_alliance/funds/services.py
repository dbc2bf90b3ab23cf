"""The fund's rules: recording money in and out, reversals, balances. Plain functions for views, API and CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz, once
from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.accounts.services import scope_ids
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import (
    MAIN_FUND_NAME,
    EntryKind,
    Fund,
    LedgerEntry,
    LedgerMonth,
    PaymentMethod,
    Pledge,
    Reservation,
    ReservationReason,
)
from merchant_alliance.money import MAX_FEN, format_fen
from merchant_alliance.once import lock_row
from merchant_alliance.photos.models import Photo
from merchant_alliance.photos.services import save_photos
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import FIRST_DAY, local_day_start_utc, local_today, utcnow

DEFAULT_FUND_NAME = MAIN_FUND_NAME
# A project in one of these states has no reservation any more: what was left was released when it ended.
PROJECT_ENDED = (ProjectState.WITHDRAWN, ProjectState.REJECTED, ProjectState.COMPLETED)
T = TypeVar("T")

AUDIT_LABELS = {
    "fund.created": _l("opened a fund"),
    "fund.entry": _l("recorded money in the fund"),
    "fund.reversal": _l("reversed a fund entry"),
}
AUDIT_OBJECTS = {"ledgerentry": _l("Fund entry"), "fund": _l("Fund")}


@dataclass(frozen=True)
class Totals:
    balance_fen: int
    income_fen: int
    spending_fen: int
    reserved_fen: int = 0  # set aside for funded projects

    @property
    def available_fen(self) -> int:
        """What may still be spent on anything else."""
        return self.balance_fen - self.reserved_fen


def default_fund(alliance: Alliance) -> Fund:
    """The alliance's main fund (made with the alliance; a read, never a write)."""
    fund = db.session.scalar(select(Fund).where(Fund.alliance_id == alliance.id, Fund.is_default))
    if fund is None:
        raise LookupError(f"Alliance {alliance.id} has no main fund")  # `flask doctor` reports this
    return fund


def funds_of(alliance: Alliance) -> list[Fund]:
    """The alliance's funds, the main one first."""
    return list(db.session.scalars(select(Fund).where(Fund.alliance_id == alliance.id)
                                   .order_by(Fund.is_default.desc(), Fund.name)))


def create_fund(actor: User, alliance: Alliance, name: str, *, idempotency_key: str | None = None) -> Fund:
    """Open another fund beside the main one, e.g. a reserve fund. Its money is kept and reported apart."""
    if not authz.can(actor, "edit_fund_rules", alliance):
        raise NotAllowed()
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError(_l("Give the fund a name of at most 100 characters."))
    taken = DomainError(_l("The alliance already has a fund called “%(name)s”.", name=name))

    def write() -> Fund:
        main = default_fund(alliance)
        if any(f.name == name for f in funds_of(alliance)):
            raise taken
        fund = Fund(alliance=alliance, name=name, is_default=False, fund_percent=main.fund_percent,
                    fund_cap_fen=main.fund_cap_fen, two_approvals_above_fen=main.two_approvals_above_fen,
                    shop_share_cover=main.shop_share_cover)
        db.session.add(fund)
        db.session.flush()
        audit.record(actor, "fund.created", fund, name=name, **scope_ids(alliance=alliance))
        return fund

    return once.submit_once(actor, idempotency_key, Fund, write, conflict=taken)


def sum_fen(column, *where) -> int:
    """SUM(column) as an int (PostgreSQL sums bigints as numeric), 0 when nothing matches."""
    return int(db.session.scalar(select(func.coalesce(func.sum(column), 0)).where(*where)))


def balance_fen(fund_id: int) -> int:
    """The fund's balance: its monthly sums added up (a few rows a year, not every entry)."""
    return sum_fen(LedgerMonth.income_fen - LedgerMonth.spending_fen, LedgerMonth.fund_id == fund_id)


def reserved_fen(fund_id: int, project_id: int | None = None) -> int:
    """Money set aside for funded projects (for one project, when given)."""
    where = [Reservation.fund_id == fund_id]
    if project_id is not None:
        where.append(Reservation.project_id == project_id)
    return sum_fen(Reservation.amount_fen, *where)


def available_fen(fund_id: int) -> int:
    return balance_fen(fund_id) - reserved_fen(fund_id)


def spent_by_project_query(fund_id: int | None = None):
    """A select() of (project_id, spent_fen): expenses paid per project, net of their reversals."""
    original = aliased(LedgerEntry)
    kind = func.coalesce(original.kind, LedgerEntry.kind)  # a reversal counts as the kind it undoes
    query = (
        select(LedgerEntry.project_id, func.sum(-LedgerEntry.amount_fen).label("spent_fen"))
        .outerjoin(original, LedgerEntry.reverses_id == original.id)
        .where(LedgerEntry.project_id.is_not(None), kind == EntryKind.EXPENSE.value)
        .group_by(LedgerEntry.project_id)
    )
    return query.where(LedgerEntry.fund_id == fund_id) if fund_id is not None else query


def spent_on_projects(project_ids: list[int]) -> dict[int, int]:
    """Expenses paid per project, net of their reversals (one GROUP BY query)."""
    query = spent_by_project_query().where(LedgerEntry.project_id.in_(project_ids))
    return {project_id: int(spent) for project_id, spent in db.session.execute(query)}


def totals(fund_id: int) -> Totals:
    """Balance, all income and spending, and what is reserved, in one query over the monthly sums."""
    income, spending = func.sum(LedgerMonth.income_fen), func.sum(LedgerMonth.spending_fen)
    reserved = (select(func.coalesce(func.sum(Reservation.amount_fen), 0))
                .where(Reservation.fund_id == fund_id).scalar_subquery())
    row = db.session.execute(
        select(func.coalesce(income - spending, 0), func.coalesce(income, 0), func.coalesce(spending, 0), reserved)
        .where(LedgerMonth.fund_id == fund_id)
    ).one()
    return Totals(*(int(value) for value in row))


def lock(fund: Fund) -> None:
    """Hold the fund for the rest of this transaction, so the balance checked is the balance written to."""
    lock_row(Fund, fund.id)


def check_amount(amount_fen: int) -> None:
    if not isinstance(amount_fen, int) or not (0 < amount_fen <= MAX_FEN):
        raise DomainError(_l("The amount must be more than zero and at most %(max)s.", max=format_fen(MAX_FEN)))


def check_entry_date(occurred_on: datetime | None) -> None:
    """An entry is dated from FIRST_DAY to today in Shanghai (None: now). A date in the future or long ago
    would count in the balance but in no statement."""
    if occurred_on is None:
        return
    if not local_day_start_utc(FIRST_DAY) <= occurred_on < local_day_start_utc(local_today() + timedelta(days=1)):
        raise DomainError(_l("The date must be from %(first)s to today.", first=FIRST_DAY.isoformat())) \
            .on("occurred_on")


def check_idempotency_key(idempotency_key: str) -> None:
    if not idempotency_key or len(idempotency_key) > 64:
        raise DomainError(_l("This form has expired. Please reload the page and try again."))


def write_once(model: type[T], idempotency_key: str, write: Callable[[], T], conflict: DomainError | None = None,
               ) -> T:
    """Run `write` and commit, unless a `model` row already carries this form's one-time key: then that row.

    A second submit racing the first loses at the key's unique constraint and gets the first one's row.
    A refusal (DomainError) rolls everything back, files included. `conflict`: what to say when another
    unique rule refuses the write (someone else asked for the same thing a moment before).
    """
    return once.write_once(
        write, lambda: db.session.scalar(select(model).where(model.idempotency_key == idempotency_key)), conflict)


@dataclass(frozen=True)
class EntryDetails:
    """What one ledger entry says: from the treasurer's form, a paid expense request, the demo or the API."""

    kind: EntryKind
    amount_fen: int  # positive: the kind says which way the money goes
    method: PaymentMethod | None = None
    reference: str = ""
    counterparty: str = ""
    purpose: str = ""
    shop: Shop | None = None
    project: Project | None = None
    pledge: Pledge | None = None
    occurred_on: datetime | None = None  # naive UTC; None: now
    receipt: FileStorage | None = None  # a photo of the receipt, uploaded with the form (stored by record_entry)


def record_entry(actor: User, fund: Fund, details: EntryDetails, *, idempotency_key: str) -> LedgerEntry:
    """Record money into or out of the fund. The same idempotency key records once, whatever happens."""
    if not authz.can(actor, "record_money", fund.alliance):
        raise NotAllowed()
    kind, shop, project, pledge = details.kind, details.shop, details.project, details.pledge
    if kind == EntryKind.REVERSAL:
        raise DomainError(_l("Use “reverse” to correct an entry."))
    check_amount(details.amount_fen)
    check_idempotency_key(idempotency_key)
    check_entry_date(details.occurred_on)
    if pledge is not None:
        if pledge.fund_id != fund.id or pledge.cancelled_at is not None:
            raise DomainError(_l("That pledge is not open in this fund."))
        if kind != EntryKind.CONTRIBUTION or (shop is not None and shop.id != pledge.shop_id):
            raise DomainError(_l("A pledge is settled by a contribution from the shop that pledged."))
        shop = pledge.shop
        project = project or pledge.project
    if kind not in (EntryKind.CONTRIBUTION, EntryKind.REFUND):
        shop = None  # money from the street office or a sponsor is not a shop's contribution
    if shop is not None and shop.alliance_id != fund.alliance_id:
        raise DomainError(_l("That shop is not in this alliance."))
    if project is not None and project.alliance_id != fund.alliance_id:
        raise DomainError(_l("That project is not in this alliance."))
    if kind == EntryKind.CONTRIBUTION and shop is None:
        raise DomainError(_l("A contribution comes from a shop: choose which."))
    details = replace(details, shop=shop, project=project)

    def write() -> LedgerEntry:
        receipt_photo = None
        if details.receipt is not None and details.receipt.filename:
            # Filed under the alliance, not the shop: receipts are for the staff and the street office.
            receipt_photo = save_photos(actor, [details.receipt], alliance=fund.alliance)[0]
        return insert_entry(actor, fund, details, idempotency_key=idempotency_key, receipt_photo=receipt_photo)

    return write_once(LedgerEntry, idempotency_key, write)


def insert_entry(actor: User, fund: Fund, details: EntryDetails, *, idempotency_key: str,
                 receipt_photo: Photo | None = None) -> LedgerEntry:
    """Add one entry inside the caller's transaction, with the fund locked; the caller commits. The receipt is
    `receipt_photo`, already stored (`details.receipt`, an upload, is record_entry's to store).

    Money going out must fit in what is available; an expense for a funded project may also use the
    money reserved for that project, and uses it up first.
    """
    kind, amount_fen, shop, project, pledge = (details.kind, details.amount_fen, details.shop, details.project,
                                               details.pledge)
    check_entry_date(details.occurred_on)
    signed = amount_fen if kind.is_income else -amount_fen
    lock(fund)
    if pledge is not None and _pledge_cancelled(pledge):
        raise DomainError(_l("That pledge is not open in this fund."))
    project_reserve = reserved_fen(fund.id, project.id) if project is not None and signed < 0 else 0
    if signed < 0:
        available = available_fen(fund.id)
        if amount_fen > available + project_reserve:
            raise DomainError(_l(
                "The fund has %(available)s available (money reserved for funded projects is not); "
                "it cannot pay out %(amount)s.",
                available=format_fen(available + project_reserve), amount=format_fen(amount_fen)))
    entry = LedgerEntry(
        fund=fund, kind=kind, amount_fen=signed, method=details.method, reference=details.reference.strip()[:100],
        counterparty=details.counterparty.strip()[:100], purpose=details.purpose.strip(),
        shop_id=shop.id if shop else None, project_id=project.id if project else None,
        pledge_id=pledge.id if pledge else None, receipt_photo_id=receipt_photo.id if receipt_photo else None,
        idempotency_key=idempotency_key, entered_by=actor, occurred_on=details.occurred_on or utcnow(),
    )
    db.session.add(entry)
    db.session.flush()
    if project_reserve > 0:
        db.session.add(Reservation(
            fund_id=fund.id, project_id=project.id, amount_fen=-min(amount_fen, project_reserve),
            reason=ReservationReason.SPEND, ledger_entry_id=entry.id, created_by_id=actor.id,
        ))
    audit.record(actor, "fund.entry", entry, kind=str(kind), amount_fen=signed,
                 project_id=project.id if project else None, **scope_ids(alliance=fund.alliance))
    return entry


def _pledge_cancelled(pledge: Pledge) -> bool:
    """Whether the pledge is cancelled now, read with its row locked: a payment and a cancellation at the
    same moment take turns, so no payment settles a pledge cancelled a moment before."""
    return db.session.scalar(
        select(Pledge.cancelled_at).where(Pledge.id == pledge.id).with_for_update()) is not None


def reverse_entry(actor: User, entry: LedgerEntry, reason: str, *, idempotency_key: str) -> LedgerEntry:
    """Undo an entry with an exact opposite entry that names it. Each entry can be reversed once."""
    fund = entry.fund
    if not authz.can(actor, "record_money", fund.alliance):
        raise NotAllowed()
    if entry.kind == EntryKind.REVERSAL:
        raise DomainError(_l("A reversal cannot itself be reversed; record a new entry instead."))
    if not (reason or "").strip():
        raise DomainError(_l("Please give a reason for the reversal."))

    def write() -> LedgerEntry:
        lock(fund)
        if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry.id)):
            raise DomainError(_l("This entry has already been reversed."))
        if entry.amount_fen > 0 and available_fen(fund.id) - entry.amount_fen < 0:
            raise DomainError(_l("Reversing this income would take the money available below zero."))
        reversal = LedgerEntry(
            fund=fund, kind=EntryKind.REVERSAL, amount_fen=-entry.amount_fen, reverses_id=entry.id,
            purpose=reason.strip(), shop_id=entry.shop_id, project_id=entry.project_id, pledge_id=entry.pledge_id,
            counterparty=entry.counterparty, idempotency_key=idempotency_key, entered_by=actor,
        )
        db.session.add(reversal)
        db.session.flush()
        _restore_reservation(actor, entry, reversal)
        audit.record(actor, "fund.reversal", reversal, reverses=entry.id, reason=reason.strip(),
                     project_id=entry.project_id, **scope_ids(alliance=fund.alliance))
        return reversal

    try:
        return write_once(LedgerEntry, idempotency_key, write)
    except IntegrityError:  # another reversal of the same entry won the race to reverses_id
        raise DomainError(_l("This entry has already been reversed.")) from None


def _restore_reservation(actor: User, entry: LedgerEntry, reversal: LedgerEntry) -> None:
    """A reversed project expense puts back what it had used of the project's reservation, unless the
    project has ended (its reservation was released then): the money was set aside for that project."""
    used = db.session.scalar(select(Reservation.amount_fen).where(
        Reservation.ledger_entry_id == entry.id, Reservation.reason == ReservationReason.SPEND))
    if not used:
        return
    state = db.session.scalar(select(Project.state).where(Project.id == entry.project_id))
    if state not in PROJECT_ENDED:
        db.session.add(Reservation(fund_id=entry.fund_id, project_id=entry.project_id, amount_fen=-used,
                                   reason=ReservationReason.RESTORE, ledger_entry_id=reversal.id,
                                   created_by_id=actor.id))


# --- reading the books -------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryFilters:
    kind: EntryKind | None = None
    shop_id: int | None = None
    project_id: int | None = None
    since: datetime | None = None  # naive UTC, inclusive
    until: datetime | None = None  # naive UTC, exclusive


def _entry_conditions(fund_id: int, filters: EntryFilters) -> list:
    conditions = [LedgerEntry.fund_id == fund_id]
    if filters.kind:
        conditions.append(LedgerEntry.kind == filters.kind)
    if filters.shop_id:
        conditions.append(LedgerEntry.shop_id == filters.shop_id)
    if filters.project_id:
        conditions.append(LedgerEntry.project_id == filters.project_id)
    if filters.since:
        conditions.append(LedgerEntry.occurred_on >= filters.since)
    if filters.until:
        conditions.append(LedgerEntry.occurred_on < filters.until)
    return conditions


NEWEST_FIRST = (LedgerEntry.occurred_on.desc(), LedgerEntry.id.desc())


def entry_rows(fund_id: int, filters: EntryFilters = EntryFilters()):
    """A select() of the fund's entries as plain rows (what the list shows), newest first."""
    reversal = aliased(LedgerEntry)
    return (
        select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.amount_fen, LedgerEntry.occurred_on,
               LedgerEntry.method, LedgerEntry.reference, LedgerEntry.counterparty, LedgerEntry.purpose,
               LedgerEntry.receipt_photo_id, LedgerEntry.reverses_id, Shop.name.label("shop_name"),
               Shop.house_number, Project.title.label("project_title"), User.name.label("entered_by"),
               exists(select(reversal.id).where(reversal.reverses_id == LedgerEntry.id)).label("is_reversed"))
        .outerjoin(Shop, LedgerEntry.shop_id == Shop.id)
        .outerjoin(Project, LedgerEntry.project_id == Project.id)
        .join(User, LedgerEntry.entered_by_id == User.id)
        .where(*_entry_conditions(fund_id, filters))
        .order_by(*NEWEST_FIRST)
    )


def count_entries(fund_id: int, filters: EntryFilters = EntryFilters()) -> int:
    """How many entries match: counted on the ledger's index alone, without the joins the list needs."""
    return db.session.scalar(select(func.count(LedgerEntry.id)).where(*_entry_conditions(fund_id, filters)))


def entry_page(fund_id: int, filters: EntryFilters, page: int, per_page: int) -> list:
    """One page of entry_rows(): the page's ids are found on the index first, then only those rows joined,
    so page 1,000 costs about what page 1 does."""
    ids = (select(LedgerEntry.id).where(*_entry_conditions(fund_id, filters)).order_by(*NEWEST_FIRST)
           .limit(per_page).offset((page - 1) * per_page))
    return db.session.execute(entry_rows(fund_id, filters).where(LedgerEntry.id.in_(ids.scalar_subquery()))).all()


def iter_entry_rows(fund_id: int, filters: EntryFilters = EntryFilters(), batch: int = 2000) -> Iterator:
    """Every row of entry_rows(), newest first, fetched `batch` at a time by keyset (no cursor is held open
    between batches, so a long download survives the request's session ending, as a streamed response's does)."""
    after = None
    while True:
        query = entry_rows(fund_id, filters)
        if after is not None:
            query = query.where(tuple_(LedgerEntry.occurred_on, LedgerEntry.id) < after)
        rows = db.session.execute(query.limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].occurred_on, rows[-1].id)
