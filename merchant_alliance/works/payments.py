"""Paying the contractor by milestone, with a retention (质保金) held until the street office signs the sign off and
the warranty has run.

A payment is asked for from an accepted milestone as an expense request of the fund, so the fund's rules apply
(receipts, two leads above the threshold, only the treasurer pays). Its value is the milestone's share of the
order's value; the retention is held back from it and what leaves the fund is the rest. The release of the retention
is an expense request of its own. The request's moves (paid, rejected, cancelled) reach the payment through hooks on
the fund's expense workflow, in the same transaction.

Money rules, in fen (stated once, tested with any split):
- the milestones still unpaid share what the order is still worth (its value minus the milestones asked for or paid)
  in proportion to their shares, each rounded down, the fen left over going one by one to the largest remainders
  (the earlier milestone on a tie): so the milestones always add up to the order's value exactly;
- the retention of a payment is its value times the order's retention percentage, rounded down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from werkzeug.datastructures import FileStorage

from merchant_alliance import authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import expenses
from merchant_alliance.funds.models import ExpenseRequest
from merchant_alliance.funds.services import default_fund
from merchant_alliance.money import format_fen
from merchant_alliance.once import lock_row
from merchant_alliance.safety.certificates import released
from merchant_alliance.timeutil import local_today
from merchant_alliance.workflow import Attempt, Transition
from merchant_alliance.works.models import (
    Milestone,
    MilestoneState,
    OrderPayment,
    PaymentKind,
    PaymentState,
    WorkOrder,
)

NOT_ACCEPTED = _l("Only an accepted milestone can be paid.")
ALREADY_ASKED = _l("A payment for this milestone has already been asked for.")
RELEASE_ASKED = _l("The release of the retention has already been asked for.")


def allocate(total_fen: int, shares: Sequence[Decimal]) -> list[int]:
    """`total_fen` split in proportion to `shares`, to the fen, adding up exactly (largest remainders)."""
    if total_fen < 0:
        raise ValueError("a negative total")
    weight = sum(shares)
    if not shares:
        return []
    if weight <= 0:  # nothing says how: the last one carries it all
        return [0] * (len(shares) - 1) + [total_fen]
    exact = [Decimal(total_fen) * Decimal(share) / Decimal(weight) for share in shares]
    amounts = [int(value.to_integral_value(rounding=ROUND_DOWN)) for value in exact]
    left = total_fen - sum(amounts)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(exact[i] - amounts[i]), i))
    for i in by_remainder[:left]:
        amounts[i] += 1
    return amounts


def retention_of(gross_fen: int, percent: Decimal) -> int:
    return int((Decimal(gross_fen) * Decimal(percent) / 100).to_integral_value(rounding=ROUND_DOWN))


def _live_payments(order_id: int) -> list[OrderPayment]:
    return list(db.session.scalars(select(OrderPayment).where(
        OrderPayment.order_id == order_id, OrderPayment.state != PaymentState.VOID).order_by(OrderPayment.id)))


def milestone_values(order: WorkOrder, payments: Sequence[OrderPayment] | None = None) -> dict[int, int]:
    """What each milestone is worth now (see the module's rules): asked-for ones keep what they were asked for."""
    payments = _live_payments(order.id) if payments is None else payments
    fixed = {p.milestone_id: p.gross_fen for p in payments if p.kind == PaymentKind.MILESTONE}
    open_ones = [m for m in order.milestones if m.id not in fixed]
    rest = max(order.value_fen - sum(fixed.values()), 0)
    return {**fixed, **dict(zip([m.id for m in open_ones],
                                allocate(rest, [m.share_percent for m in open_ones]), strict=True))}


@dataclass(frozen=True)
class Position:
    """The order's money, always shown together: value = paid + retained + asked + remaining."""

    agreed_fen: int
    changes_fen: int
    value_fen: int
    accepted_fen: int  # the value of the milestones accepted
    paid_fen: int  # what left the fund: milestone payments net of retention, and the retention released
    retained_fen: int  # held from paid milestones and not released yet
    requested_fen: int  # asked for and on its way through approval (net)
    remaining_fen: int  # not yet paid, held, or asked for
    released: bool  # the retention has been paid out


def position(order: WorkOrder, payments: Sequence[OrderPayment] | None = None) -> Position:
    payments = _live_payments(order.id) if payments is None else payments
    values = milestone_values(order, payments)
    accepted = sum(values[m.id] for m in order.milestones if m.state == MilestoneState.ACCEPTED)
    paid = sum(p.amount_fen for p in payments if p.state == PaymentState.PAID)
    held = sum(p.retention_fen for p in payments if p.state == PaymentState.PAID and p.kind == PaymentKind.MILESTONE)
    release = [p for p in payments if p.kind == PaymentKind.RETENTION]
    released_fen = sum(p.gross_fen for p in release if p.state == PaymentState.PAID)
    requested = sum(p.amount_fen for p in payments if p.state == PaymentState.REQUESTED)
    requested_retention = sum(p.retention_fen for p in payments if p.state == PaymentState.REQUESTED)
    retained = held - released_fen - sum(p.gross_fen for p in release if p.state == PaymentState.REQUESTED)
    remaining = order.value_fen - paid - retained - requested - requested_retention
    return Position(order.agreed_fen, order.changes_fen, order.value_fen, accepted, paid, retained,
                    requested + requested_retention, remaining, any(p.state == PaymentState.PAID for p in release))


def _receipts(files: Sequence[FileStorage]) -> list[FileStorage]:
    return [f for f in files if f is not None and f.filename]


def request_milestone_payment(actor: User, milestone: Milestone, receipts: Sequence[FileStorage], *,
                              idempotency_key: str, payee_account: str = "") -> OrderPayment:
    """Ask the fund to pay an accepted milestone, minus the retention: one expense request, submitted for approval."""
    order = milestone.order
    if not authz.can(actor, "pay", order):
        raise NotAllowed()
    if milestone.state != MilestoneState.ACCEPTED:
        raise DomainError(NOT_ACCEPTED)
    if not _receipts(receipts):
        raise DomainError(_l("Add at least one photo of the receipt or invoice.")).on("receipts")
    made: list[OrderPayment] = []

    def write_payment(request: ExpenseRequest) -> None:
        lock_row(WorkOrder, order.id)  # payments of one order are worked out one at a time
        db.session.refresh(order)
        db.session.refresh(milestone)
        payments = _live_payments(order.id)
        if any(p.milestone_id == milestone.id for p in payments):
            raise DomainError(ALREADY_ASKED)
        if milestone.state != MilestoneState.ACCEPTED:
            raise DomainError(NOT_ACCEPTED)
        gross = milestone_values(order, payments)[milestone.id]
        if gross - retention_of(gross, order.retention_percent) != request.amount_fen:  # changed before the lock
            raise DomainError(_l("Someone else changed this work order a moment ago. Please look again."))
        left = position(order, payments).remaining_fen
        if gross > left or gross <= 0:
            raise DomainError(_l("This would pay %(amount)s, more than the order's remaining %(left)s.",
                                 amount=format_fen(gross), left=format_fen(left)))
        payment = OrderPayment(order_id=order.id, alliance_id=order.alliance_id, kind=PaymentKind.MILESTONE,
                               milestone_id=milestone.id, gross_fen=gross,
                               retention_fen=retention_of(gross, order.retention_percent),
                               expense_request_id=request.id, created_by_id=actor.id)
        db.session.add(payment)
        db.session.flush()
        made.append(payment)

    gross = milestone_values(order)[milestone.id]
    if gross <= 0:
        raise DomainError(_l("This milestone's share is nothing: there is nothing to pay."))
    net = gross - retention_of(gross, order.retention_percent)
    expenses.create_request(
        actor, default_fund(order.project.alliance), payee=order.contractor.name, amount_fen=net,
        purpose=str(_l("%(title)s: %(milestone)s (%(value)s, of which %(retention)s retention is held)",
                       title=order.project.title, milestone=milestone.title, value=format_fen(gross),
                       retention=format_fen(gross - net))),
        receipts=list(receipts), idempotency_key=idempotency_key, project=order.project, payee_account=payee_account,
        then=write_payment, conflict=DomainError(ALREADY_ASKED))
    return made[0] if made else db.session.scalar(select(OrderPayment).join(
        ExpenseRequest, ExpenseRequest.id == OrderPayment.expense_request_id)
        .where(ExpenseRequest.idempotency_key == idempotency_key))


def warranty_ends(order: WorkOrder) -> date | None:
    if order.installed_on is None:
        return None
    return order.installed_on + timedelta(days=order.warranty_days)


def release_refusal(order: WorkOrder, today: date | None = None) -> str | None:
    """Why the retention may not be released now, or None."""
    today = today or local_today()
    if not released(order.project_id):
        return str(_l("The retention is released only after the street office has signed the sign off."))
    ends = warranty_ends(order)
    if ends is None or ends > today:
        return str(_l("The retention is released after the warranty ends (%(day)s).",
                      day=ends.isoformat() if ends else "—"))
    return None


def request_retention_release(actor: User, order: WorkOrder, receipts: Sequence[FileStorage], *,
                              idempotency_key: str, payee_account: str = "") -> OrderPayment:
    """Ask the fund to pay the contractor what was held, once the sign is signed off and the warranty has run."""
    if not authz.can(actor, "pay", order):
        raise NotAllowed()
    refusal = release_refusal(order)
    if refusal:
        raise DomainError(refusal)
    if not _receipts(receipts):
        raise DomainError(_l("Add at least one photo of the receipt or invoice.")).on("receipts")
    held = position(order).retained_fen
    if held <= 0:
        raise DomainError(_l("No retention is held for this order."))
    if any(p.state == PaymentState.REQUESTED for p in _live_payments(order.id)):
        raise DomainError(_l("Wait until the milestone payments asked for are paid or cancelled."))
    made: list[OrderPayment] = []

    def write_payment(request: ExpenseRequest) -> None:
        lock_row(WorkOrder, order.id)
        if position(order).retained_fen != held:
            raise DomainError(_l("Someone else changed this work order a moment ago. Please look again."))
        payment = OrderPayment(order_id=order.id, alliance_id=order.alliance_id, kind=PaymentKind.RETENTION,
                               gross_fen=held, retention_fen=0, expense_request_id=request.id, created_by_id=actor.id)
        db.session.add(payment)
        db.session.flush()
        made.append(payment)

    expenses.create_request(
        actor, default_fund(order.project.alliance), payee=order.contractor.name, amount_fen=held,
        purpose=str(_l("%(title)s: release of the retention", title=order.project.title)),
        receipts=list(receipts), idempotency_key=idempotency_key, project=order.project, payee_account=payee_account,
        then=write_payment, conflict=DomainError(RELEASE_ASKED))
    return made[0] if made else db.session.scalar(select(OrderPayment).join(
        ExpenseRequest, ExpenseRequest.id == OrderPayment.expense_request_id)
        .where(ExpenseRequest.idempotency_key == idempotency_key))


# --- the fund's expense workflow tells the payment what happened ---------------------------------------


def _payment_of(request: ExpenseRequest) -> OrderPayment | None:
    return db.session.scalar(select(OrderPayment).where(OrderPayment.expense_request_id == request.id))


def _set(payment: OrderPayment, state: PaymentState) -> None:
    db.session.execute(update(OrderPayment).where(OrderPayment.id == payment.id).values(state=state)
                       .execution_options(synchronize_session=False, cache_scopes={f"alliance:{payment.alliance_id}"}))
    db.session.expire(payment, ["state"])


def when_paid(request: ExpenseRequest, user: User, transition: Transition, attempt: Attempt) -> None:
    """The treasurer paid: the payment is paid. A retention is paid out only while the release is still due (a
    certificate revoked since it was asked for stops it)."""
    payment = _payment_of(request)
    if payment is None:
        return
    if payment.kind == PaymentKind.RETENTION:
        refusal = release_refusal(db.session.get(WorkOrder, payment.order_id))
        if refusal:
            raise DomainError(refusal)
    _set(payment, PaymentState.PAID)


def when_stopped(request: ExpenseRequest, user: User, transition: Transition, attempt: Attempt) -> None:
    """Rejected or cancelled: the milestone (or the release) may be asked for again."""
    payment = _payment_of(request)
    if payment is not None:
        _set(payment, PaymentState.VOID)


def register_hooks() -> None:
    expenses.expense_requests.add_after(when_paid, "pay")
    expenses.expense_requests.add_after(when_stopped, "reject", "cancel")
