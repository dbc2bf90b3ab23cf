"""The pooled fund: an append-only ledger. Balances are sums the database computes."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.extensions import db, value_enum
from merchant_alliance.timeutil import utcnow


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


class Fund(db.Model):
    __tablename__ = "funds"
    __table_args__ = (db.UniqueConstraint("alliance_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alliance: Mapped[Alliance] = relationship()


class LedgerEntry(db.Model):
    """One movement of money. Never edited or deleted: a mistake is undone by a reversal entry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="not_zero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fund_id: Mapped[int] = mapped_column(ForeignKey("funds.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(value_enum(EntryKind, 20), index=True)
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
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    # One per submitted form: a double click or a resend records the money once.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)

    fund: Mapped[Fund] = relationship()
    entered_by: Mapped[User] = relationship()


class AppendOnlyError(RuntimeError):
    """Something tried to change or delete a ledger entry."""


@event.listens_for(Session, "before_flush")
def _ledger_is_append_only(session: Session, flush_context, instances) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, LedgerEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError(f"Ledger entry {obj.id} cannot be changed or deleted; add a reversal instead")


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
