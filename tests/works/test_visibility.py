"""Who sees which works: a contractor its own quotes and orders only (not a rival's in the same alliance), a shop
owner the orders of its own shop's projects only, and people of another alliance nothing at all: its ids answer
exactly as made-up ids do, and a form sent to them changes nothing."""

from __future__ import annotations

import io
import re

import pytest

from merchant_alliance.extensions import db
from merchant_alliance.works import orders, quotes
from merchant_alliance.works.models import Milestone, MilestoneKind, MilestoneState, Quote
from tests.fixtures.works import (
    contracted_order,
    contractor_person,
    funded,
    make_contractor,
    milestone,
    offer,
    photos,
)
from tests.helpers import login_as
from tests.projects.helpers import fresh_jpeg
from tests.works.helpers import written

pytestmark = pytest.mark.usefixtures("in_request")

MADE_UP = 987_654
NOISE = re.compile(rb'name="csrf_token" value="[^"]*"|<div class="flashes".*?</div>|\s+', re.S)


def page(client, path: str, method: str = "GET", **kwargs) -> tuple[int, bytes]:
    """The status and the page, without what differs from one request to the next (its own address included)."""
    response = client.open(path, method=method, **kwargs)
    return response.status_code, NOISE.sub(b"", response.get_data()).replace(path.encode(), b"<path>")


def jpeg(name: str = "完成.jpg") -> tuple[io.BytesIO, str]:
    return io.BytesIO(fresh_jpeg()), name


def test_a_contractor_sees_and_changes_only_its_own_quotes_and_orders(app, world, works):
    """Two contractors quote for the same sign and one is chosen: the other sees its own (not selected) quote, but
    neither the winner's quote nor the order, and cannot mark the order's work done."""
    project = funded(works)
    winner = make_contractor(world.a)
    rival, rival_person = contractor_person(world.a, "鑫达广告")
    mine, theirs = quotes.invite(world.a.lead, project, [winner, rival])
    quotes.submit(world.a.contractor, mine, offer(9_000_00))
    quotes.submit(rival_person, theirs, offer(9_500_00))
    order = quotes.select_quote(world.a.lead, mine, "报价更低")
    design = milestone(order, MilestoneKind.DESIGN)

    contractor, other = login_as(world.a.contractor), login_as(rival_person)
    assert page(contractor, f"/orders/{order.id}")[0] == 200
    assert page(contractor, f"/quotes/{mine.id}")[0] == 200
    assert page(other, f"/quotes/{theirs.id}")[0] == 200
    for client, path in [(other, f"/orders/{order.id}"), (other, f"/quotes/{mine.id}"),
                         (contractor, f"/quotes/{theirs.id}"), (other, f"/orders/{order.id}/log"),
                         (other, f"/contractors/{winner.id}"), (contractor, f"/contractors/{rival.id}")]:
        assert page(client, path)[0] == 404, path

    before = written(app)
    status, _ = page(other, f"/milestones/{design.id}/done", "POST",
                     data={"done_note": "做完了", "photos": [jpeg()]}, content_type="multipart/form-data")
    assert status == 404
    status, _ = page(other, f"/quotes/{mine.id}", "POST", data={"amount": "1", "quote_scope": "改价"})
    assert status == 404
    db.session.expire_all()
    assert written(app) == before
    assert db.session.get(Quote, mine.id).amount_fen == 9_000_00


def test_a_shop_owner_sees_the_orders_of_its_own_shops_projects_only(app, world, works, cast):
    """Two shops of one alliance, each with an order: each owner opens its own, and the neighbour's is not there."""
    own = contracted_order(works, title="咖啡馆新店招")
    next_door = contracted_order(works, project=funded(works, shop=world.a.other_shop, owner=cast.neighbour,
                                                       title="花店灯箱"))
    owner, neighbour = login_as(world.a.owner), login_as(cast.neighbour)
    assert [page(owner, f"/orders/{own.id}")[0], page(neighbour, f"/orders/{next_door.id}")[0]] == [200, 200]
    assert [page(owner, f"/orders/{next_door.id}")[0], page(neighbour, f"/orders/{own.id}")[0]] == [404, 404]
    assert page(neighbour, f"/quotes/{own.quote_id}")[0] == 404


def test_another_alliances_works_answer_like_made_up_ids(app, world, works):
    """Everyone of the other street gets, for this alliance's order, quote, milestone, punch item, change order and
    contractor, exactly the page a made-up id gets; their forms change nothing."""
    order = contracted_order(works)
    design = milestone(order, MilestoneKind.DESIGN)
    orders.mark_done(world.a.contractor, design, "设计定稿", photos(1))
    punch = orders.raise_punch(world.a.lead, order, "缝隙", photos(1))
    change = orders.propose_change(world.a.contractor, order, 100_00, "加装保险绳")
    pages = {"/orders/{}": order.id, "/quotes/{}": order.quote_id, "/orders/{}/log": order.id,
             "/contractors/{}": order.contractor_id}
    posts = {"/milestones/{}/accept": design.id, "/punch/{}/verify": punch.id, "/changes/{}/reject": change.id,
             "/orders/{}/punch": order.id, "/milestones/{}/send-back": design.id}
    clients = {role: login_as(getattr(world.b, role)) for role in ("lead", "treasurer", "owner", "officer",
                                                                    "contractor")}

    before = written(app)
    differences = []  # (who, where, what they got) for every page that tells a real id from a made-up one
    for role, client in clients.items():
        for path, real in pages.items():
            got = page(client, path.format(real))
            if got[0] != 404 or got != page(client, path.format(MADE_UP)):
                differences.append((role, path, got[0]))
        for path, real in posts.items():
            got = page(client, path.format(real), "POST", data={"reason": "看看", "description": "看看"})
            if got[0] != 404 or got != page(client, path.format(MADE_UP), "POST", data={"reason": "看看"}):
                differences.append((role, path, got[0]))
    assert differences == []
    db.session.expire_all()
    assert written(app) == before
    assert db.session.get(Milestone, design.id).state == MilestoneState.DONE
