"""The lead shapes an order's milestones: names, due dates, shares (adding up to 100%) and the photos each needs. A
milestone already done keeps its share and photos; a refused change leaves every milestone as it was; a default
milestone left with its kind's name stays in each reader's language."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from flask_babel import force_locale

from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.works import orders
from merchant_alliance.works.models import MilestoneKind, WorkOrder
from tests.fixtures.works import contracted_order, done, milestone
from tests.helpers import login_as
from tests.works.helpers import refused

pytestmark = pytest.mark.usefixtures("in_request")


def rows_of(order: WorkOrder, **changes) -> list[dict]:
    """The order's milestones as the form sends them, with `changes` (by kind value) applied."""
    return [{"id": m.id, "name": m.title, "due_on": m.due_on, "share_percent": Decimal(m.share_percent),
             "photos_needed": m.photos_needed, **changes.get(m.kind.value, {})} for m in order.milestones]


def shape(order: WorkOrder) -> list[tuple]:
    db.session.expire_all()
    return [(m.name, m.due_on, Decimal(m.share_percent), m.photos_needed)
            for m in db.session.get(WorkOrder, order.id).milestones]


def test_the_lead_moves_shares_and_renames_a_step_and_the_order_due_date_follows(app, world, works):
    order = contracted_order(works)
    later = order.due_on + timedelta(days=10)
    orders.edit_milestones(world.a.lead, order, rows_of(
        order, design={"share_percent": Decimal(5)}, cleanup={"share_percent": Decimal(15), "due_on": later},
        fabrication={"name": "灯箱工厂制作", "photos_needed": 3}))
    names = [(m.kind, m.name, Decimal(m.share_percent), m.photos_needed) for m in
             db.session.get(WorkOrder, order.id).milestones]
    assert names[0][2] == Decimal(5) and names[4][2] == Decimal(15)
    assert names[2][1:] == ("灯箱工厂制作", Decimal(40), 3)
    assert names[1][1] == ""  # left with its kind's name: still translated for each reader
    with force_locale("en"):
        assert milestone(order, MilestoneKind.REMOVAL).title == "Old sign removed"
    assert db.session.get(WorkOrder, order.id).due_on == later


@pytest.mark.parametrize(("changes", "says"), [
    ({"design": {"share_percent": Decimal(20)}}, "add up to 110"),
    ({"design": {"name": "  "}}, "needs a name"),
    ({"design": {"photos_needed": 11}}, "at most 10 photos"),
    ({"design": {"due_on": "before"}}, "on or after the order's start"),
])
def test_a_wrong_row_is_refused_and_no_milestone_changes(app, world, works, changes, says):
    order = contracted_order(works)
    if changes.get("design", {}).get("due_on") == "before":
        changes = {"design": {"due_on": order.start_on - timedelta(days=1)}}
    changes = {**changes, "cleanup": {"name": "清理并撤场"}}  # a good change in the same form is not written either
    before = shape(order)
    with force_locale("en"):
        refused(app, DomainError, orders.edit_milestones, world.a.lead, order, rows_of(order, **changes), match=says)
    assert shape(order) == before


def test_a_step_already_done_keeps_its_share_and_only_a_lead_edits(app, world, works):
    order = contracted_order(works)
    done(milestone(order, MilestoneKind.DESIGN))
    with force_locale("en"):
        refused(app, DomainError, orders.edit_milestones, world.a.lead, order, rows_of(
            order, design={"share_percent": Decimal(5)}, cleanup={"share_percent": Decimal(15)}),
            match="already done")
    for someone in (world.a.contractor, world.a.owner, world.a.treasurer, world.b.lead):
        refused(app, NotAllowed, orders.edit_milestones, someone, order, rows_of(order))


def test_the_form_shows_the_milestones_and_a_refusal_keeps_what_was_typed(app, world, works, client):
    order = contracted_order(works)
    login_as(world.a.lead, client)
    page = client.get(f"/orders/{order.id}/milestones").get_data(as_text=True)
    assert page.count('name="rows-') >= 5 * 4
    form = {}
    for n, m in enumerate(order.milestones):
        form.update({f"rows-{n}-id": m.id, f"rows-{n}-name": "改名" if n == 0 else m.title,
                     f"rows-{n}-due_on": m.due_on.isoformat(), f"rows-{n}-share_percent": "50",
                     f"rows-{n}-photos_needed": m.photos_needed})
    answer = client.post(f"/orders/{order.id}/milestones", data=form, follow_redirects=True).get_data(as_text=True)
    assert "250" in answer and 'value="改名"' in answer  # the sum is told, the typing kept
    assert milestone(order, MilestoneKind.DESIGN).name == ""
