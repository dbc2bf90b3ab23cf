"""The pooled fund: an append-only ledger. Balances are sums the database computes."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.extensions import db, value_enum
from merchant_alliance.pagecache import scopes_via, touch
from merchant_alliance.photos.models import Photo
from merchant_alliance.timeutil import local_month, utcnow


class EntryKind(enum.StrEnum):
    CONTRIBUTION = "contribution"  # money in, from a shop
    SUBSIDY = "subsidy"  # money in, from the street office
    DONATION = "donation"  # money in, from a sponsor
    EXPENSE = "expense"  # money out, to a payee
    REFUND = "refund"  # money out, back to a shop
    REVERSAL = "reversal"  # undoes one earlier entry exactly

    @property
    def label(self) -> str:
        return str(ENTRY_KIND_LABELS[self])

    @property
    def is_income(self) -> bool:
        return self in (EntryKind.CONTRIBUTION, EntryKind.SUBSIDY, EntryKind.DONATION)


ENTRY_KIND_LABELS = {
    EntryKind.CONTRIBUTION: _l("Contribution"),
    EntryKind.SUBSIDY: _l("Subsidy"),
    EntryKind.DONATION: _l("Donation"),
    EntryKind.EXPENSE: _l("Expense"),
    EntryKind.REFUND: _l("Refund"),
    EntryKind.REVERSAL: _l("Reversal"),
}


class PaymentMethod(enum.StrEnum):
    BANK_TRANSFER = "bank_transfer"
    WECHAT_PAY = "wechat_pay"
    ALIPAY = "alipay"
    CASH = "cash"

    @property
    def label(self) -> str:
        return str(METHOD_LABELS[self])


METHOD_LABELS = {
    PaymentMethod.BANK_TRANSFER: _l("Bank transfer"),
    PaymentMethod.WECHAT_PAY: _l("WeChat Pay"),
    PaymentMethod.ALIPAY: _l("Alipay"),
    PaymentMethod.CASH: _l("Cash"),
}


class ShareCover(enum.StrEnum):
    """What the alliance asks of a shop's own share before its project counts as funded."""

    PLEDGED = "pledged"  # a pledge for the whole share, with a due date, is enough
    PAID = "paid"  # the share must have arrived in the fund

    @property
    def label(self) -> str:
        return str(SHARE_COVER_LABELS[self])


SHARE_COVER_LABELS = {
    ShareCover.PLEDGED: _l("pledged (paid later, by the due date)"),
    ShareCover.PAID: _l("paid into the fund"),
}


class Fund(db.Model):
    """A pot of money and the alliance's rules for it (cost-share default, approval threshold)."""

    __tablename__ = "funds"
    __table_args__ = (
        db.UniqueConstraint("alliance_id", "name"),
        # One main fund per alliance, created with the alliance (see _every_alliance_has_a_fund).
        Index("uq_funds_one_main_fund", "alliance_id", unique=True,
              sqlite_where=text("is_default"), postgresql_where=text("is_default")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The default split of a project budget: the fund pays this percentage, at most the cap.
    fund_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(30), server_default="30")
    fund_cap_fen: Mapped[int | None] = mapped_column(db.BigInteger, default=300_000, server_default="300000")
    # Expenses above this amount need two different leads' approval; at or below it, one.
    two_approvals_above_fen: Mapped[int] = mapped_column(db.BigInteger, default=500_000, server_default="500000")
    shop_share_cover: Mapped[ShareCover] = mapped_column(
        value_enum(ShareCover, 20), default=ShareCover.PLEDGED, server_default=ShareCover.PLEDGED.value
    )

    @property
    def percent_text(self) -> str:
        """The fund's default percentage as people write it: "30", "12.5"."""
        return f"{Decimal(self.fund_percent).normalize():f}"

    alliance: Mapped[Alliance] = relationship()


class LedgerEntry(db.Model):
    """One movement of money. Never edited or deleted: a mistake is undone by a reversal entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="not_zero"),
        # The books read a fund's entries in date order (lists, statements, monthly sums) …
        Index("ix_ledger_entries_fund_time", "fund_id", "occurred_on", "id"),
        # … and sum each shop's contributions (the contributions table) straight from the index.
        Index("ix_ledger_entries_fund_shop_totals", "fund_id", "kind", "shop_id", "amount_fen", "occurred_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(value_enum(EntryKind, 20))  # filtered via ix_…_fund_shop_totals
    # Signed: money in is positive, money out negative, so the balance is SUM(amount_fen).
    amount_fen: Mapped[int] = mapped_column(db.BigInteger)
    occurred_on: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    method: Mapped[PaymentMethod | None] = mapped_column(value_enum(PaymentMethod, 20))
    reference: Mapped[str] = mapped_column(String(100), default="")
    counterparty: Mapped[str] = mapped_column(String(100), default="")  # payer or payee, as named
    purpose: Mapped[str] = mapped_column(Text, default="")
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    receipt_photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id"))
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"), index=True)  # what this payment settles
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    # One per submitted form: a double click or a resend records the money once.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)

    fund: Mapped[Fund] = relationship()
    cache_scopes = scopes_via("fund")
    entered_by: Mapped[User] = relationship()


class LedgerMonth(db.Model):
    """A fund's entries of one kind in one Shanghai month, summed as they are written.

    The books' balances, monthly flows and opening balances read these few rows (a fund has a few dozen
    per year) instead of summing every entry. A row only ever grows, in the same transaction as the entry
    it counts (see `_count_new_entries`), and the ledger is append-only, so it cannot drift from the
    entries; `flask doctor` compares it with a full SUM all the same.
    """

    __tablename__ = "ledger_months"

    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)  # the month's first day, in Shanghai
    kind: Mapped[EntryKind] = mapped_column(value_enum(EntryKind, 20), primary_key=True)
    income_fen: Mapped[int] = mapped_column(db.BigInteger, default=0)  # the positive amounts
    spending_fen: Mapped[int] = mapped_column(db.BigInteger, default=0)  # the negative amounts, made positive
    entries: Mapped[int] = mapped_column(default=0)


class ProjectBudget(db.Model):
    """What a project costs and who carries it. The three shares always add up to the budget."""

    __tablename__ = "project_budgets"
    __table_args__ = (
        CheckConstraint("budget_fen > 0", name="budget_positive"),
        CheckConstraint("shop_fen >= 0 AND fund_fen >= 0 AND subsidy_fen >= 0", name="shares_not_negative"),
        CheckConstraint("shop_fen + fund_fen + subsidy_fen = budget_fen", name="shares_add_up"),
    )

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    budget_fen: Mapped[int] = mapped_column(db.BigInteger)
    shop_fen: Mapped[int] = mapped_column(db.BigInteger)
    fund_fen: Mapped[int] = mapped_column(db.BigInteger)
    subsidy_fen: Mapped[int] = mapped_column(db.BigInteger)
    subsidy_source: Mapped[str] = mapped_column(String(100), default="")
    set_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    fund: Mapped[Fund] = relationship()
    cache_scopes = scopes_via("fund")
    set_by: Mapped[User] = relationship()


class Pledge(db.Model):
    """What a shop promised to pay, by when. Payments (ledger entries naming the pledge) settle it."""

    __tablename__ = "pledges"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_pledges_fund_due", "fund_id", "due_on", "id"),  # the pledge list and the arrears, in due order
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(db.BigInteger)
    due_on: Mapped[date]
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    # What the entries naming this pledge add up to, kept with every entry (see _count_new_entries).
    paid_fen: Mapped[int] = mapped_column(db.BigInteger, default=0, server_default="0")
    # The form's one-time key: a double submit records one pledge (none for pledges made by the system).
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    fund: Mapped[Fund] = relationship()
    cache_scopes = scopes_via("fund")
    shop = relationship("Shop")
    project = relationship("Project")


class ReservationReason(enum.StrEnum):
    RESERVE = "reserve"  # the project became funded: its fund share is set aside
    SPEND = "spend"  # an expense for the project used part of what was set aside
    RELEASE = "release"  # the project ended: what is left goes back to available
    RESTORE = "restore"  # a reversed project expense gives back what it had used of the reservation


class Reservation(db.Model):
    """A movement of money set aside for a project. Reserved = SUM(amount_fen); available = balance − reserved."""

    __tablename__ = "fund_reservations"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(db.BigInteger)
    reason: Mapped[ReservationReason] = mapped_column(value_enum(ReservationReason, 20))
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    fund: Mapped[Fund] = relationship()
    cache_scopes = scopes_via("fund")


class ExpenseState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PAID = "paid"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return str(EXPENSE_STATE_LABELS[self])


EXPENSE_STATE_LABELS = {
    ExpenseState.DRAFT: _l("Draft"),
    ExpenseState.SUBMITTED: _l("Awaiting approval"),
    ExpenseState.APPROVED: _l("Approved, to be paid"),
    ExpenseState.PAID: _l("Paid"),
    ExpenseState.REJECTED: _l("Rejected"),
    ExpenseState.CANCELLED: _l("Cancelled"),
}

expense_receipts = Table(
    "expense_receipts",
    db.metadata,
    Column("request_id", ForeignKey("expense_requests.id"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


class ExpenseRequest(db.Model):
    """A request to pay money out of the fund: approved by leads, paid by the treasurer."""

    __tablename__ = "expense_requests"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    # Set when the money goes back to a shop (a refund) rather than to a supplier.
    refund_shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    payee: Mapped[str] = mapped_column(String(100))
    # Bank name and account: for the treasurer who pays, leads and the street office only.
    payee_account: Mapped[str] = mapped_column(String(200), default="")
    amount_fen: Mapped[int] = mapped_column(db.BigInteger)
    purpose: Mapped[str] = mapped_column(Text)
    state: Mapped[ExpenseState] = mapped_column(value_enum(ExpenseState, 20), default=ExpenseState.DRAFT, index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    paid_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)  # a double submit asks once

    fund: Mapped[Fund] = relationship()
    cache_scopes = scopes_via("fund")
    project = relationship("Project")
    refund_shop = relationship("Shop")
    requested_by: Mapped[User] = relationship()
    receipts: Mapped[list[Photo]] = relationship(secondary=expense_receipts, order_by=Photo.id)
    approvals: Mapped[list[ExpenseApproval]] = relationship(
        back_populates="request", order_by="ExpenseApproval.id", cascade="all, delete-orphan"
    )


class ExpenseApproval(db.Model):
    """One lead's approval. The unique pair is what stops one person approving twice."""

    __tablename__ = "expense_approvals"
    __table_args__ = (UniqueConstraint("request_id", "approver_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("expense_requests.id"), index=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[ExpenseRequest] = relationship(back_populates="approvals")
    cache_scopes = scopes_via("request", "fund")
    approver: Mapped[User] = relationship()


class AppendOnlyError(RuntimeError):
    """Something tried to change or delete a ledger entry."""


@event.listens_for(Session, "before_flush")
def _ledger_is_append_only(session: Session, flush_context, instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, LedgerEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError(f"Ledger entry {obj.id} cannot be changed or deleted; add a reversal instead")


@event.listens_for(Session, "after_flush")
def _count_new_entries(session: Session, flush_context) -> None:
    """Add every entry just inserted to its fund's month and to the pledge it pays, in the same transaction
    (an upsert and an increment: two transactions adding at once both count)."""
    sums: dict[tuple[int, date, str], list[int]] = {}
    paid: dict[int, int] = {}
    for obj in session.new:
        if isinstance(obj, LedgerEntry):
            key = (obj.fund_id, local_month(obj.occurred_on), EntryKind(obj.kind).value)
            totals = sums.setdefault(key, [0, 0, 0])
            totals[0 if obj.amount_fen > 0 else 1] += abs(obj.amount_fen)
            totals[2] += 1
            if obj.pledge_id is not None:
                paid[obj.pledge_id] = paid.get(obj.pledge_id, 0) + obj.amount_fen
    # Kept figures of the entries' own funds: the entries' scopes cover them (pagecache).
    touch(session, (), tables=("pledges", "ledger_months") if paid else ("ledger_months",) if sums else ())
    for pledge_id, amount in paid.items():
        session.connection().execute(update(Pledge.__table__).where(Pledge.__table__.c.id == pledge_id)
                                     .values(paid_fen=Pledge.__table__.c.paid_fen + amount))
        loaded = session.identity_map.get(identity_key(Pledge, pledge_id))
        if loaded is not None and "paid_fen" in loaded.__dict__:  # the object says what the database now holds
            set_committed_value(loaded, "paid_fen", loaded.__dict__["paid_fen"] + amount)
    if sums:
        add_to_months(session.connection(), [
            {"fund_id": fund_id, "month": month, "kind": kind, "income_fen": income, "spending_fen": spending,
             "entries": entries}
            for (fund_id, month, kind), (income, spending, entries) in sums.items()
        ])


def add_to_months(connection, rows: list[dict]) -> None:
    """Add sums to `ledger_months` rows, creating those that do not exist yet (also used by bulk loads)."""
    table = LedgerMonth.__table__
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.fund_id, table.c.month, table.c.kind],
        set_={name: table.c[name] + statement.excluded[name] for name in ("income_fen", "spending_fen", "entries")},
    )
    connection.execute(statement, rows)


def months_from_entries(connection, fund_ids: list[int] | None = None) -> dict[tuple[int, date, str], tuple]:
    """What `ledger_months` must hold, counted from the entries themselves (streamed, in one pass):
    (fund, month, kind) → (income, spending, entries). For `flask doctor` and for bulk loads."""
    table = LedgerEntry.__table__
    query = select(table.c.fund_id, table.c.occurred_on, table.c.kind, table.c.amount_fen)
    if fund_ids is not None:
        query = query.where(table.c.fund_id.in_(fund_ids))
    sums: dict[tuple[int, date, str], list[int]] = {}
    for fund_id, occurred_on, kind, amount in connection.execute(query.execution_options(yield_per=10_000)):
        totals = sums.setdefault((fund_id, local_month(occurred_on), str(kind)), [0, 0, 0])
        totals[0 if amount > 0 else 1] += abs(int(amount))
        totals[2] += 1
    return {key: tuple(value) for key, value in sums.items()}


def recount_after_bulk_load(connection, fund_ids: list[int]) -> None:
    """Fill `ledger_months` and each pledge's `paid_fen` for funds whose entries were bulk-loaded without
    the ORM (benchmarks, imports): what `_count_new_entries` keeps for entries the app writes."""
    pledges, entries = Pledge.__table__, LedgerEntry.__table__
    connection.execute(update(pledges).where(pledges.c.fund_id.in_(fund_ids)).values(paid_fen=select(
        func.coalesce(func.sum(entries.c.amount_fen), 0)).where(entries.c.pledge_id == pledges.c.id)
        .scalar_subquery()))
    connection.execute(delete(LedgerMonth.__table__).where(LedgerMonth.__table__.c.fund_id.in_(fund_ids)))
    counted = months_from_entries(connection, fund_ids)
    rows = [{"fund_id": fund_id, "month": month, "kind": kind, "income_fen": income, "spending_fen": spending,
             "entries": entries}
            for (fund_id, month, kind), (income, spending, entries) in counted.items()]
    if rows:
        connection.execute(insert(LedgerMonth.__table__), rows)


MAIN_FUND_NAME = "资金池"  # stored, not shown translated: it is the fund's name in the books


@event.listens_for(Session, "before_flush")
def _every_alliance_has_a_fund(session: Session, flush_context, instances) -> None:
    """An alliance is created with its main fund, whichever code creates it, so reading the books
    never has to write."""
    for obj in session.new:
        if isinstance(obj, Alliance):
            session.add(Fund(alliance=obj, name=MAIN_FUND_NAME, is_default=True))


# The same guard in the database, for anything that bypasses the ORM (a bulk UPDATE, a SQL console).
APPEND_ONLY_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
        "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END",
        "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
        "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()",
    ],
}


@event.listens_for(LedgerEntry.__table__, "after_create")
def _create_append_only_triggers(table, connection, **kw) -> None:
    for statement in APPEND_ONLY_TRIGGERS.get(connection.dialect.name, []):
        connection.exec_driver_sql(statement)
