"""The shop register's rules: who may add, change, deactivate shops and remove members, and what they may enter."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Membership, Role
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.shops import services
from merchant_alliance.shops.models import Shop
from tests.factories import user_with_role
from tests.shops.helpers import snapshot

VALID = {
    "name": "梧桐咖啡",
    "house_number": "18",
    "facade_width_m": "6.5",
    "business_type": "餐饮",
    "contact_phone": "138 0013 8000",
    "licence_number": "91310106ma1fl5xx7k",
}


@pytest.fixture
def world(world):
    """The two-street world, with messages in English so the tests can read them."""
    with force_locale("en"):
        yield world




def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- adding shops ------------------------------------------------------------------------------


def test_lead_adds_a_shop_and_the_values_are_normalised(world):
    shop = services.create_shop(world.a.lead, world.a.alliance, VALID)

    db.session.expire_all()
    stored = db.session.get(Shop, shop.id)
    assert stored.alliance_id == world.a.alliance.id
    assert stored.name == "梧桐咖啡"
    assert stored.house_number == "18"
    assert stored.facade_width_m == Decimal("6.50")
    assert stored.contact_phone == "13800138000"
    assert stored.licence_number == "91310106MA1FL5XX7K"
    assert stored.active is True
    assert stored.address == "愚园路18号"
    [event] = events("shop_created")
    assert (event.actor_id, event.object_id, event.alliance_id) == (world.a.lead.id, shop.id, world.a.alliance.id)
    assert event.street_id == world.a.street.id
    assert event.details["name"] == "梧桐咖啡"


@pytest.mark.parametrize("written", ["18号", " 18 ", "18 号"])
def test_house_number_is_kept_as_on_the_door_plate_without_号(no_db, written):
    data = services.clean_shop_fields({**VALID, "house_number": written})
    assert data.ok and data.values["house_number"] == "18"


@pytest.mark.parametrize("phone, kept", [
    ("+86 139-1234-5678", "13912345678"),
    ("0086 13912345678", "13912345678"),
    ("021-62481234", "021-62481234"),
    ("021 6248 1234", "02162481234"),
    ("62481234", "62481234"),
    ("", ""),
])
def test_mobile_and_landline_numbers_are_accepted(no_db, phone, kept):
    data = services.clean_shop_fields({**VALID, "contact_phone": phone})
    assert data.ok and data.values["contact_phone"] == kept


@pytest.mark.parametrize("width, kept", [("6.5", Decimal("6.50")), ("7米", Decimal("7.00")), ("3.25m", Decimal("3.25")),
                                         ("", None), (None, None), ("200", Decimal("200.00"))])
def test_facade_width_is_kept_in_metres_to_the_centimetre(no_db, width, kept):
    data = services.clean_shop_fields({**VALID, "facade_width_m": width})
    assert data.ok and data.values["facade_width_m"] == kept


WIDTH_MESSAGE = "The facade width must be a number of metres between 0 and 200."
LICENCE_MESSAGE = "The business licence number must be 15 to 18 letters or digits."
WRONG_VALUES = [
    ("name", "", "The shop name is missing."),
    ("name", "   ", "The shop name is missing."),
    ("name", "店" * 101, "The shop name is longer than 100 characters."),
    ("house_number", "", "The house number is missing."),
    ("house_number", "号", "The house number is missing."),
    ("house_number", "1" * 31, "The house number is longer than 30 characters."),
    ("contact_phone", "12345", "12345 is not a valid phone number."),
    ("contact_phone", "1381234567x", "1381234567x is not a valid phone number."),
    ("facade_width_m", "-1", WIDTH_MESSAGE),
    ("facade_width_m", "0", WIDTH_MESSAGE),
    ("facade_width_m", "200.01", WIDTH_MESSAGE),
    ("facade_width_m", "abc", WIDTH_MESSAGE),
    ("facade_width_m", "1e9", WIDTH_MESSAGE),
    ("facade_width_m", "NaN", WIDTH_MESSAGE),
    ("facade_width_m", "Infinity", WIDTH_MESSAGE),
    ("licence_number", "ABC123", LICENCE_MESSAGE),
    ("licence_number", "91310106-MA1FL5XX", LICENCE_MESSAGE),
    ("business_type", "餐" * 51, "The business type is longer than 50 characters."),
]


@pytest.mark.parametrize("field, value, message", WRONG_VALUES)
def test_a_wrong_value_gets_a_clear_message_on_its_field(no_db, field, value, message):
    data = services.clean_shop_fields({**VALID, field: value})
    assert data.errors == {field: message}


def test_a_shop_with_a_wrong_value_is_refused_and_nothing_is_written(world):
    taken = world.a.shop.house_number
    before = snapshot()
    for field, value, message in [*WRONG_VALUES,
                                  ("house_number", taken, f"Another shop already has house number {taken}."),
                                  ("house_number", f"{taken}号", f"Another shop already has house number {taken}.")]:
        with pytest.raises(DomainError) as refused:
            services.create_shop(world.a.lead, world.a.alliance, {**VALID, field: value})
        assert str(refused.value) == message, (field, value)
    assert snapshot() == before


def test_the_same_house_number_in_another_alliance_is_fine(world):
    services.create_shop(world.a.lead, world.a.alliance, VALID)
    shop = services.create_shop(world.admin, world.b.alliance, VALID)  # the platform admin may add anywhere
    assert (shop.alliance_id, shop.house_number) == (world.b.alliance.id, "18")
    assert db.session.scalar(select(func.count(Shop.id)).where(Shop.house_number == "18")) == 2


def test_only_the_lead_changes_the_register(world):
    before = snapshot()
    for actor in (world.a.treasurer, world.a.officer, world.a.owner, world.a.contractor, world.b.lead, world.nobody):
        with pytest.raises(NotAllowed):
            services.create_shop(actor, world.a.alliance, VALID)
        with pytest.raises(NotAllowed):
            services.update_shop(actor, world.a.shop, {**VALID, "house_number": world.a.shop.house_number})
        with pytest.raises(NotAllowed):
            services.set_shop_active(actor, world.a.shop, False)
        with pytest.raises(NotAllowed):
            services.remove_shop_member(actor, world.a.shop, world.a.owner.memberships[0])
        with pytest.raises(NotAllowed):
            services.import_shops(actor, world.a.alliance, "店名,门牌号\n新店,1\n")
    assert snapshot() == before


# --- editing -----------------------------------------------------------------------------------


def shop_values(shop: Shop, **changes) -> dict:
    values = {name: getattr(shop, name) for name in services.SHOP_FIELDS}
    values.update(changes)
    return values


def test_lead_edits_a_shop_and_the_audit_event_lists_exactly_what_changed(world):
    shop = world.a.shop
    old_name, number = shop.name, shop.house_number
    services.update_shop(world.a.lead, shop, shop_values(shop, name="静安书店", facade_width_m="8",
                                                         contact_phone="13700001111", house_number=f"{number}号"))

    db.session.expire_all()
    stored = db.session.get(Shop, shop.id)
    assert (stored.name, stored.facade_width_m, stored.contact_phone) == ("静安书店", Decimal("8.00"), "13700001111")
    assert stored.house_number == number  # its own number, written with 号, is not "taken"
    [event] = events("shop_updated")
    assert (event.actor_id, event.object_id, event.alliance_id) == (world.a.lead.id, shop.id, world.a.alliance.id)
    assert event.details["changes"] == {
        "name": [old_name, "静安书店"],
        "facade_width_m": ["6.50", "8.00"],
        "contact_phone": ["13912345678", "13700001111"],
    }

    services.update_shop(world.a.lead, stored, shop_values(stored))  # saved again unchanged
    assert len(events("shop_updated")) == 1


def test_a_wrong_edit_is_refused_and_nothing_changes(world):
    shop, neighbour = world.a.shop, world.a.other_shop
    before = snapshot()
    with pytest.raises(DomainError, match=f"Another shop already has house number {neighbour.house_number}."):
        services.update_shop(world.a.lead, shop, shop_values(shop, name="新名字", house_number=neighbour.house_number))
    with pytest.raises(DomainError, match="facade width"):
        services.update_shop(world.a.lead, shop, shop_values(shop, name="新名字", facade_width_m="-1"))
    assert snapshot() == before


# --- deactivating ------------------------------------------------------------------------------


def test_lead_deactivates_and_reactivates_a_shop_and_each_is_audited(world):
    shop = world.a.shop
    services.set_shop_active(world.a.lead, shop, False)
    assert db.session.get(Shop, shop.id).active is False
    services.set_shop_active(world.a.lead, shop, False)  # a second click changes nothing
    services.set_shop_active(world.a.lead, shop, True)
    assert db.session.get(Shop, shop.id).active is True

    assert [e.object_id for e in events("shop_deactivated")] == [shop.id]
    assert [e.object_id for e in events("shop_reactivated")] == [shop.id]


# --- members -----------------------------------------------------------------------------------


def test_lead_removes_the_owner_from_a_shop_and_the_account_stays(world):
    owner = world.a.owner
    user_with_role(Role.SHOP_OWNER, shop=world.a.other_shop)
    [(membership, member)] = services.shop_members(world.a.shop)  # the other shop's owner is not listed
    assert (membership.role, member.id) == (Role.SHOP_OWNER, owner.id)

    services.remove_shop_member(world.a.lead, world.a.shop, membership)

    db.session.expire_all()
    assert services.shop_members(world.a.shop) == []
    assert db.session.scalars(select(Membership).where(Membership.user_id == owner.id)).all() == []
    assert owner.name  # the account itself is kept
    [event] = events("shop_member_removed")
    assert (event.object_id, event.details["user_id"]) == (world.a.shop.id, owner.id)


def test_a_membership_of_another_shop_cannot_be_removed_through_this_one(world):
    second_owner = user_with_role(Role.SHOP_OWNER, shop=world.a.other_shop)
    before = snapshot()
    with pytest.raises(DomainError, match="not a member of this shop"):
        services.remove_shop_member(world.a.lead, world.a.shop, second_owner.memberships[0])
    with pytest.raises(DomainError, match="not a member of this shop"):
        services.remove_shop_member(world.a.lead, world.a.shop, world.a.treasurer.memberships[0])
    assert snapshot() == before
