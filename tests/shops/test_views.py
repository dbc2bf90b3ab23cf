"""The shop register pages, as the lead, the treasurer, the officer, shop owners and outsiders use them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Alliance, Membership, Role, User
from merchant_alliance.accounts.services import grant_role
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop
from tests.factories import ShopFactory, user_with_role
from tests.helpers import counted_queries, login_as
from tests.shops.helpers import snapshot

FORM = {
    "name": "梧桐咖啡",
    "house_number": "18",
    "facade_width_m": "6.5",
    "business_type": "餐饮",
    "contact_phone": "13800138000",
    "licence_number": "91310106MA1FL5XX7K",
}


@pytest.fixture
def visitor(app):
    """`visitor(user)`: a browser of the user's own, logged in, reading English.

    Each request gets a fresh `g` (as in production), so several people can take turns in one test.
    """

    def open_as(user=None):
        return login_as(user)

    return open_as


def link_to(shop: Shop) -> str:
    return f'href="/shops/{shop.id}"'


def register_url(side) -> str:
    return f"/alliances/{side.alliance.id}/shops"


def stored(shop_id: int) -> Shop:
    db.session.rollback()
    return db.session.get(Shop, shop_id)


# --- who sees what -----------------------------------------------------------------------------


def test_alliance_staff_the_street_officer_and_the_admin_see_the_register(visitor, world):
    for who in (world.a.lead, world.a.treasurer, world.a.officer, world.admin):
        response = visitor(who).get(register_url(world.a))
        page = response.get_data(as_text=True)
        assert response.status_code == 200, who
        assert link_to(world.a.shop) in page and link_to(world.a.other_shop) in page
        assert link_to(world.b.shop) not in page
        assert "2 shops" in page
        may_manage = who in (world.a.lead, world.admin)
        assert (f'href="/alliances/{world.a.alliance.id}/shops/new"' in page) is may_manage, who
        assert (f'href="/alliances/{world.a.alliance.id}/shops/import"' in page) is may_manage, who


def test_outsiders_and_anonymous_visitors_find_neither_the_register_nor_its_shops(visitor, world):
    shop = world.a.shop
    membership_id = world.a.owner.memberships[0].id
    before = snapshot()
    for outsider in (world.b.lead, world.b.treasurer, world.b.officer, world.b.owner, world.nobody):
        client = visitor(outsider)
        for url in (register_url(world.a), f"{register_url(world.a)}/new", f"{register_url(world.a)}/import",
                    f"/shops/{shop.id}", f"/shops/{shop.id}/edit"):
            assert client.get(url).status_code == 404, (outsider, url)
        assert client.post(f"{register_url(world.a)}/new", data=FORM).status_code == 404
        assert client.post(f"/shops/{shop.id}/edit", data=FORM).status_code == 404
        assert client.post(f"/shops/{shop.id}/active", data={"active": "0"}).status_code == 404
        assert client.post(f"/shops/{shop.id}/members/{membership_id}/remove").status_code == 404
    for url in (register_url(world.a), f"/shops/{shop.id}"):
        response = visitor().get(url)  # not logged in
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert snapshot() == before


def test_a_shop_owner_sees_only_their_own_shop_and_a_contractor_no_shop_at_all(visitor, world):
    shop = world.a.shop
    owner = visitor(world.a.owner)
    before = snapshot()
    page = owner.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert shop.name in page
    assert world.a.owner.name in page  # the members list
    assert f'href="/shops/{shop.id}/edit"' not in page
    assert "Deactivate" not in page
    for other in (world.a.other_shop, world.b.shop):
        assert owner.get(f"/shops/{other.id}").status_code == 404
    # Owners and contractors may see the alliance, so its register is refused (403), not hidden (404).
    assert owner.get(register_url(world.a)).status_code == 403
    assert owner.get(f"/shops/{shop.id}/edit").status_code == 403
    assert owner.post(f"/shops/{shop.id}/edit", data={**FORM, "house_number": shop.house_number}).status_code == 403
    assert owner.post(f"/shops/{shop.id}/active", data={"active": "0"}).status_code == 403

    contractor = visitor(world.a.contractor)
    assert contractor.get(register_url(world.a)).status_code == 403
    assert contractor.get(f"/shops/{shop.id}").status_code == 404
    assert snapshot() == before


def test_treasurer_and_officer_may_look_but_not_change_the_register(visitor, world):
    shop = world.a.shop
    membership_id = world.a.owner.memberships[0].id
    before = snapshot()
    for who in (world.a.treasurer, world.a.officer):
        client = visitor(who)
        assert client.get(f"/shops/{shop.id}").status_code == 200
        assert client.get(f"{register_url(world.a)}/new").status_code == 403
        assert client.post(f"{register_url(world.a)}/new", data=FORM).status_code == 403
        assert client.get(f"/shops/{shop.id}/edit").status_code == 403
        assert client.post(f"/shops/{shop.id}/edit", data={**FORM, "house_number": shop.house_number}
                           ).status_code == 403
        assert client.post(f"/shops/{shop.id}/active", data={"active": "0"}).status_code == 403
        assert client.post(f"/shops/{shop.id}/members/{membership_id}/remove").status_code == 403
        assert client.get(f"{register_url(world.a)}/import").status_code == 403
    assert snapshot() == before


# --- adding and editing ------------------------------------------------------------------------


def test_lead_adds_a_shop_through_the_form(visitor, world):
    lead = visitor(world.a.lead)
    form_page = lead.get(f"{register_url(world.a)}/new").get_data(as_text=True)
    for name in FORM:
        assert f'name="{name}"' in form_page

    response = lead.post(f"{register_url(world.a)}/new", data=FORM)

    shop = db.session.scalar(select(Shop).where(Shop.alliance_id == world.a.alliance.id, Shop.house_number == "18"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/shops/{shop.id}"
    assert (shop.name, shop.facade_width_m, shop.contact_phone) == ("梧桐咖啡", Decimal("6.50"), "13800138000")
    page = lead.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert "Shop 梧桐咖啡 added to the register." in page
    assert "愚园路18号" in page

    # Another alliance's house number is no obstacle.
    number = world.b.shop.house_number
    assert lead.post(f"{register_url(world.a)}/new", data={**FORM, "house_number": number}).status_code == 302
    assert db.session.scalar(select(func.count(Shop.id)).where(Shop.house_number == number)) == 2


TAKEN = object()  # the house number of a shop the alliance already has


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "", "This field is required."),
    ("house_number", "", "This field is required."),
    ("house_number", TAKEN, "Another shop already has house number {taken}."),
    ("contact_phone", "12345", "12345 is not a valid phone number."),
    ("facade_width_m", "-1", "Number must be between 0.1 and 200."),
    ("facade_width_m", "abc", "Not a valid decimal value."),
    ("facade_width_m", "1e9", "Number must be between 0.1 and 200."),
    ("licence_number", "ABC123", "The business licence number must be 15 to 18 letters or digits."),
], ids=["no-name", "no-house-number", "taken-house-number", "bad-phone", "negative-width", "width-not-a-number",
        "huge-width", "bad-licence"])
def test_a_wrong_value_in_the_form_shows_a_clear_message_and_saves_nothing(visitor, world, field, value, message):
    lead = visitor(world.a.lead)
    taken = world.a.shop.house_number
    value = taken if value is TAKEN else value
    before = snapshot()
    response = lead.post(f"{register_url(world.a)}/new", data={**FORM, field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message.format(taken=taken) in page
    if field != "name":
        assert 'value="梧桐咖啡"' in page  # what the lead typed is still there to correct
    assert snapshot() == before


def test_lead_edits_a_shop_and_the_audit_log_records_the_changed_fields(visitor, world):
    lead = visitor(world.a.lead)
    shop_id, old_name, number = world.a.shop.id, world.a.shop.name, world.a.shop.house_number
    form_page = lead.get(f"/shops/{shop_id}/edit").get_data(as_text=True)
    for value in (old_name, number, "6.50", "13912345678"):
        assert f'value="{value}"' in form_page

    response = lead.post(f"/shops/{shop_id}/edit", data={**FORM, "house_number": number, "name": "静安书店",
                                                         "facade_width_m": "6.50", "contact_phone": "13912345678",
                                                         "licence_number": "", "business_type": "文化"})
    assert response.status_code == 302
    shop = stored(shop_id)
    assert (shop.name, shop.business_type) == ("静安书店", "文化")
    change = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "shop_updated"))
    assert change.actor_id == world.a.lead.id
    assert change.details["changes"] == {"name": [old_name, "静安书店"], "business_type": ["餐饮", "文化"]}
    assert "The shop&#39;s details have been saved." in lead.get(f"/shops/{shop_id}").get_data(as_text=True)


def test_editing_to_a_neighbours_house_number_is_refused_and_nothing_changes(visitor, world):
    lead = visitor(world.a.lead)
    shop, neighbour = world.a.shop, world.a.other_shop
    before = snapshot()
    response = lead.post(f"/shops/{shop.id}/edit", data={**FORM, "house_number": neighbour.house_number})
    assert response.status_code == 200
    assert f"Another shop already has house number {neighbour.house_number}." in response.get_data(as_text=True)
    assert snapshot() == before


# --- deactivating, the filter and the search -----------------------------------------------------


def test_lead_deactivates_a_shop_which_then_shows_only_under_deactivated(visitor, world):
    lead = visitor(world.a.lead)
    gone, stays = world.a.shop, world.a.other_shop
    response = lead.post(f"/shops/{gone.id}/active", data={"active": "0"})
    assert response.status_code == 302
    assert stored(gone.id).active is False

    shop_page = lead.get(f"/shops/{gone.id}").get_data(as_text=True)
    assert "The shop has been deactivated." in shop_page
    assert "Reactivate" in shop_page
    active = lead.get(register_url(world.a)).get_data(as_text=True)
    assert link_to(gone) not in active and link_to(stays) in active
    inactive = lead.get(register_url(world.a), query_string={"show": "inactive"}).get_data(as_text=True)
    assert link_to(gone) in inactive and link_to(stays) not in inactive
    everything = lead.get(register_url(world.a), query_string={"show": "all"}).get_data(as_text=True)
    assert link_to(gone) in everything and link_to(stays) in everything

    lead.post(f"/shops/{gone.id}/active", data={"active": "1"})
    assert stored(gone.id).active is True
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == gone.id)
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["shop_deactivated", "shop_reactivated"]


def test_register_search_finds_shops_by_name_or_house_number_in_road_order(visitor, world):
    alliance = world.a.alliance
    cafe = ShopFactory(alliance=alliance, name="梧桐咖啡", house_number="18-2")
    noodles = ShopFactory(alliance=alliance, name="弄堂面馆", house_number="9")
    closed_cafe = ShopFactory(alliance=alliance, name="晨光咖啡", house_number="99-1", active=False)
    lead = visitor(world.a.lead)

    def found(**query) -> list[int]:
        page = lead.get(register_url(world.a), query_string=query).get_data(as_text=True)
        shops = [s for s in (cafe, noodles, closed_cafe) if link_to(s) in page]
        return [s.id for s in sorted(shops, key=lambda s: page.index(link_to(s)))]

    assert found(q="咖啡") == [cafe.id]
    assert found(q="咖啡", show="all") == [cafe.id, closed_cafe.id]
    assert found(q="18-2") == [cafe.id]
    assert found(q="  面馆 ") == [noodles.id]
    assert found(show="all") == [noodles.id, cafe.id, closed_cafe.id]  # 9 before 18, as along the road
    assert found(q="书店") == []
    assert "No shops match." in lead.get(register_url(world.a), query_string={"q": "书店"}).get_data(as_text=True)


# --- members -----------------------------------------------------------------------------------


def test_lead_removes_the_shop_owner_who_then_loses_access(visitor, world):
    shop, owner = world.a.shop, world.a.owner
    membership_id = owner.memberships[0].id
    lead = visitor(world.a.lead)
    response = lead.post(f"/shops/{shop.id}/members/{membership_id}/remove")
    assert response.status_code == 302
    assert db.session.get(Membership, membership_id) is None
    assert "The person no longer has access to this shop." in lead.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "shop_member_removed")).object_id == shop.id
    assert visitor(owner).get(f"/shops/{shop.id}").status_code == 404

    # A member of another shop cannot be removed through this shop's page.
    other_owner = user_with_role(Role.SHOP_OWNER, shop=world.a.other_shop)
    other_membership_id = other_owner.memberships[0].id
    before = snapshot()
    response = lead.post(f"/shops/{shop.id}/members/{other_membership_id}/remove")
    assert "This person is not a member of this shop." in lead.get(response.headers["Location"]).get_data(
        as_text=True)
    assert snapshot() == before


# --- queries -----------------------------------------------------------------------------------




def test_the_register_page_issues_the_same_number_of_queries_for_5_or_60_shops(visitor, world):
    alliance_id = world.a.alliance.id
    owner_id = world.a.owner.id
    url = register_url(world.a)
    lead = visitor(world.a.lead)

    def add_shops(n: int) -> None:
        alliance, owner = db.session.get(Alliance, alliance_id), db.session.get(User, owner_id)
        shops = [Shop(alliance=alliance, name=f"新店{i}", house_number=f"{n}-{i}") for i in range(n)]
        db.session.add_all([*shops, Shop(alliance=alliance, name="旧店", house_number=f"{n}-x", active=False)])
        db.session.flush()
        for shop in shops:  # every shop has a member, so a per-row lookup would show
            grant_role(owner, Role.SHOP_OWNER, shop=shop)
        db.session.commit()

    def queries_for_register(expected_total: int) -> int:
        db.session.remove()  # the request loads everything itself, as in a fresh process
        with counted_queries() as statements:
            page = lead.get(url, query_string={"show": "all"}).get_data(as_text=True)
        assert f"{expected_total} shops" in page
        return len(statements)

    add_shops(2)
    few = queries_for_register(5)
    add_shops(54)
    many = queries_for_register(60)
    assert few == many


def test_the_shop_page_opens_with_what_its_owner_comes_for(visitor, world):
    """An owner (or a lead) finds "propose a renovation" and the shop's projects at the top of the shop page,
    before its register details; the treasurer, who may look but not propose, gets no such buttons."""
    shop = world.a.shop
    for person in (world.a.owner, world.a.lead):
        page = visitor(person).get(f"/shops/{shop.id}").get_data(as_text=True)
        actions = page.index('data-testid="shop-actions"')
        assert actions < page.index("Register entry")
        assert page.index(f'href="/shops/{shop.id}/projects/new"', actions) < page.index("Register entry")
        assert 'href="#projects"' in page and 'id="projects"' in page
    assert 'data-testid="shop-actions"' not in visitor(world.a.treasurer).get(f"/shops/{shop.id}").get_data(
        as_text=True)
