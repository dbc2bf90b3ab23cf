"""The fund's invariants, for `flask doctor`: what the ledger must always satisfy, whatever happened."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import (
    EntryKind,
    Fund,
    LedgerEntry,
    LedgerMonth,
    Pledge,
    Reservation,
    months_from_entries,
)
from merchant_alliance.money import format_fen

INCOME = [kind.value for kind in EntryKind if kind.is_income]


def check_entry_signs() -> Iterator[str]:
    """Money in is positive, money out negative, a reversal the exact opposite of what it reverses:
    only then is the balance the plain SUM of the entries."""
    original = aliased(LedgerEntry)
    wrong_sign = select(LedgerEntry.id, LedgerEntry.kind, LedgerEntry.amount_fen).where(
        case((LedgerEntry.kind.in_(INCOME), LedgerEntry.amount_fen <= 0),
             (LedgerEntry.kind == EntryKind.REVERSAL.value, False),
             else_=LedgerEntry.amount_fen >= 0)
    )
    for entry_id, kind, amount in db.session.execute(wrong_sign):
        yield f"ledger entry {entry_id} ({kind}) has the wrong sign: {amount} fen"
    bad_reversals = (
        select(LedgerEntry.id, original.id).outerjoin(original, LedgerEntry.reverses_id == original.id)
        .where(LedgerEntry.kind == EntryKind.REVERSAL.value)
        .where((original.id.is_(None)) | (LedgerEntry.amount_fen != -original.amount_fen)
               | (LedgerEntry.fund_id != original.fund_id))
    )
    for entry_id, reverses in db.session.execute(bad_reversals):
        yield f"reversal {entry_id} does not exactly undo entry {reverses}"


def check_history_never_negative() -> Iterator[str]:
    """In the order entries were written, no fund ever paid out more than it held."""
    running = func.sum(LedgerEntry.amount_fen).over(partition_by=LedgerEntry.fund_id, order_by=LedgerEntry.id)
    history = select(LedgerEntry.fund_id, LedgerEntry.id, running.label("balance")).subquery()
    first_dip = (select(history.c.fund_id, func.min(history.c.id), func.min(history.c.balance))
                 .where(history.c.balance < 0).group_by(history.c.fund_id))
    for fund_id, entry_id, lowest in db.session.execute(first_dip):
        yield f"fund {fund_id} went below zero at entry {entry_id} (lowest {format_fen(int(lowest))})"


def check_reservations() -> Iterator[str]:
    """What is set aside for a project is never negative, and never more than the fund holds."""
    per_project = (select(Reservation.fund_id, Reservation.project_id, func.sum(Reservation.amount_fen))
                   .group_by(Reservation.fund_id, Reservation.project_id)
                   .having(func.sum(Reservation.amount_fen) < 0))
    for fund_id, project_id, total in db.session.execute(per_project):
        yield f"fund {fund_id} has a negative reservation for project {project_id}: {format_fen(int(total))}"
    balance = (select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
               .where(LedgerEntry.fund_id == Fund.id).scalar_subquery())
    reserved = (select(func.coalesce(func.sum(Reservation.amount_fen), 0))
                .where(Reservation.fund_id == Fund.id).scalar_subquery())
    for fund_id, held, set_aside in db.session.execute(
            select(Fund.id, balance, reserved).where(reserved > balance)):
        yield (f"fund {fund_id} reserves {format_fen(int(set_aside))} but holds only {format_fen(int(held))}")


def check_audit_trail() -> Iterator[str]:
    """Every ledger entry has the audit event written with it."""
    unaudited = select(LedgerEntry.id).outerjoin(AuditEvent, and_(
        AuditEvent.object_type == "ledgerentry", AuditEvent.object_id == LedgerEntry.id,
        AuditEvent.action.in_(["fund.entry", "fund.reversal"]),
    )).where(AuditEvent.id.is_(None)).order_by(LedgerEntry.id)
    for (entry_id,) in db.session.execute(unaudited):
        yield f"ledger entry {entry_id} has no audit event"


def check_monthly_sums() -> Iterator[str]:
    """The monthly sums the books read (`ledger_months`) are exactly what the entries add up to."""
    expected = months_from_entries(db.session.connection())
    kept = {(row.fund_id, row.month, EntryKind(row.kind).value): (row.income_fen, row.spending_fen, row.entries)
            for row in db.session.scalars(select(LedgerMonth))}
    for key in sorted(expected.keys() | kept.keys()):
        if expected.get(key) != kept.get(key):
            fund_id, month, kind = key
            yield (f"fund {fund_id}, {month:%Y-%m}, {kind}: the monthly sums say {kept.get(key)} "
                   f"(income, spending, entries) but the entries add up to {expected.get(key)}")


def check_pledges_paid() -> Iterator[str]:
    """What each pledge says it has been paid is what the entries naming it add up to."""
    paid = (select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(LedgerEntry.pledge_id == Pledge.id)
            .correlate(Pledge).scalar_subquery())
    for pledge_id, kept, counted in db.session.execute(
            select(Pledge.id, Pledge.paid_fen, paid).where(Pledge.paid_fen != paid).order_by(Pledge.id)):
        yield f"pledge {pledge_id} says {format_fen(kept)} paid but its entries add up to {format_fen(int(counted))}"


CHECKS = {
    "ledger-signs": check_entry_signs,
    "ledger-history": check_history_never_negative,
    "ledger-reservations": check_reservations,
    "ledger-audit": check_audit_trail,
    "ledger-months": check_monthly_sums,
    "pledges-paid": check_pledges_paid,
}
