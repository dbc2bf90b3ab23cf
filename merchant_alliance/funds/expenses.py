"""Spending with four eyes: draft → submitted → approved → paid, or rejected, or cancelled.

Staff (leads, treasurer) ask; leads approve — two different leads above the alliance's threshold,
and never the person who asked; only the treasurer pays, which writes the ledger entry in the same
transaction that marks the request paid. Every step goes to the audit log and the project timeline.

The request's states move on the one state-machine engine (`expense_requests`, a merchant_alliance.workflow
instance); these services check what the engine cannot know (four eyes, receipts, money) and commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Alliance, Role, User
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
from merchant_alliance.once import lock_row
from merchant_alliance.photos.services import save_photos
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop
from merchant_alliance.workflow import Attempt, Transition, Workflow, may

E = ExpenseState

AUDIT_LABELS = {
    "expense.created": _l("drafted an expense request"),
    "expense.submitted": _l("asked for an expense to be approved"),
    "expense.approved": _l("approved an expense"),
    "expense.rejected": _l("rejected an expense request"),
    "expense.cancelled": _l("cancelled an expense request"),
    "expense.paid": _l("paid an expense"),
}
AUDIT_OBJECTS = {"expenserequest": _l("Expense request")}

NOTICES = {
    "submitted": N_("%(who)s asks to pay %(amount)s to %(payee)s: please review."),
    "approved": N_("The expense of %(amount)s to %(payee)s is approved and can be paid."),
    "rejected": N_("The expense of %(amount)s to %(payee)s was rejected: %(reason)s"),
    "paid": N_("The expense of %(amount)s to %(payee)s has been paid."),
}

ALREADY_APPROVED = _l("You have already approved this request; a second, different lead must approve it.")
ALREADY_PAID = _l("This expense has already been paid.")


def _alliance(request: ExpenseRequest) -> Alliance:
    return request.fund.alliance


def requester(user: User, request: ExpenseRequest) -> bool:
    """The person who asked."""
    return request.requested_by_id == user.id


def requester_or_lead(user: User, request: ExpenseRequest) -> bool:
    """The person who asked, or a lead: they may cancel it."""
    return requester(user, request) or may("approve_expense", _alliance)(user, request)


def approver(user: User, request: ExpenseRequest) -> bool:
    """A lead who did not ask for it and has not approved it yet: each approval is a different pair of eyes."""
    return (may("approve_expense", _alliance)(user, request) and not requester(user, request)
            and all(a.approver_id != user.id for a in request.approvals))


def _describe(request: ExpenseRequest, transition: Transition | None = None) -> dict:
    """What each of the request's audit events says: on the project's timeline too, when it is for one."""
    return {"project_id": request.project_id, "amount_fen": request.amount_fen, "payee": request.payee,
            **scope_ids(alliance=request.fund.alliance)}


expense_requests: Workflow[ExpenseRequest] = Workflow(
    "expense", ExpenseRequest,
    not_now=_l("This is not possible while the request is “%(state)s”."),
    conflict=_l("Someone else changed this request a moment ago. Please look again."),
    describe=_describe,
)
expense_requests.add(
    Transition(E.DRAFT, "submit", E.SUBMITTED, requester, _l("Submit for approval"), event="submitted"),
    # Moves the request once the last approval needed is given (see `approve`).
    Transition(E.SUBMITTED, "approve", E.APPROVED, approver, _l("Approve"), event="approved"),
    *(Transition(state, "reject", E.REJECTED, may("approve_expense", _alliance), _l("Reject the request"),
                 needs_reason=True, style="danger", event="rejected") for state in (E.SUBMITTED, E.APPROVED)),
    *(Transition(state, "cancel", E.CANCELLED, requester_or_lead, _l("Cancel the request"), style="secondary",
                 event="cancelled") for state in (E.DRAFT, E.SUBMITTED, E.APPROVED)),
    Transition(E.APPROVED, "pay", E.PAID, may("pay_expense", _alliance), _l("Record the payment"), event="paid"),
)
expense_requests.allow("add_receipts", E.DRAFT)
expense_requests.explain("approve", _l("Only a submitted request can be approved; this one is “%(state)s”."))
expense_requests.explain("reject", _l("Only a request waiting for approval or payment can be rejected."))
expense_requests.explain("cancel", _l("This request is “%(state)s” and can no longer be cancelled."))
expense_requests.explain("pay", _l("Only an approved request can be paid; this one is “%(state)s”."))
expense_requests.explain("pay", ALREADY_PAID, E.PAID)


def approvals_needed(request: ExpenseRequest) -> int:
    """Two different leads above the alliance's threshold, one at or below it."""
    return 2 if request.amount_fen > request.fund.two_approvals_above_fen else 1


def _record(actor: User, action: str, request: ExpenseRequest, **details) -> None:
    """An event that is not a move (the request made, an approval that is not yet the last one)."""
    audit.record(actor, f"expense.{action}", request, **_describe(request), **details)


def _notify(user_ids: set[int], key: str, request: ExpenseRequest, **values) -> None:
    from merchant_alliance.notifications.services import notify, page

    notify(user_ids, NOTICES[key], page("funds.expense", request_id=request.id),
           amount=format_fen(request.amount_fen), payee=request.payee, **values)


def _staff_ids(request: ExpenseRequest, role: Role) -> set[int]:
    from merchant_alliance.accounts.models import Membership

    return set(db.session.scalars(select(Membership.user_id).where(
        Membership.role == role, Membership.alliance_id == request.fund.alliance_id,
        Membership.confirmed_at.is_not(None))))


def _lock(request: ExpenseRequest) -> None:
    """Hold the request for the rest of this transaction and read it afresh, so that steps which check it
    and then write (approvals) take turns: each sees what the one before it wrote."""
    lock_row(ExpenseRequest, request.id)
    db.session.expire(request)


@expense_requests.after("submit")
def _ask_the_leads(request: ExpenseRequest, user: User, *_: object) -> None:
    _notify(_staff_ids(request, Role.ALLIANCE_LEAD) - {user.id}, "submitted", request, who=user.name)


@expense_requests.after("approve")
def _tell_the_treasurer(request: ExpenseRequest, user: User, transition: Transition, attempt: Attempt) -> None:
    _notify(_staff_ids(request, Role.TREASURER) | {request.requested_by_id}, "approved", request)


@expense_requests.after("reject")
def _tell_the_requester_why(request: ExpenseRequest, user: User, transition: Transition, attempt: Attempt) -> None:
    _notify({request.requested_by_id} - {user.id}, "rejected", request, reason=attempt.reason.strip())


@expense_requests.after("pay")
def _tell_the_requester_it_is_paid(request: ExpenseRequest, user: User, transition: Transition,
                                   attempt: Attempt) -> None:
    _notify({request.requested_by_id} - {user.id}, "paid", request)


def _refuse(message: str | LazyString, **params: object) -> DomainError:
    """A refusal after this transaction has written or locked something: undo that first."""
    db.session.rollback()
    return DomainError(message, **params)


def create_request(
    actor: User, fund: Fund, *, payee: str, amount_fen: int, purpose: str, receipts: list[FileStorage],
    idempotency_key: str, project: Project | None = None, payee_account: str = "", submit: bool = True,
    refund_to: Shop | None = None, then: Callable[[ExpenseRequest], None] | None = None,
    conflict: DomainError | None = None,
) -> ExpenseRequest:
    """Ask to pay money out of the fund: to a supplier, or back to a shop (`refund_to`, a refund).
    Receipts or invoices are required to submit.

    `then(request)` writes what the request is for in the same transaction (a contractor's milestone payment);
    `conflict` is said when a unique rule of that write refuses it (asked for a moment before by someone else)."""
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
        if then is not None:
            then(request)
        _record(actor, "created", request)
        if submit:  # made already submitted: not a move, but the same event and the same notice as one
            _record(actor, "submitted", request)
            _ask_the_leads(request, actor)
        return request

    return services.write_once(ExpenseRequest, idempotency_key, write, conflict)


def add_receipts(actor: User, request: ExpenseRequest, receipts: list[FileStorage]) -> None:
    """More receipt photos on a draft (before it is submitted)."""
    if not requester(actor, request):
        raise NotAllowed()
    if not expense_requests.allows(request, "add_receipts"):
        raise DomainError(_l("Receipts can be added while the request is a draft."))
    files = [f for f in receipts if f is not None and f.filename]
    if not files:
        raise DomainError(_l("Add at least one photo of the receipt or invoice."))
    request.receipts.extend(save_photos(actor, files, alliance=request.fund.alliance))
    expense_requests.hold(request, "add_receipts")  # still a draft where it is written: not after a submit
    db.session.commit()


@expense_requests.guard("submit")
def _has_receipts(request: ExpenseRequest, user: User, attempt: Attempt) -> LazyString | None:
    return None if request.receipts else _l("Add at least one photo of the receipt or invoice.")


def submit(actor: User, request: ExpenseRequest) -> None:
    """The person who asked sends their draft for approval."""
    if not requester(actor, request):
        raise NotAllowed()
    expense_requests.perform(actor, request, "submit")
    db.session.commit()


def approve(actor: User, request: ExpenseRequest) -> bool:
    """Add this lead's approval; returns True when it was the last one needed (the request is then approved)."""
    if not authz.can(actor, "approve_expense", request.fund.alliance):
        raise NotAllowed()
    if requester(actor, request):
        raise DomainError(_l("You asked for this expense, so another lead must approve it."))
    # Two leads approving at the same moment take turns: the second counts the first's approval and moves
    # the request on; an approval never lands on a request rejected or cancelled a moment before.
    _lock(request)
    if not expense_requests.allows(request, "approve"):
        raise _refuse(expense_requests.not_now(request, "approve"))
    if any(a.approver_id == actor.id for a in request.approvals):
        raise _refuse(ALREADY_APPROVED)
    count, needed = len(request.approvals) + 1, approvals_needed(request)
    complete = count >= needed
    if complete:  # the last approval needed moves the request: its audit event is the move's
        expense_requests.perform(actor, request, "approve", details={"approval": count, "needed": needed})
    else:
        _record(actor, "approved", request, approval=count, needed=needed)
    try:
        request.approvals.append(ExpenseApproval(approver_id=actor.id))
        db.session.flush()
    except IntegrityError:  # the same lead's second tap, a moment after the first
        db.session.rollback()
        raise DomainError(ALREADY_APPROVED) from None
    db.session.commit()
    return complete


def reject(actor: User, request: ExpenseRequest, reason: str) -> None:
    """A lead stops the request, before it is paid, saying why."""
    if not authz.can(actor, "approve_expense", request.fund.alliance):
        raise NotAllowed()
    reason = (reason or "").strip()
    expense_requests.perform(actor, request, "reject", Attempt(reason=reason), values={"decision_reason": reason})
    db.session.commit()


def cancel(actor: User, request: ExpenseRequest) -> None:
    """The person who asked withdraws the request (a lead may too), any time before it is paid."""
    if not requester_or_lead(actor, request):
        raise NotAllowed()
    expense_requests.perform(actor, request, "cancel")
    db.session.commit()


def pay(actor: User, request: ExpenseRequest, *, method: PaymentMethod, idempotency_key: str, reference: str = "",
        occurred_on: datetime | None = None) -> None:
    """The treasurer pays an approved request: the ledger entry and the state change commit together."""
    if not authz.can(actor, "pay_expense", request.fund.alliance):
        raise NotAllowed()
    services.check_idempotency_key(idempotency_key)
    expense_requests.check(actor, request, "pay")  # already paid, or not approved: said before money moves
    try:
        refund = request.refund_shop is not None
        details = services.EntryDetails(
            EntryKind.REFUND if refund else EntryKind.EXPENSE, request.amount_fen, method=method, reference=reference,
            counterparty=request.payee, purpose=request.purpose, project=request.project, shop=request.refund_shop,
            occurred_on=occurred_on,
        )
        entry = services.insert_entry(actor, request.fund, details, idempotency_key=idempotency_key,
                                      receipt_photo=request.receipts[0] if request.receipts else None)
        expense_requests.perform(actor, request, "pay", values={"paid_entry_id": entry.id},
                                 details={"entry": entry.id})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise DomainError(ALREADY_PAID) from None
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
    """Which buttons this user sees on the request: the moves they may take now, and adding receipts to their
    own draft (the services still check everything)."""
    actions = {t.action for t in expense_requests.actions_for(user, request)}
    if requester(user, request) and expense_requests.allows(request, "add_receipts"):
        actions.add("add_receipts")
    return actions
