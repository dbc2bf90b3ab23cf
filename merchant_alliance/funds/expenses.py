"""Spending with four eyes: draft → submitted → approved → paid, or rejected, or cancelled.

Staff (leads, treasurer) ask; leads approve — two different leads above the alliance's threshold,
and never the person who asked; only the treasurer pays, which writes the ledger entry in the same
transaction that marks the request paid. Every step goes to the audit log and the project timeline.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Role, User
from merchant_alliance.accounts.services import scope_ids
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.models import (
    EntryKind,
    ExpenseApproval,
    ExpenseRequest,
    ExpenseState,
    Fund,
    PaymentMethod,
)
from merchant_alliance.i18n import N_
from merchant_alliance.money import format_fen
from merchant_alliance.photos.services import save_photos
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import utcnow

E = ExpenseState

audit.register_labels({
    "expense.created": _l("drafted an expense request"),
    "expense.submitted": _l("asked for an expense to be approved"),
    "expense.approved": _l("approved an expense"),
    "expense.rejected": _l("rejected an expense request"),
    "expense.cancelled": _l("cancelled an expense request"),
    "expense.paid": _l("paid an expense"),
}, objects={"expenserequest": _l("Expense request")})

NOTICES = {
    "submitted": N_("%(who)s asks to pay %(amount)s to %(payee)s: please review."),
    "approved": N_("The expense of %(amount)s to %(payee)s is approved and can be paid."),
    "rejected": N_("The expense of %(amount)s to %(payee)s was rejected: %(reason)s"),
    "paid": N_("The expense of %(amount)s to %(payee)s has been paid."),
}


def approvals_needed(request: ExpenseRequest) -> int:
    """Two different leads above the alliance's threshold, one at or below it."""
    return 2 if request.amount_fen > request.fund.two_approvals_above_fen else 1


def _record(actor: User, action: str, request: ExpenseRequest, **details) -> None:
    audit.record(actor, f"expense.{action}", request, project_id=request.project_id, amount_fen=request.amount_fen,
                 payee=request.payee, **details, **scope_ids(alliance=request.fund.alliance))


def _notify(user_ids: set[int], key: str, request: ExpenseRequest, **values) -> None:
    from flask import url_for

    from merchant_alliance.notifications.services import notify

    notify(user_ids, NOTICES[key], link=url_for("funds.expense", request_id=request.id),
           amount=format_fen(request.amount_fen), payee=request.payee, **values)


def _staff_ids(request: ExpenseRequest, role: Role) -> set[int]:
    from merchant_alliance.accounts.models import Membership

    return set(db.session.scalars(select(Membership.user_id).where(
        Membership.role == role, Membership.alliance_id == request.fund.alliance_id,
        Membership.confirmed_at.is_not(None))))


def _move(request: ExpenseRequest, source: tuple[ExpenseState, ...], target: ExpenseState, **values) -> None:
    """Move the request only if it is still in one of `source`: a double submit or a race finds nothing."""
    moved = db.session.execute(
        update(ExpenseRequest)
        .where(ExpenseRequest.id == request.id, ExpenseRequest.state.in_(source))
        .values(state=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        db.session.rollback()
        raise DomainError(_l("Someone else changed this request a moment ago. Please look again."))
    db.session.expire(request)


def _lock(request: ExpenseRequest) -> None:
    """Hold the request for the rest of this transaction and read it afresh, so that steps which check it
    and then write (approvals) take turns: each sees what the one before it wrote.

    PostgreSQL locks the row (SELECT … FOR UPDATE); on SQLite a no-op UPDATE takes the write lock now.
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(ExpenseRequest).where(ExpenseRequest.id == request.id)  # changes nothing
                           .values(updated_at=ExpenseRequest.updated_at).execution_options(synchronize_session=False))
    else:
        db.session.execute(select(ExpenseRequest.id).where(ExpenseRequest.id == request.id).with_for_update())
    db.session.expire(request)


def _refuse(message: str | LazyString, **params: object) -> DomainError:
    """A refusal after this transaction has written or locked something: undo that first."""
    db.session.rollback()
    return DomainError(message, **params)


def create_request(
    actor: User, fund: Fund, *, payee: str, amount_fen: int, purpose: str, receipts: list[FileStorage],
    idempotency_key: str, project: Project | None = None, payee_account: str = "", submit: bool = True,
    refund_to: Shop | None = None,
) -> ExpenseRequest:
    """Ask to pay money out of the fund: to a supplier, or back to a shop (`refund_to`, a refund).
    Receipts or invoices are required to submit."""
    if not authz.can(actor, "request_expense", fund.alliance):
        raise NotAllowed()
    services.check_amount(amount_fen)
    services.check_idempotency_key(idempotency_key)
    if refund_to is not None:
        if refund_to.alliance_id != fund.alliance_id:
            raise DomainError(_l("That shop is not in this alliance.")).on("refund_shop_id")
        payee = payee.strip() or refund_to.name
    if not payee.strip():
        raise DomainError(_l("Say who is to be paid.")).on("payee")
    if not purpose.strip():
        raise DomainError(_l("Say what the money is for.")).on("purpose")
    if project is not None and project.alliance_id != fund.alliance_id:
        raise DomainError(_l("That project is not in this alliance.")).on("project_id")
    files = [f for f in receipts if f is not None and f.filename]
    if submit and not files:
        raise DomainError(_l("Add at least one photo of the receipt or invoice.")).on("receipts")

    def write() -> ExpenseRequest:
        request = ExpenseRequest(
            fund=fund, project_id=project.id if project else None, payee=payee.strip()[:100],
            refund_shop_id=refund_to.id if refund_to else None,
            payee_account=payee_account.strip()[:200], amount_fen=amount_fen, purpose=purpose.strip(),
            state=E.SUBMITTED if submit else E.DRAFT, requested_by=actor, idempotency_key=idempotency_key,
        )
        request.receipts = save_photos(actor, files, alliance=fund.alliance) if files else []
        db.session.add(request)
        db.session.flush()
        _record(actor, "created", request)
        if submit:
            _record(actor, "submitted", request)
            _notify(_staff_ids(request, Role.ALLIANCE_LEAD) - {actor.id}, "submitted", request, who=actor.name)
        return request

    return services.write_once(ExpenseRequest, idempotency_key, write)


def add_receipts(actor: User, request: ExpenseRequest, receipts: list[FileStorage]) -> None:
    """More receipt photos on a draft (before it is submitted)."""
    if request.requested_by_id != actor.id:
        raise NotAllowed()
    if request.state != E.DRAFT:
        raise DomainError(_l("Receipts can be added while the request is a draft."))
    files = [f for f in receipts if f is not None and f.filename]
    if not files:
        raise DomainError(_l("Add at least one photo of the receipt or invoice."))
    request.receipts.extend(save_photos(actor, files, alliance=request.fund.alliance))
    _move(request, (E.DRAFT,), E.DRAFT)  # still a draft, checked where it is written: not after a submit
    db.session.commit()


def submit(actor: User, request: ExpenseRequest) -> None:
    if request.requested_by_id != actor.id:
        raise NotAllowed()
    if not request.receipts:
        raise DomainError(_l("Add at least one photo of the receipt or invoice."))
    _move(request, (E.DRAFT,), E.SUBMITTED)
    _record(actor, "submitted", request)
    _notify(_staff_ids(request, Role.ALLIANCE_LEAD) - {actor.id}, "submitted", request, who=actor.name)
    db.session.commit()


def approve(actor: User, request: ExpenseRequest) -> bool:
    """Add this lead's approval; returns True when it was the last one needed."""
    if not authz.can(actor, "approve_expense", request.fund.alliance):
        raise NotAllowed()
    if request.requested_by_id == actor.id:
        raise DomainError(_l("You asked for this expense, so another lead must approve it."))
    # Two leads approving at the same moment take turns: the second counts the first's approval and moves
    # the request on; an approval never lands on a request rejected or cancelled a moment before.
    _lock(request)
    if request.state != E.SUBMITTED:
        raise _refuse(_l("Only a submitted request can be approved; this one is “%(state)s”.",
                         state=request.state.label))
    if any(a.approver_id == actor.id for a in request.approvals):
        raise _refuse(_l("You have already approved this request; a second, different lead must approve it."))
    try:
        request.approvals.append(ExpenseApproval(approver_id=actor.id))
        db.session.flush()
    except IntegrityError:  # the same lead's second tap, a moment after the first
        db.session.rollback()
        raise DomainError(_l("You have already approved this request; a second, different lead must approve it.")) \
            from None
    count = db.session.scalar(select(func.count(ExpenseApproval.id))
                              .where(ExpenseApproval.request_id == request.id))
    complete = count >= approvals_needed(request)
    _record(actor, "approved", request, approval=count, needed=approvals_needed(request))
    if complete:
        _move(request, (E.SUBMITTED,), E.APPROVED)
        _notify(_staff_ids(request, Role.TREASURER) | {request.requested_by_id}, "approved", request)
    db.session.commit()
    return complete


def reject(actor: User, request: ExpenseRequest, reason: str) -> None:
    if not authz.can(actor, "approve_expense", request.fund.alliance):
        raise NotAllowed()
    if not (reason or "").strip():
        raise DomainError(_l("Please give a reason."))
    if request.state not in (E.SUBMITTED, E.APPROVED):
        raise DomainError(_l("Only a request waiting for approval or payment can be rejected."))
    _move(request, (E.SUBMITTED, E.APPROVED), E.REJECTED, decision_reason=reason.strip())
    _record(actor, "rejected", request, reason=reason.strip())
    _notify({request.requested_by_id} - {actor.id}, "rejected", request, reason=reason.strip())
    db.session.commit()


def cancel(actor: User, request: ExpenseRequest) -> None:
    """The person who asked withdraws the request (a lead may too), any time before it is paid."""
    if request.requested_by_id != actor.id and not authz.can(actor, "approve_expense", request.fund.alliance):
        raise NotAllowed()
    if request.state not in (E.DRAFT, E.SUBMITTED, E.APPROVED):
        raise DomainError(_l("This request is “%(state)s” and can no longer be cancelled.", state=request.state.label))
    _move(request, (E.DRAFT, E.SUBMITTED, E.APPROVED), E.CANCELLED)
    _record(actor, "cancelled", request)
    db.session.commit()


def pay(actor: User, request: ExpenseRequest, *, method: PaymentMethod, idempotency_key: str, reference: str = "",
        occurred_on: datetime | None = None) -> None:
    """The treasurer pays an approved request: the ledger entry and the state change commit together."""
    if not authz.can(actor, "pay_expense", request.fund.alliance):
        raise NotAllowed()
    services.check_idempotency_key(idempotency_key)
    if request.state == E.PAID:
        raise DomainError(_l("This expense has already been paid."))
    if request.state != E.APPROVED:
        raise DomainError(_l("Only an approved request can be paid; this one is “%(state)s”.",
                             state=request.state.label))
    try:
        refund = request.refund_shop is not None
        entry = services.insert_entry(
            actor, request.fund, EntryKind.REFUND if refund else EntryKind.EXPENSE, request.amount_fen,
            idempotency_key=idempotency_key, method=method, reference=reference, counterparty=request.payee,
            purpose=request.purpose, project=request.project, shop=request.refund_shop,
            receipt_photo=request.receipts[0] if request.receipts else None, occurred_on=occurred_on,
        )
        _move(request, (E.APPROVED,), E.PAID, paid_entry_id=entry.id)
        _record(actor, "paid", request, entry=entry.id)
        _notify({request.requested_by_id} - {actor.id}, "paid", request)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(_l("This expense has already been paid.")) from None
    except DomainError:
        db.session.rollback()
        raise


def requests_of(fund_id: int, state: ExpenseState | None = None):
    """A select() of the fund's expense requests, newest first."""
    query = (select(ExpenseRequest).where(ExpenseRequest.fund_id == fund_id)
             .options(selectinload(ExpenseRequest.requested_by))
             .order_by(ExpenseRequest.created_at.desc(), ExpenseRequest.id.desc()))
    return query.where(ExpenseRequest.state == state) if state else query


def actions_for(user: User, request: ExpenseRequest) -> set[str]:
    """Which buttons this user sees on the request (the services still check everything)."""
    alliance = request.fund.alliance
    own = request.requested_by_id == user.id
    lead = authz.can(user, "approve_expense", alliance)
    actions = set()
    if request.state == E.DRAFT and own:
        actions |= {"submit", "add_receipts"}
    if request.state == E.SUBMITTED and lead and not own and all(a.approver_id != user.id for a in request.approvals):
        actions.add("approve")
    if request.state in (E.SUBMITTED, E.APPROVED) and lead:
        actions.add("reject")
    if request.state in (E.DRAFT, E.SUBMITTED, E.APPROVED) and (own or lead):
        actions.add("cancel")
    if request.state == E.APPROVED and authz.can(user, "pay_expense", alliance):
        actions.add("pay")
    return actions
