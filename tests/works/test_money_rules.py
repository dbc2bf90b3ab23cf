"""The works' money rules, to the fen, for any order (property-based): the milestones always add up to what the order
is worth, every payment is its net plus its retention, and at every step the order's position adds up:
value = paid + retained + asked for + remaining."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from merchant_alliance.works.models import (
    Milestone,
    MilestoneKind,
    MilestoneState,
    OrderPayment,
    PaymentKind,
    PaymentState,
    WorkOrder,
)
from merchant_alliance.works.payments import Position, allocate, milestone_values, position, retention_of

P = PaymentState
MAX_ORDER_FEN = 10**10  # ¥100 million

# Milestone shares in hundredths of a percent adding up to exactly 100.00%: cuts of 0…10000 (some may be equal,
# making a share of 0%).
shares = st.lists(st.integers(min_value=0, max_value=10_000), max_size=7).map(
    lambda cuts: [Decimal(b - a) / 100 for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), 10_000], strict=True)])
retention_percents = st.decimals(min_value=0, max_value=3, places=2)


@settings(max_examples=200, deadline=None)
@given(total=st.integers(min_value=0, max_value=MAX_ORDER_FEN), split=shares)
def test_an_amount_split_by_shares_adds_up_exactly_and_each_part_is_within_a_fen_of_its_share(total, split):
    """Any amount split by any shares adding up to 100%: the parts add up to the fen, none more than a fen off."""
    parts = allocate(total, split)
    assert sum(parts) == total and len(parts) == len(split)
    for part, share in zip(parts, split, strict=True):
        exact = Decimal(total) * share / 100
        assert 0 <= part and exact - 1 < part < exact + 1


@settings(max_examples=200, deadline=None)
@given(gross=st.integers(min_value=0, max_value=MAX_ORDER_FEN), percent=retention_percents)
def test_the_retention_is_rounded_down_and_never_more_than_its_percentage(gross, percent):
    """The retention held from any payment at any percentage up to the 3% cap: rounded down, to the fen."""
    held = retention_of(gross, percent)
    assert 0 <= held <= gross * percent / 100 < held + 1


def order_of(value_fen: int, split: list[Decimal], percent: Decimal) -> WorkOrder:
    """A work order in memory (nothing stored): its milestones numbered 1…n."""
    order = WorkOrder(agreed_fen=value_fen, changes_fen=0, retention_percent=percent)
    order.milestones = [Milestone(id=n, position=n, kind=MilestoneKind.OTHER, share_percent=share,
                                  state=MilestoneState.PENDING) for n, share in enumerate(split, start=1)]
    return order


class Books:
    """The order's payments as the services make them, and the rules checked after every step."""

    def __init__(self, order: WorkOrder) -> None:
        self.order = order
        self.payments: list[OrderPayment] = []

    @property
    def live(self) -> list[OrderPayment]:
        return [p for p in self.payments if p.state != P.VOID]

    def check(self) -> Position:
        values = milestone_values(self.order, self.live)
        assert sum(values.values()) == self.order.value_fen
        assert all(v >= 0 for v in values.values())
        for payment in self.payments:
            assert payment.amount_fen + payment.retention_fen == payment.gross_fen
            assert 0 <= payment.retention_fen <= payment.gross_fen
        now = position(self.order, self.live)
        assert now.value_fen == now.paid_fen + now.retained_fen + now.requested_fen + now.remaining_fen
        assert min(now.paid_fen, now.retained_fen, now.requested_fen, now.remaining_fen) >= 0
        return now

    def ask(self, milestone: Milestone) -> OrderPayment | None:
        """Ask for an accepted milestone's value minus the retention; None when it is worth nothing now."""
        gross = milestone_values(self.order, self.live)[milestone.id]
        if gross <= 0:
            return None
        assert gross <= position(self.order, self.live).remaining_fen
        payment = OrderPayment(id=len(self.payments) + 1, kind=PaymentKind.MILESTONE, milestone_id=milestone.id,
                               gross_fen=gross, retention_fen=retention_of(gross, self.order.retention_percent),
                               state=P.REQUESTED)
        self.payments.append(payment)
        self.check()
        return payment

    def settle(self, payment: OrderPayment, state: PaymentState) -> None:
        payment.state = state
        self.check()

    def fixed_fen(self) -> int:
        return sum(p.gross_fen for p in self.live if p.kind == PaymentKind.MILESTONE)


@settings(max_examples=200, deadline=None)
@given(value=st.integers(min_value=1, max_value=MAX_ORDER_FEN), split=shares, percent=retention_percents,
       data=st.data())
def test_the_position_adds_up_at_every_step_whatever_the_split_the_changes_and_the_rejections(
        value, split, percent, data):
    """Milestones accepted in any order, some requests rejected and asked for again, changes to the order's value
    in between (never below what was asked for): the books add up after every step, and at the end, once the
    retention is released, the contractor has been paid exactly what the order is worth."""
    order = order_of(value, split, percent)
    books = Books(order)
    books.check()
    for milestone in data.draw(st.permutations(order.milestones)):
        change = data.draw(st.integers(min_value=-order.value_fen, max_value=10**8) | st.just(0))
        if order.value_fen + change >= books.fixed_fen():
            order.changes_fen += change
            books.check()
        milestone.state = MilestoneState.ACCEPTED
        payment = books.ask(milestone)
        if payment is None:
            continue
        if data.draw(st.booleans()):  # rejected or cancelled: asked for again
            books.settle(payment, P.VOID)
            payment = books.ask(milestone)
        books.settle(payment, P.PAID)

    while unpaid := [m for m in order.milestones if m.id not in {p.milestone_id for p in books.live}
                     and milestone_values(order, books.live)[m.id] > 0]:
        books.settle(books.ask(unpaid[0]), P.PAID)  # worth something again after a raise

    held = books.check().retained_fen
    assert held == sum(p.retention_fen for p in books.live)
    if held:
        release = OrderPayment(id=len(books.payments) + 1, kind=PaymentKind.RETENTION, gross_fen=held,
                               retention_fen=0, state=P.REQUESTED)
        books.payments.append(release)
        books.check()
        books.settle(release, P.PAID)
    final = books.check()
    assert (final.paid_fen, final.retained_fen, final.requested_fen, final.remaining_fen) == (order.value_fen, 0, 0, 0)
    assert final.released is bool(held)
