"""Paying the contractor by milestone: only an accepted milestone, once, through the fund's own approvals (two leads
above the threshold, only the treasurer pays), the retention held back; the retention released only once the street
office has signed the sign off and the warranty has run."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import expenses
from merchant_alliance.funds.models import EntryKind, ExpenseRequest, ExpenseState, LedgerEntry, PaymentMethod
from merchant_alliance.safety import certificates
from merchant_alliance.timeutil import local_today
from merchant_alliance.works import orders, payments
from merchant_alliance.works.models import (
    Milestone,
    MilestoneKind,
    OrderPayment,
    PaymentKind,
    PaymentState,
    WorkOrder,
)
from tests.concurrency import at_once
from tests.factories import user_with_role
from tests.fixtures.works import (
    accepted,
    approve,
    approve_and_pay,
    contracted_order,
    done,
    form_key,
    funded,
    milestone,
    photos,
    signed_off,
)
from tests.works.helpers import count, refused

pytestmark = pytest.mark.usefixtures("in_request")

P = PaymentState
E = ExpenseState


def ask(milestone: Milestone, by: User, key: str | None = None) -> OrderPayment:
    return payments.request_milestone_payment(by, milestone, photos(1, "发票.jpg"), idempotency_key=key or form_key())


def release(order: WorkOrder, by: User, key: str | None = None) -> OrderPayment:
    return payments.request_retention_release(by, order, photos(1, "收据.jpg"), idempotency_key=key or form_key())


def request_of(payment: OrderPayment) -> ExpenseRequest:
    return db.session.get(ExpenseRequest, payment.expense_request_id)


def state_of(payment: OrderPayment) -> PaymentState:
    return db.session.scalar(select(OrderPayment.state).where(OrderPayment.id == payment.id))


def balanced(position: payments.Position) -> bool:
    return position.value_fen == (position.paid_fen + position.retained_fen + position.requested_fen
                                  + position.remaining_fen)


def test_only_an_accepted_milestone_is_asked_for_and_only_once(app, world, works, cast):
    """Nothing pays a milestone still to do or waiting for acceptance. Accepted, its value (10% of ¥10,000) is asked
    for minus the 3% retention; the same form sent twice asks once, and another request for it is refused."""
    order = contracted_order(works)
    design = milestone(order, MilestoneKind.DESIGN)
    refused(app, DomainError, ask, design, world.a.lead, match="Only an accepted milestone")
    done(design)
    refused(app, DomainError, ask, design, world.a.lead, match="Only an accepted milestone")
    orders.accept(world.a.lead, design)
    for who in ("owner", "contractor", "officer", "lead_elsewhere", "nobody"):
        refused(app, NotAllowed, ask, design, getattr(cast, who))
    refused(app, DomainError, payments.request_milestone_payment, world.a.lead, design, [], idempotency_key=form_key(),
            match="photo of the receipt")

    payment = ask(design, world.a.lead, "pay-form-1")
    request = request_of(payment)
    assert (payment.kind, payment.state, payment.gross_fen, payment.retention_fen, payment.amount_fen) == (
        PaymentKind.MILESTONE, P.REQUESTED, 1_000_00, 30_00, 970_00)
    assert (request.state, request.amount_fen, request.payee, request.project_id, request.requested_by_id) == (
        E.SUBMITTED, 970_00, "静安广告装饰工程队", order.project_id, world.a.lead.id)
    assert ask(design, world.a.lead, "pay-form-1").id == payment.id  # the same form, sent again
    assert (count(OrderPayment), count(ExpenseRequest)) == (1, 1)
    refused(app, DomainError, ask, design, world.a.treasurer, match="already been asked for")
    position = payments.position(order)
    assert (position.requested_fen, position.remaining_fen, position.paid_fen) == (1_000_00, 9_000_00, 0)
    assert balanced(position)


def test_the_fund_approves_and_the_treasurer_pays_the_milestone_minus_the_retention(app, world, works, cast):
    """Fabrication is 40% of ¥20,000: ¥8,000, of which ¥240 is held. The ¥7,760 asked for is above the fund's
    threshold, so two leads other than the one who asked approve it; only the treasurer pays, and the ledger shows
    the ¥7,760 that left the fund."""
    order = contracted_order(works, amount_fen=20_000_00, project=funded(works, budget_fen=20_000_00))
    fabrication = accepted(milestone(order, MilestoneKind.FABRICATION))
    payment = ask(fabrication, world.a.lead)
    request = request_of(payment)
    assert (payment.gross_fen, payment.retention_fen, request.amount_fen) == (8_000_00, 240_00, 7_760_00)
    assert expenses.approvals_needed(request) == 2

    refused(app, DomainError, expenses.approve, world.a.lead, request, match="You asked for this expense")
    assert expenses.approve(cast.co_lead, request) is False
    refused(app, DomainError, expenses.pay, world.a.treasurer, request, method=PaymentMethod.BANK_TRANSFER,
            idempotency_key=form_key(), match="Only an approved request")
    assert expenses.approve(user_with_role(Role.ALLIANCE_LEAD, alliance=world.a.alliance), request)
    for who in ("lead", "co_lead", "contractor", "owner"):
        refused(app, NotAllowed, expenses.pay, getattr(cast, who), request, method=PaymentMethod.BANK_TRANSFER,
                idempotency_key=form_key())
    assert state_of(payment) == P.REQUESTED

    expenses.pay(world.a.treasurer, request, method=PaymentMethod.BANK_TRANSFER, idempotency_key=form_key())
    db.session.refresh(request)
    entry = db.session.get(LedgerEntry, request.paid_entry_id)
    assert (request.state, state_of(payment)) == (E.PAID, P.PAID)
    assert (entry.kind, entry.amount_fen, entry.counterparty, entry.project_id) == (
        EntryKind.EXPENSE, -7_760_00, "静安广告装饰工程队", order.project_id)
    position = payments.position(order)
    assert (position.paid_fen, position.retained_fen, position.requested_fen, position.remaining_fen,
            position.accepted_fen) == (7_760_00, 240_00, 0, 12_000_00, 8_000_00)
    assert balanced(position)
    refused(app, DomainError, ask, fabrication, world.a.lead, match="already been asked for")


@pytest.mark.parametrize("stop", ["reject", "cancel"])
def test_a_rejected_or_cancelled_request_voids_the_payment_and_the_milestone_can_be_asked_for_again(
        app, world, works, cast, stop):
    """A lead rejects the request (or the one who asked cancels it): the payment is void, the order's position shows
    nothing asked for, and the milestone is asked for again and paid."""
    order = contracted_order(works)
    design = accepted(milestone(order, MilestoneKind.DESIGN))
    first = ask(design, world.a.lead)
    if stop == "reject":
        expenses.reject(cast.co_lead, request_of(first), "发票抬头不对")
    else:
        expenses.cancel(world.a.lead, request_of(first))
    assert state_of(first) == P.VOID
    position = payments.position(order)
    assert (position.requested_fen, position.remaining_fen) == (0, 10_000_00)

    again = ask(design, world.a.lead)
    assert (again.id != first.id, again.gross_fen, state_of(again)) == (True, 1_000_00, P.REQUESTED)
    approve_and_pay(request_of(again))
    assert state_of(again) == P.PAID and state_of(first) == P.VOID


def test_nothing_pays_beyond_what_the_order_is_still_worth(app, world, works):
    """Four milestones (¥9,000) are asked for, then the order is lowered by ¥1,000 to ¥9,000: the clean-up, accepted
    later, has nothing left to be paid, and asking for it is refused without writing anything."""
    order = contracted_order(works)
    cleanup = milestone(order, MilestoneKind.CLEANUP)
    for step in order.milestones:
        if step is not cleanup:
            ask(accepted(step), world.a.lead)
    change = orders.propose_change(world.a.lead, order, -1_000_00, "清场由商户自行完成")
    orders.approve_change(world.a.lead, change)
    accepted(cleanup)
    assert payments.milestone_values(order)[cleanup.id] == 0
    refused(app, DomainError, ask, cleanup, world.a.lead, match="nothing to pay")
    position = payments.position(order)
    assert (position.value_fen, position.requested_fen, position.remaining_fen) == (9_000_00, 9_000_00, 0)


def test_the_retention_is_released_after_the_sign_off_and_the_warranty_and_not_before(app, world, works):
    """Design, installation and clean-up are accepted and paid, ¥150 held back. The release is refused before the
    street office's sign-off, then before the warranty's end a year after the installation, then while a milestone
    payment is still on its way; after all that it is paid, and the contractor has had the whole ¥5,000."""
    order = contracted_order(works)
    design, installation, cleanup = (accepted(milestone(order, kind)) for kind in (
        MilestoneKind.DESIGN, MilestoneKind.INSTALLATION, MilestoneKind.CLEANUP))
    for step in (design, installation):
        approve_and_pay(request_of(ask(step, world.a.lead)))
    assert payments.position(order).retained_fen == 30_00 + 90_00
    refused(app, DomainError, release, order, world.a.lead, match="after the street office has signed the sign off")

    signed_off(order.project, world.a.officer)
    db.session.refresh(order)
    ends = (local_today() + timedelta(days=365)).isoformat()
    assert payments.warranty_ends(order).isoformat() == ends
    refused(app, DomainError, release, order, world.a.lead, match=f"after the warranty ends \\({ends}\\)")

    db.session.execute(update(WorkOrder).where(WorkOrder.id == order.id)
                       .values(installed_on=local_today() - timedelta(days=365)))
    db.session.commit()
    db.session.expire(order)
    last = ask(cleanup, world.a.lead)
    refused(app, DomainError, release, order, world.a.lead, match="Wait until the milestone payments asked for")
    approve_and_pay(request_of(last))

    held = release(order, world.a.treasurer)
    assert (held.kind, held.gross_fen, held.retention_fen, request_of(held).amount_fen) == (
        PaymentKind.RETENTION, 150_00, 0, 150_00)
    refused(app, DomainError, release, order, world.a.lead)  # asked for already
    approve_and_pay(request_of(held))
    position = payments.position(order)
    assert (state_of(held), position.released, position.retained_fen, position.paid_fen) == (
        P.PAID, True, 0, 5_000_00)
    assert balanced(position)
    paid_out = db.session.scalar(select(func.sum(LedgerEntry.amount_fen)).where(
        LedgerEntry.project_id == order.project_id, LedgerEntry.kind == EntryKind.EXPENSE))
    assert paid_out == -5_000_00
    refused(app, DomainError, release, order, world.a.lead)


def test_a_release_whose_certificate_is_revoked_before_it_is_paid_is_not_paid(app, world, works):
    """The street office revokes the sign's certificate after the release was approved: the treasurer's payment is
    refused, and nothing reaches the ledger."""
    order = contracted_order(works, warranty_days=0)
    design = accepted(milestone(order, MilestoneKind.DESIGN))
    accepted(milestone(order, MilestoneKind.INSTALLATION))
    approve_and_pay(request_of(ask(design, world.a.lead)))
    certificate = signed_off(order.project, world.a.officer)
    held = release(order, world.a.lead)
    approve(request_of(held))
    certificates.revoke(world.a.officer, certificate, "复查发现锚栓松动")

    refused(app, DomainError, expenses.pay, world.a.treasurer, request_of(held), method=PaymentMethod.BANK_TRANSFER,
            idempotency_key=form_key(), match="after the street office has signed the sign off")
    assert (state_of(held), request_of(held).state) == (P.REQUESTED, E.APPROVED)
    position = payments.position(order)
    assert (position.paid_fen, position.requested_fen, position.retained_fen) == (970_00, 30_00, 0)  # still asked for


@pytest.mark.postgres_only
def test_two_requests_for_the_same_milestone_at_the_same_moment_make_one_payment(app, world, works):
    """A lead and the treasurer ask for the same accepted milestone at the same instant (different forms): one
    payment and one expense request; the other is told it was asked for already."""
    order = contracted_order(works)
    design_id = accepted(milestone(order, MilestoneKind.DESIGN)).id
    people = (world.a.lead.id, world.a.treasurer.id)

    def asking(user_id: int):
        return lambda: ask(db.session.get(Milestone, design_id), db.session.get(User, user_id)).id

    results = at_once(app, *(asking(user_id) for user_id in people))
    made = [r for r in results if isinstance(r, int)]
    said = [str(r) for r in results if isinstance(r, DomainError)]
    assert len(made) == 1 and said == [str(payments.ALREADY_ASKED)]
    assert (count(OrderPayment), count(ExpenseRequest)) == (1, 1)
    assert db.session.get(OrderPayment, made[0]).gross_fen == 1_000_00
    assert Decimal(db.session.get(WorkOrder, order.id).retention_percent) == Decimal(3)


def test_a_milestone_paid_after_a_release_has_its_own_retention_released_later(app, world, works):
    """The installation is paid and its retention released; the clean-up is accepted and paid afterwards. Its own ¥30
    held is not stuck: a second release pays exactly that, and never more than is held."""
    order = contracted_order(works)
    installation, cleanup = (accepted(milestone(order, kind)) for kind in (
        MilestoneKind.INSTALLATION, MilestoneKind.CLEANUP))
    approve_and_pay(request_of(ask(installation, world.a.lead)))
    signed_off(order.project, world.a.officer)
    db.session.execute(update(WorkOrder).where(WorkOrder.id == order.id)
                       .values(installed_on=local_today() - timedelta(days=365)))
    db.session.commit()
    db.session.expire(order)
    first = release(order, world.a.treasurer)
    approve_and_pay(request_of(first))
    assert payments.position(order).retained_fen == 0

    approve_and_pay(request_of(ask(cleanup, world.a.lead)))
    assert payments.position(order).retained_fen == 30_00
    second = release(order, world.a.treasurer)
    assert (second.gross_fen, request_of(second).amount_fen) == (30_00, 30_00)
    refused(app, DomainError, release, order, world.a.lead)  # one release on its way at a time
    approve_and_pay(request_of(second))
    position = payments.position(order)
    assert (position.retained_fen, first.gross_fen + second.gross_fen) == (0, 90_00 + 30_00)
    assert balanced(position)
