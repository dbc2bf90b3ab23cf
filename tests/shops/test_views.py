"""The shop register pages, as the lead, the treasurer, the officer, shop owners and outsiders use them."""

from __future__ import annotations

from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from merchant_alliance.accounts.models import Alliance, Membership, Role
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop
from tests.factories import PASSWORD, ShopFactory, user_with_role

FORM = {
    "name": "梧桐咖啡",
    "house_number": "1018",
    "facade_width_m": "6.5",
    "business_type": "餐饮",
    "contact_phone": "13800138000",
    "licence_number": "91310106MA1FL5XX7K",
}


@pytest.fixture(autouse=True)
def english(isolated_requests, client):
    """Each request gets a fresh `g` (as in production) and pages in English, so the tests can read them."""
    client.set_cookie("lang", "en")


def client_for(app, user):
    """A browser of its own, logged in as `user`, reading English."""
    client = app.test_client()
    client.set_cookie("lang", "en")
    response = client.post("/login", data={"login": user.phone, "password": PASSWORD})
    assert response.status_code == 302, "login failed"
    return client


def link_to(shop: Shop) -> str:
    return f'href="/shops/{shop.id}"'


def register_url(side) -> str:
    return f"/alliances/{side.alliance.id}/shops"


def snapshot() -> tuple:
    """What a refused request must leave untouched: the shops, the memberships and the audit log."""
    db.session.rollback()
    shops = db.session.execute(
        select(Shop.id, Shop.alliance_id, Shop.name, Shop.house_number, Shop.facade_width_m, Shop.business_type,
               Shop.contact_phone, Shop.licence_number, Shop.active).order_by(Shop.id)
    ).all()
    memberships = db.session.execute(select(Membership.id, Membership.user_id, Membership.shop_id)).all()
    return shops, sorted(memberships), db.session.scalar(select(func.count(AuditEvent.id)))


def stored(shop_id: int) -> Shop:
    db.session.rollback()
    return db.session.get(Shop, shop_id)


# --- who sees what -----------------------------------------------------------------------------


def test_alliance_staff_and_the_street_officer_see_the_register(app, world):
    for who in ("lead", "treasurer", "officer"):
        response = client_for(app, getattr(world.a, who)).get(register_url(world.a))
        page = response.get_data(as_text=True)
        assert response.status_code == 200, who
        assert link_to(world.a.shop) in page and link_to(world.a.other_shop) in page
        assert link_to(world.b.shop) not in page
        assert "2 shops" in page
        can_manage = who == "lead"
        assert (f'href="/alliances/{world.a.alliance.id}/shops/new"' in page) is can_manage, who
        assert (f'href="/alliances/{world.a.alliance.id}/shops/import"' in page) is can_manage, who


def test_the_platform_admin_sees_and_manages_every_register(client, auth, world):
    auth.login(world.admin)
    page = client.get(register_url(world.b)).get_data(as_text=True)
    assert link_to(world.b.shop) in page
    assert f'href="/alliances/{world.b.alliance.id}/shops/new"' in page


def test_outsiders_find_neither_the_register_nor_its_shops(app, world):
    shop = world.a.shop
    urls = (register_url(world.a), f"{register_url(world.a)}/new", f"{register_url(world.a)}/import",
            f"/shops/{shop.id}", f"/shops/{shop.id}/edit")
    for outsider in (world.b.lead, world.b.treasurer, world.b.officer, world.b.owner, world.nobody):
        client = client_for(app, outsider)
        for url in urls:
            assert client.get(url).status_code == 404, (outsider, url)


def test_owners_and_contractors_of_the_alliance_may_not_open_the_register(app, world):
    # They may see the alliance itself, so authz answers 403 rather than pretending it does not exist.
    for member in (world.a.owner, world.a.contractor):
        response = client_for(app, member).get(register_url(world.a))
        assert response.status_code == 403
        assert link_to(world.a.other_shop) not in response.get_data(as_text=True)


def test_the_shop_owner_sees_their_own_shop_only_and_a_contractor_none(app, world):
    owner = client_for(app, world.a.owner)
    page = owner.get(f"/shops/{world.a.shop.id}").get_data(as_text=True)
    assert world.a.shop.name in page
    assert world.a.owner.name in page  # the members list
    assert f'href="/shops/{world.a.shop.id}/edit"' not in page
    assert "Deactivate" not in page
    for other in (world.a.other_shop, world.b.shop):
        assert owner.get(f"/shops/{other.id}").status_code == 404
    assert client_for(app, world.a.contractor).get(f"/shops/{world.a.shop.id}").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    for url in (register_url(world.a), f"/shops/{world.a.shop.id}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


# --- who may change what -----------------------------------------------------------------------


def test_treasurer_and_officer_may_look_but_not_change_the_register(app, world):
    shop = world.a.shop
    membership_id = world.a.owner.memberships[0].id
    before = snapshot()
    for who in (world.a.treasurer, world.a.officer):
        client = client_for(app, who)
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


def test_the_owner_may_not_edit_or_deactivate_their_own_shop(client, auth, world):
    auth.login(world.a.owner)
    shop = world.a.shop
    before = snapshot()
    assert client.get(f"/shops/{shop.id}/edit").status_code == 403
    assert client.post(f"/shops/{shop.id}/edit", data={**FORM, "house_number": shop.house_number}).status_code == 403
    assert client.post(f"/shops/{shop.id}/active", data={"active": "0"}).status_code == 403
    assert snapshot() == before


def test_another_alliances_lead_cannot_change_this_alliances_shops(client, auth, world):
    auth.login(world.b.lead)
    shop = world.a.shop
    membership_id = world.a.owner.memberships[0].id
    before = snapshot()
    assert client.post(f"{register_url(world.a)}/new", data=FORM).status_code == 404
    assert client.post(f"/shops/{shop.id}/edit", data=FORM).status_code == 404
    assert client.post(f"/shops/{shop.id}/active", data={"active": "0"}).status_code == 404
    assert client.post(f"/shops/{shop.id}/members/{membership_id}/remove").status_code == 404
    assert snapshot() == before


# --- adding and editing ------------------------------------------------------------------------


def test_lead_adds_a_shop_through_the_form(client, auth, world):
    auth.login(world.a.lead)
    form_page = client.get(f"{register_url(world.a)}/new").get_data(as_text=True)
    for name in FORM:
        assert f'name="{name}"' in form_page

    response = client.post(f"{register_url(world.a)}/new", data=FORM)

    shop = db.session.scalar(select(Shop).where(Shop.alliance_id == world.a.alliance.id, Shop.house_number == "1018"))
    assert shop is not None
    assert response.status_code == 302
    assert response.headers["Location"] == f"/shops/{shop.id}"
    assert (shop.name, shop.facade_width_m, shop.contact_phone) == ("梧桐咖啡", Decimal("6.50"), "13800138000")
    page = client.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert "Shop 梧桐咖啡 added to the register." in page
    assert "愚园路1018号" in page


def test_a_wrong_value_in_the_form_shows_a_clear_message_and_saves_nothing(client, auth, world):
    auth.login(world.a.lead)
    before = snapshot()
    for field, value, message in [
        ("name", "", "This field is required."),
        ("house_number", "", "This field is required."),
        ("contact_phone", "12345", "12345 is not a valid phone number."),
        ("facade_width_m", "-1", "Number must be between 0.1 and 200."),
        ("facade_width_m", "abc", "Not a valid decimal value."),
        ("facade_width_m", "1e9", "Number must be between 0.1 and 200."),
        ("licence_number", "ABC123", "The business licence number must be 15 to 18 letters or digits."),
    ]:
        response = client.post(f"{register_url(world.a)}/new", data={**FORM, field: value})
        page = response.get_data(as_text=True)
        assert response.status_code == 200, (field, value)
        assert message in page, (field, value)
        if field != "name":
            assert 'value="梧桐咖啡"' in page  # what the lead typed is still there to correct
    assert snapshot() == before


def test_a_house_number_already_on_the_register_is_refused_in_the_form(client, auth, world):
    auth.login(world.a.lead)
    taken = world.a.shop.house_number
    before = snapshot()
    page = client.post(f"{register_url(world.a)}/new", data={**FORM, "house_number": taken}).get_data(as_text=True)
    assert f"Another shop already has house number {taken}." in page
    assert snapshot() == before


def test_the_same_house_number_is_fine_in_another_alliance(client, auth, world):
    auth.login(world.a.lead)
    number = world.b.shop.house_number
    response = client.post(f"{register_url(world.a)}/new", data={**FORM, "house_number": number})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(Shop.id)).where(Shop.house_number == number)) == 2


def test_the_edit_form_shows_the_current_values(client, auth, world):
    auth.login(world.a.lead)
    shop = world.a.shop
    page = client.get(f"/shops/{shop.id}/edit").get_data(as_text=True)
    assert f'value="{shop.name}"' in page
    assert f'value="{shop.house_number}"' in page
    assert 'value="6.50"' in page
    assert 'value="13912345678"' in page


def test_lead_edits_a_shop_and_the_audit_log_records_the_changed_fields(client, auth, world):
    auth.login(world.a.lead)
    shop_id, old_name, number = world.a.shop.id, world.a.shop.name, world.a.shop.house_number
    response = client.post(f"/shops/{shop_id}/edit", data={**FORM, "house_number": number, "name": "静安书店",
                                                           "facade_width_m": "6.50", "contact_phone": "13912345678",
                                                           "licence_number": "", "business_type": "文化"})
    assert response.status_code == 302
    shop = stored(shop_id)
    assert (shop.name, shop.business_type) == ("静安书店", "文化")
    event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "shop_updated"))
    assert event_.actor_id == world.a.lead.id
    assert event_.details["changes"] == {"name": [old_name, "静安书店"], "business_type": ["餐饮", "文化"]}
    assert "The shop&#39;s details have been saved." in client.get(f"/shops/{shop_id}").get_data(as_text=True)


def test_editing_to_a_neighbours_house_number_is_refused_and_nothing_changes(client, auth, world):
    auth.login(world.a.lead)
    shop, neighbour = world.a.shop, world.a.other_shop
    before = snapshot()
    response = client.post(f"/shops/{shop.id}/edit", data={**FORM, "house_number": neighbour.house_number})
    assert response.status_code == 200
    assert f"Another shop already has house number {neighbour.house_number}." in response.get_data(as_text=True)
    assert snapshot() == before


# --- deactivating, the filter and the search -----------------------------------------------------


def test_lead_deactivates_a_shop_which_then_shows_only_under_deactivated(client, auth, world):
    auth.login(world.a.lead)
    gone, stays = world.a.shop, world.a.other_shop
    response = client.post(f"/shops/{gone.id}/active", data={"active": "0"})
    assert response.status_code == 302
    assert stored(gone.id).active is False

    shop_page = client.get(f"/shops/{gone.id}").get_data(as_text=True)
    assert "The shop has been deactivated." in shop_page
    assert "Reactivate" in shop_page
    active = client.get(register_url(world.a)).get_data(as_text=True)
    assert link_to(gone) not in active and link_to(stays) in active
    inactive = client.get(register_url(world.a), query_string={"show": "inactive"}).get_data(as_text=True)
    assert link_to(gone) in inactive and link_to(stays) not in inactive
    everything = client.get(register_url(world.a), query_string={"show": "all"}).get_data(as_text=True)
    assert link_to(gone) in everything and link_to(stays) in everything

    client.post(f"/shops/{gone.id}/active", data={"active": "1"})
    assert stored(gone.id).active is True
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == gone.id)
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["shop_deactivated", "shop_reactivated"]


def test_register_search_finds_shops_by_name_or_house_number(client, auth, world):
    alliance = world.a.alliance
    cafe = ShopFactory(alliance=alliance, name="梧桐咖啡", house_number="1018")
    noodles = ShopFactory(alliance=alliance, name="弄堂面馆", house_number="99")
    closed_cafe = ShopFactory(alliance=alliance, name="晨光咖啡", house_number="1200", active=False)
    auth.login(world.a.lead)

    def found(**query) -> set[int]:
        page = client.get(register_url(world.a), query_string=query).get_data(as_text=True)
        return {s.id for s in (cafe, noodles, closed_cafe, world.a.shop) if link_to(s) in page}

    assert found(q="咖啡") == {cafe.id}
    assert found(q="咖啡", show="all") == {cafe.id, closed_cafe.id}
    assert found(q="1018") == {cafe.id}
    assert found(q="  面馆 ") == {noodles.id}
    assert found(q="书店") == set()
    assert "No shops match." in client.get(register_url(world.a), query_string={"q": "书店"}).get_data(as_text=True)


def test_the_register_lists_house_numbers_in_road_order(client, auth, world):
    for number in ("1018", "99", "230"):
        ShopFactory(alliance=world.a.alliance, house_number=number, name=f"店{number}")
    auth.login(world.a.lead)
    page = client.get(register_url(world.a)).get_data(as_text=True)
    assert page.index("店99") < page.index("店230") < page.index("店1018")


# --- members -----------------------------------------------------------------------------------


def test_lead_removes_the_shop_owner_who_then_loses_access(client, auth, world):
    shop, owner = world.a.shop, world.a.owner
    membership_id = owner.memberships[0].id
    auth.login(world.a.lead)
    response = client.post(f"/shops/{shop.id}/members/{membership_id}/remove")
    assert response.status_code == 302
    assert db.session.get(Membership, membership_id) is None
    assert "The person no longer has access to this shop." in client.get(f"/shops/{shop.id}").get_data(as_text=True)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "shop_member_removed")).object_id == shop.id

    auth.logout()
    auth.login(owner)
    assert client.get(f"/shops/{shop.id}").status_code == 404


def test_a_member_of_another_shop_cannot_be_removed_through_this_shops_page(client, auth, world):
    other_owner = user_with_role(Role.SHOP_OWNER, shop=world.a.other_shop)
    membership_id = other_owner.memberships[0].id
    auth.login(world.a.lead)
    before = snapshot()
    response = client.post(f"/shops/{world.a.shop.id}/members/{membership_id}/remove")
    assert response.status_code == 302
    assert "This person is not a member of this shop." in client.get(response.headers["Location"]).get_data(
        as_text=True)
    assert snapshot() == before


# --- queries -----------------------------------------------------------------------------------


@contextmanager
def counted_queries():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def test_the_register_page_issues_the_same_number_of_queries_for_5_or_60_shops(app, client, auth, world):
    alliance_id = world.a.alliance.id
    url = register_url(world.a)

    def add_shops(n: int) -> None:
        alliance = db.session.get(Alliance, alliance_id)
        for shop in ShopFactory.create_batch(n, alliance=alliance):
            user_with_role(Role.SHOP_OWNER, shop=shop)
        ShopFactory(alliance=alliance, active=False)

    def queries_for_register(expected_total: int) -> int:
        db.session.remove()  # the request loads everything itself, as in a fresh process
        with counted_queries() as statements:
            page = client.get(url, query_string={"show": "all"}).get_data(as_text=True)
        assert f"{expected_total} shops" in page
        return len(statements)

    auth.login(world.a.lead)
    add_shops(2)
    few = queries_for_register(5)
    add_shops(54)
    many = queries_for_register(60)
    assert few == many
