"""The works' reads: the lead's works board and the contractor's home list the right orders, milestones, punch items
and requests for quotes; the order page, the board and the home page ask as many queries for a busy alliance as for
a quiet one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from merchant_alliance.accounts.models import User
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import ExpenseRequest
from merchant_alliance.funds.shares import Shares
from merchant_alliance.timeutil import local_today
from merchant_alliance.works import orders, payments, queries, quotes
from merchant_alliance.works.models import Milestone, MilestoneKind, MilestoneState, OrderState, WorkOrder
from merchant_alliance.works.permissions import contractor_ids
from tests.fixtures.works import (
    accepted,
    approve_and_pay,
    contracted_order,
    contractor_person,
    done,
    existing_or_new_contractor,
    form_key,
    funded,
    milestone,
    photos,
)
from tests.helpers import counted_queries, login_as

pytestmark = pytest.mark.usefixtures("in_request")


def queries_for(client, path: str) -> int:
    with counted_queries() as statements:
        assert client.get(path).status_code == 200, path
    return len(statements)


def paid(step: Milestone, by: User) -> None:
    payment = payments.request_milestone_payment(by, step, photos(1, "发票.jpg"), idempotency_key=form_key())
    approve_and_pay(db.session.get(ExpenseRequest, payment.expense_request_id))


def busy(order: WorkOrder, world, n: int) -> None:
    """`n` more of everything on the order: milestones done and accepted and paid, site log entries with photos,
    punch items (one fixed), change orders (one approved)."""
    person = order.contractor.users[0]
    steps = [m for m in order.milestones if m.state == MilestoneState.PENDING]
    for step in steps[:n]:
        accepted(step)
        paid(step, world.a.lead)
    for _ in range(n):
        orders.add_log_entry(person, order, day=local_today(), work_done="安装", crew_size=3,
                             photos=photos(2))
        item = orders.raise_punch(world.a.lead, order, "缝隙", photos(1))
        orders.fix_punch(person, item, "已打胶", photos(1))
        change = orders.propose_change(person, order, 100_00, "加装保险绳")
        orders.approve_change(world.a.lead, change, Shares(100_00, 0, 0))


def test_the_board_and_the_contractors_home_list_the_right_work(app, world, works):
    """Three orders for the side's contractor (one contracted, one under way and late, one completed) and one for
    another contractor: the board shows the active ones with their progress and money; the contractor's home shows
    only its own, with what is due this week, the punch items to fix and the new requests for quotes."""
    mine = existing_or_new_contractor(world.a)
    other, _ = contractor_person(world.a, "鑫达广告")
    waiting = contracted_order(works, title="一号店招")
    under_way = contracted_order(works, title="二号店招")
    design = accepted(milestone(under_way, MilestoneKind.DESIGN))
    paid(design, world.a.lead)
    db.session.execute(update(Milestone).where(Milestone.id == milestone(under_way, MilestoneKind.REMOVAL).id)
                       .values(due_on=local_today() - timedelta(days=1)))
    db.session.commit()
    punch = orders.raise_punch(world.a.lead, under_way, "缝隙", photos(1))
    finished = contracted_order(works, title="三号店招")
    for step in finished.milestones:
        accepted(step)
    theirs = contracted_order(works, contractor=other, title="四号店招")
    invited_to = funded(works, title="五号店招")
    (invitation,) = quotes.invite(world.a.lead, invited_to, [mine])

    rows, more = queries.board(world.a.alliance.id)
    assert not more
    assert {r.order_id for r in rows} == {waiting.id, under_way.id, theirs.id}
    row = next(r for r in rows if r.order_id == under_way.id)
    assert (row.title, row.contractor, row.state, row.accepted, row.milestones, row.late, row.overdue) == (
        "二号店招", "静安广告装饰工程队", OrderState.IN_PROGRESS, 1, 5, 1, True)
    assert (row.value_fen, row.paid_fen, row.retained_fen, row.next_due) == (
        10_000_00, 970_00, 30_00, local_today() - timedelta(days=1))
    quiet = next(r for r in rows if r.order_id == waiting.id)
    assert (quiet.accepted, quiet.late, quiet.overdue, quiet.paid_fen) == (0, 0, False, 0)
    assert quiet.next_due == milestone(waiting, MilestoneKind.DESIGN).due_on
    assert [r.order_id for r in queries.board(world.a.alliance.id, OrderState.COMPLETED)[0]] == [finished.id]
    assert queries.board(world.b.alliance.id)[0] == []

    work = queries.contractor_work(contractor_ids(world.a.contractor))
    assert [q.id for q in work.invitations] == [invitation.id]
    assert {r.order_id for r in work.orders} == {waiting.id, under_way.id}
    week = local_today() + timedelta(days=7)
    expected = {m.id for o in (waiting, under_way) for m in o.milestones
                if m.state in (MilestoneState.PENDING, MilestoneState.RETURNED) and m.due_on <= week}
    assert {m.id for m in work.due_this_week} == expected and expected
    assert [p.id for p in work.punch_to_fix] == [punch.id]
    assert queries.contractor_work(frozenset()) == queries.ContractorWork([], [], [], [])


def test_the_order_page_asks_as_many_queries_for_a_busy_order_as_for_a_new_one(app, world, works):
    """The order page, for the lead, the contractor and the shop's owner, with one of everything and with four."""
    order = contracted_order(works)
    busy(order, world, 1)  # one of everything: every list has a row to load its photos and people for
    path = f"/orders/{order.id}"
    lead, contractor, owner = login_as(world.a.lead), login_as(world.a.contractor), login_as(world.a.owner)
    few = [queries_for(client, path) for client in (lead, contractor, owner)]
    busy(order, world, 3)
    done(milestone(order, MilestoneKind.CLEANUP))
    assert [queries_for(client, path) for client in (lead, contractor, owner)] == few


def test_the_works_board_and_the_contractors_home_ask_as_many_queries_for_many_orders_as_for_one(app, world, works):
    """The lead's works board and the contractor's home page, with one order and with four (one another
    contractor's), each with milestones, payments, punch items and a request for a quote."""
    first = contracted_order(works, title="一号店招")
    busy(first, world, 1)
    quotes.invite(world.a.lead, funded(works, title="二号店招"), [existing_or_new_contractor(world.a)])
    board, home = f"/alliances/{world.a.alliance.id}/works", "/"
    lead, contractor = login_as(world.a.lead), login_as(world.a.contractor)
    few = (queries_for(lead, board), queries_for(contractor, home))

    other, _ = contractor_person(world.a, "鑫达广告")
    for n, contractor_of in enumerate((None, None, other)):
        order = contracted_order(works, contractor=contractor_of, title=f"{n}号灯箱")
        busy(order, world, 1)
    quotes.invite(world.a.lead, funded(works, title="六号店招"), [existing_or_new_contractor(world.a)])
    assert (queries_for(lead, board), queries_for(contractor, home)) == few
