"""A double tap on a phone on a ladder: the same site log, punch item or change form sent twice makes one record;
"mark done" and "accept" pressed twice move the milestone once, and the second press is told why not. On
PostgreSQL the same holds when both arrive at the same instant."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from merchant_alliance.accounts.models import User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.timeutil import local_today
from merchant_alliance.works import orders
from merchant_alliance.works.models import (
    ChangeOrder,
    Milestone,
    MilestoneKind,
    MilestoneState,
    PunchItem,
    SiteLogEntry,
    WorkOrder,
)
from tests.concurrency import at_once
from tests.fixtures.works import contracted_order, done, form_key, milestone, photos
from tests.projects.helpers import stored_files
from tests.works.helpers import count, refused

pytestmark = pytest.mark.usefixtures("in_request")


def events(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def log_entry(order: WorkOrder, by: User, key: str) -> SiteLogEntry:
    return orders.add_log_entry(by, order, day=local_today(), work_done="吊装新牌面", crew_size=4,
                                photos=photos(2, "吊装.jpg"), idempotency_key=key)


FORMS = {
    "site log entry": (SiteLogEntry, "sitelog.added",
                       lambda world, order, key: log_entry(order, world.a.contractor, key)),
    "punch item": (PunchItem, "punch.raised", lambda world, order, key: orders.raise_punch(
        world.a.lead, order, "灯箱边缘有缝隙", photos(1, "缝隙.jpg"), idempotency_key=key)),
    "change order": (ChangeOrder, "change.proposed", lambda world, order, key: orders.propose_change(
        world.a.contractor, order, 300_00, "加装保险绳", idempotency_key=key)),
}


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_the_same_form_sent_twice_makes_one_record(app, world, works, form):
    """A site log entry, a punch item or a change order sent twice with the same form key is one record, one audit
    event and one set of photos; a new form makes a new one."""
    model, action, send = FORMS[form]
    order = contracted_order(works)
    key = form_key()
    first = send(world, order, key)
    files = stored_files(app)
    again = send(world, order, key)
    assert again.id == first.id
    assert (count(model), events(action), stored_files(app)) == (1, 1, files)
    assert send(world, order, form_key()).id != first.id  # a new form is a new record


def test_mark_done_and_accept_pressed_twice_move_the_milestone_once(app, world, works):
    """The second press is told the milestone is already marked done (or accepted), and the log has one event each."""
    order = contracted_order(works)
    design = done(milestone(order, MilestoneKind.DESIGN))
    refused(app, DomainError, orders.mark_done, world.a.contractor, design, "已完成", photos(1),
            match="already marked done")
    orders.accept(world.a.lead, design)
    refused(app, DomainError, orders.accept, world.a.lead, design, match="already accepted")
    refused(app, DomainError, orders.mark_done, world.a.contractor, design, "已完成", photos(1),
            match="already accepted")
    assert (events("milestone.mark_done"), events("milestone.accept")) == (1, 1)


@pytest.mark.postgres_only
def test_accept_and_a_site_log_entry_sent_twice_at_the_same_instant_happen_once(app, world, works):
    """Two copies of "accept" at the same instant: one accepts, the other is told why not, one audit event. Two
    copies of the same site log form at the same instant: one entry, with its two photos."""
    order = contracted_order(works)
    design_id = done(milestone(order, MilestoneKind.DESIGN)).id
    lead_id, contractor_id, order_id = world.a.lead.id, world.a.contractor.id, order.id

    def accepting():
        orders.accept(db.session.get(User, lead_id), db.session.get(Milestone, design_id))
        return "accepted"

    results = at_once(app, accepting, accepting)
    assert results.count("accepted") == 1
    (second,) = (r for r in results if r != "accepted")
    assert isinstance(second, DomainError)
    assert "already accepted" in str(second) or "changed this milestone a moment ago" in str(second)
    assert events("milestone.accept") == 1
    assert db.session.get(Milestone, design_id).state == MilestoneState.ACCEPTED

    key = form_key()
    made = at_once(app, *[lambda: log_entry(db.session.get(WorkOrder, order_id), db.session.get(User, contractor_id),
                                            key).id] * 2)
    assert made[0] == made[1] and isinstance(made[0], int)
    assert (count(SiteLogEntry), events("sitelog.added")) == (1, 1)
    assert len(db.session.get(SiteLogEntry, made[0]).photos) == 2
