"""Pledges: a shop's promise to pay by a date. Payments that name a pledge settle it; what is late shows as
arrears, bucketed by how late it is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import pledges, services
from merchant_alliance.funds.models import EntryKind, Fund, Pledge
from merchant_alliance.money import MAX_FEN
from tests.fixtures.funds import approved_project, entry, key
from tests.funds.test_budgets import books
from tests.helpers import login_as

pytestmark = pytest.mark.usefixtures("in_request")


def in_days(days: int):
    return pledges.today() + timedelta(days=days)


def row(pledge: Pledge):
    """The pledge as the lists show it: with what has been paid on it."""
    db.session.expire_all()
    return db.session.execute(pledges.pledge_rows(pledge.fund_id).where(Pledge.id == pledge.id)).one()


def pay(treasurer, fund: Fund, pledge: Pledge, fen: int, **kwargs):
    return entry(fund, EntryKind.CONTRIBUTION, fen, by=treasurer, pledge=pledge, **kwargs)


def test_an_owner_pledges_for_their_own_shop_and_staff_for_any_shop(app, world, cast, fund):
    own = pledges.create_pledge(cast.owner, fund, world.a.shop, 3_000_00, in_days(30), note="  分两次付  ")
    assert (own.shop_id, own.amount_fen, own.due_on, own.note, own.created_by_id) == (
        world.a.shop.id, 3_000_00, in_days(30), "分两次付", cast.owner.id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "fund.pledge"))
    assert (event.actor_id, event.alliance_id, event.details["amount_fen"]) == (cast.owner.id, fund.alliance_id,
                                                                                3_000_00)
    # Due today is not yet late; the alliance's staff may record a pledge on a shop's behalf.
    pledges.create_pledge(cast.neighbour, fund, world.a.other_shop, 100_00, in_days(0))
    pledges.create_pledge(cast.treasurer, fund, world.a.shop, 200_00, in_days(1))
    pledges.create_pledge(cast.lead, fund, world.a.other_shop, 300_00, in_days(1))

    before = books(app)
    for who, shop in [("owner", world.a.other_shop), ("neighbour", world.a.shop), ("officer", world.a.shop),
                      ("contractor", world.a.shop), ("admin", world.a.shop), ("lead_next_door", world.a.shop),
                      ("lead_elsewhere", world.a.shop), ("owner_elsewhere", world.a.shop), ("nobody", world.a.shop)]:
        with pytest.raises(NotAllowed):
            pledges.create_pledge(getattr(cast, who), fund, shop, 100_00, in_days(10))
        assert books(app) == before, who


@pytest.mark.parametrize(("case", "message"), [
    ("due-yesterday", "cannot be in the past"),
    ("no-due-date", "Give the date"),
    ("zero", "more than zero"),
    ("negative", "more than zero"),
    ("too-much", "more than zero"),
    ("half-a-fen", "more than zero"),
    ("another-shops-project", "not this shop's"),
    ("another-alliances-fund", "not in this alliance"),
])
def test_impossible_pledges_are_refused_and_nothing_is_written(app, world, cast, fund, case, message):
    neighbours_project = approved_project(cast.neighbour, world.a.other_shop) if case == "another-shops-project" \
        else None
    other_fund = services.default_fund(world.b.alliance)
    db.session.commit()
    before = books(app)
    changes = {
        "due-yesterday": {"due_on": in_days(-1)}, "no-due-date": {"due_on": None},
        "zero": {"amount_fen": 0}, "negative": {"amount_fen": -100}, "too-much": {"amount_fen": MAX_FEN + 1},
        "half-a-fen": {"amount_fen": 12.5}, "another-shops-project": {"project": neighbours_project},
        "another-alliances-fund": {"fund": other_fund},
    }[case]
    values = {"fund": fund, "amount_fen": 1_000_00, "due_on": in_days(10), "project": None} | changes
    with pytest.raises(DomainError, match=message):
        pledges.create_pledge(cast.owner, values["fund"], world.a.shop, values["amount_fen"], values["due_on"],
                              project=values["project"])
    assert books(app) == before


def test_payments_naming_the_pledge_settle_it_and_a_reversed_payment_unsettles_it(app, world, cast, fund):
    pledge = pledges.create_pledge(cast.owner, fund, world.a.shop, 3_000_00, in_days(30))
    assert (row(pledge).paid_fen, pledges.pledge_status(row(pledge))) == (0, "open")

    first = pay(cast.treasurer, fund, pledge, 1_000_00)
    assert first.shop_id == world.a.shop.id  # the pledge names the shop
    assert (row(pledge).paid_fen, pledges.pledge_status(row(pledge))) == (1_000_00, "open")
    second = pay(cast.treasurer, fund, pledge, 2_000_00)
    assert (row(pledge).paid_fen, pledges.pledge_status(row(pledge))) == (3_000_00, "settled")
    assert pledges.open_pledges(fund.id) == []

    services.reverse_entry(cast.treasurer, second, "转账被退回", idempotency_key=key())
    assert (row(pledge).paid_fen, pledges.pledge_status(row(pledge))) == (1_000_00, "open")
    assert [p.id for p in pledges.open_pledges(fund.id)] == [pledge.id]
    assert pledges.arrears(fund.id, on=in_days(31))[0].outstanding_fen == 2_000_00

    # The shop's money page lists its own payments and their reversal, and nobody else's.
    pay(cast.treasurer, fund, pledges.create_pledge(cast.neighbour, fund, world.a.other_shop, 50_00, in_days(5)),
        50_00)
    amounts = [r.amount_fen for r in db.session.execute(pledges.shop_payments(fund.id, world.a.shop.id))]
    assert sorted(amounts) == [-2_000_00, 1_000_00, 2_000_00]

    # A payment settles only an open pledge of the same fund, from the shop that pledged.
    other_fund = services.default_fund(world.b.alliance)
    db.session.commit()
    before = books(app)
    with pytest.raises(DomainError, match="shop that pledged"):
        pay(cast.treasurer, fund, pledge, 100_00, shop=world.a.other_shop)
    with pytest.raises(DomainError, match="shop that pledged"):
        services.record_entry(cast.treasurer, fund, services.EntryDetails(EntryKind.DONATION, 100_00, pledge=pledge),
                              idempotency_key=key())
    with pytest.raises(DomainError, match="not open in this fund"):
        pay(world.b.treasurer, other_fund, pledge, 100_00)
    assert books(app) == before
    pledges.cancel_pledge(cast.lead, pledge, "店铺歇业")
    before = books(app)
    with pytest.raises(DomainError, match="not open"):
        pay(cast.treasurer, fund, pledge, 100_00)
    assert books(app) == before
    assert row(pledge).paid_fen == 1_000_00  # what was paid stays paid


def test_arrears_count_the_days_overdue_in_buckets_of_thirty_sixty_and_ninety(world, cast, fund):
    # Seven pledges, each due a different number of days before the day we look (`on`).
    on = in_days(200)
    overdue = {1: 1_00, 30: 2_00, 31: 4_00, 60: 8_00, 61: 16_00, 90: 32_00, 91: 64_00}
    made = {days: pledges.create_pledge(cast.treasurer, fund, world.a.shop, amount, on - timedelta(days=days))
            for days, amount in overdue.items()}
    pledges.create_pledge(cast.owner, fund, world.a.shop, 999_00, on)  # due that very day: not late yet

    items = pledges.arrears(fund.id, on=on)
    assert [(a.days_overdue, a.bucket, a.outstanding_fen) for a in items] == [
        (91, 3, 64_00), (90, 2, 32_00), (61, 2, 16_00), (60, 1, 8_00), (31, 1, 4_00), (30, 0, 2_00), (1, 0, 1_00)]
    assert pledges.arrears_by_bucket(items) == [3_00, 12_00, 48_00, 64_00]
    assert items[0].shop_name == world.a.shop.name

    # A partial payment leaves the rest overdue; a full payment or a cancellation leaves no arrears.
    pay(cast.treasurer, fund, made[91], 60_00)
    pay(cast.treasurer, fund, made[60], 8_00)
    pledges.cancel_pledge(cast.treasurer, made[1], "店主已搬走")
    items = pledges.arrears(fund.id, on=on)
    assert [(a.days_overdue, a.outstanding_fen) for a in items] == [(91, 4_00), (90, 32_00), (61, 16_00),
                                                                     (31, 4_00), (30, 2_00)]
    assert pledges.arrears_by_bucket(items) == [2_00, 4_00, 48_00, 4_00]
    # Earlier, nothing was late; a day later, everything is a day later, and the pledge due that day is late too.
    assert pledges.arrears(fund.id, on=in_days(0)) == []
    assert [a.days_overdue for a in pledges.arrears(fund.id, on=on + timedelta(days=1))] == [92, 91, 62, 32, 31, 1]


def test_only_the_alliances_staff_cancel_a_pledge_with_a_reason_once(app, world, cast, fund):
    pledge = pledges.create_pledge(cast.owner, fund, world.a.shop, 500_00, in_days(3))
    before = books(app)
    for who in ("owner", "co_owner", "officer", "contractor", "admin", "lead_elsewhere"):
        with pytest.raises(NotAllowed):
            pledges.cancel_pledge(getattr(cast, who), pledge, "不付了")
        assert books(app) == before, who
    for reason in ("", "   ", None):
        with pytest.raises(DomainError, match="reason"):
            pledges.cancel_pledge(cast.lead, pledge, reason)
        assert books(app) == before

    # Past its due date it is overdue (counted in Shanghai days); cancelled, it is no longer owed.
    db.session.execute(update(Pledge).where(Pledge.id == pledge.id).values(due_on=in_days(-3)))
    db.session.commit()
    assert pledges.pledge_status(row(pledge)) == "overdue"
    assert [a.days_overdue for a in pledges.arrears(fund.id)] == [3]
    pledges.cancel_pledge(cast.treasurer, pledge, "店铺歇业")
    assert pledges.pledge_status(row(pledge)) == "cancelled"
    assert pledges.arrears(fund.id) == []
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "fund.pledge_cancelled"))
    assert (event.actor_id, event.details["reason"]) == (cast.treasurer.id, "店铺歇业")
    before = books(app)
    with pytest.raises(DomainError, match="already been cancelled"):
        pledges.cancel_pledge(cast.lead, pledge, "again")
    assert books(app) == before


def test_the_pledge_list_shows_what_is_still_owed_and_everything_on_request(world, cast, fund):
    owing = pledges.create_pledge(cast.owner, fund, world.a.shop, 300_00, pledges.today(), note="还欠着")
    settled = pledges.create_pledge(cast.owner, fund, world.a.shop, 200_00, pledges.today(), note="已付清")
    services.record_entry(cast.treasurer, fund, services.EntryDetails(EntryKind.CONTRIBUTION, 200_00, pledge=settled),
                          idempotency_key=key())
    treasurer = login_as(cast.treasurer)
    url = f"/alliances/{world.a.alliance.id}/fund/pledges"
    still_owed = treasurer.get(url).get_data(as_text=True)
    assert owing.note in still_owed and settled.note not in still_owed
    everything = treasurer.get(url + "?show=all").get_data(as_text=True)
    assert owing.note in everything and settled.note in everything


def test_the_same_pledge_form_sent_twice_records_one_pledge(world, cast, fund):
    first = pledges.create_pledge(cast.owner, fund, world.a.shop, 300_00, pledges.today(), idempotency_key="k" * 32)
    again = pledges.create_pledge(cast.owner, fund, world.a.shop, 300_00, pledges.today(), idempotency_key="k" * 32)
    assert first.id == again.id
    assert db.session.scalar(select(func.count(Pledge.id))) == 1
