"""Street and alliance pages, invitations and the audit log, as each kind of user sees them."""

from __future__ import annotations

import html
import re
from functools import reduce

import pytest
from flask_babel import force_locale, gettext, ngettext
from sqlalchemy import func, select

from merchant_alliance import audit
from merchant_alliance.accounts import services
from merchant_alliance.accounts.models import Alliance, Invitation, Role, Street
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.shops.services import update_shop
from tests.factories import ShopFactory, UserFactory
from tests.helpers import field_errors, flashed_errors, login_as


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def zh(message: str, **params) -> str:
    with force_locale("zh_CN"):
        return gettext(message, **params)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def invite_link(response) -> str:
    match = re.search(r'value="[^"]*(/invite/[A-Za-z0-9_\-]+)" data-testid="invite-link"',
                      response.get_data(as_text=True))
    assert match, "no invitation link on the page"
    return match.group(1)


# --- streets and alliances -------------------------------------------------------------------------


def test_admin_adds_a_street_and_an_alliance(client, world):
    login_as(world.admin, client)
    page = text(client.get("/streets"))
    assert world.a.street.name in page and world.b.street.name in page

    response = client.post("/streets", data={"name": "南京西路街道", "district": "静安区"})
    street = db.session.scalars(select(Street).where(Street.name == "南京西路街道")).one()
    assert response.status_code == 302 and response.location == f"/streets/{street.id}"

    response = client.post(f"/streets/{street.id}", data={"name": "吴江路商家联盟", "road": "吴江路"})
    alliance = db.session.scalars(select(Alliance).where(Alliance.name == "吴江路商家联盟")).one()
    assert response.status_code == 302 and response.location == f"/alliances/{alliance.id}"
    assert alliance.street_id == street.id
    assert "吴江路商家联盟" in text(client.get(f"/streets/{street.id}"))

    # Names already taken are refused on the form, and nothing is added.
    response = client.post("/streets", data={"name": world.a.street.name})
    assert response.status_code == 200
    assert zh("A street named %(name)s already exists.", name=world.a.street.name) in text(response)
    response = client.post(f"/streets/{street.id}", data={"name": "吴江路商家联盟"})
    assert response.status_code == 200
    assert (count(Street), count(Alliance)) == (3, 3)
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["street_created", "alliance_created"]


def test_officer_sees_their_street_but_cannot_add_alliances(client, world):
    ShopFactory(alliance=world.a.alliance, active=False)
    login_as(world.a.officer, client)

    page = text(client.get(f"/streets/{world.a.street.id}"))

    assert world.a.alliance.name in page and world.b.alliance.name not in page
    with force_locale("zh_CN"):
        assert ngettext("%(num)s shop", "%(num)s shops", 2) in page  # the inactive shop is not counted
    assert world.a.officer.name in page and world.b.officer.name not in page
    assert f'href="/streets/{world.a.street.id}/invite"' in page
    assert 'name="road"' not in page  # no form for adding an alliance

    response = client.post(f"/streets/{world.a.street.id}", data={"name": "自封联盟"})
    assert response.status_code == 200
    assert count(Alliance) == 2


def test_alliance_page_shows_the_team_only_to_staff_and_tools_only_to_who_may_use_them(client, world):
    services.invite(world.a.lead, Role.CONTRACTOR, alliance=world.a.alliance, name="周师傅")
    url = f"/alliances/{world.a.alliance.id}"
    team = (world.a.lead.name, world.a.treasurer.name, world.a.contractor.name)
    invite_button = f'href="{url}/invite"'
    audit_link = f'href="{url}/audit"'
    register_link = f'href="{url}/shops"'

    # (who, sees the team, may invite, sees the audit log link)
    for user, team_visible, may_invite, may_audit in [
        (world.admin, True, True, True),
        (world.a.lead, True, True, True),
        (world.a.officer, True, False, True),
        (world.a.treasurer, True, False, False),
        (world.a.contractor, False, False, False),
        (world.a.owner, False, False, False),
    ]:
        login_as(user, client)
        response = client.get(url)
        page = text(response)
        assert response.status_code == 200
        assert world.a.alliance.name in page and 'data-testid="shop-count">2<' in page
        others = [name for name in team if name != user.name]  # everyone sees their own name in the menu
        assert all((name in page) == team_visible for name in others), user.name
        assert (register_link in page) == team_visible, user.name
        assert (invite_button in page) == may_invite, user.name
        assert ("周师傅" in page) == may_invite, user.name  # pending invitations, with who may revoke them
        assert (audit_link in page) == may_audit, user.name
        assert world.b.lead.name not in page and world.b.alliance.name not in page
        client.post("/logout")

    # Someone who accepts an invitation joins the team on the page.
    _invitation, token = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)
    services.accept_invitation(token, user=UserFactory(name="新财务"))
    login_as(world.a.lead, client)
    assert "新财务" in text(client.get(url))


# --- invitations -----------------------------------------------------------------------------------


def role_choices(response) -> set[str]:
    select_html = re.search(r'<select[^>]*name="role".*?</select>', response.get_data(as_text=True), re.S).group(0)
    return set(re.findall(r'<option[^>]*value="([^"]+)"', select_html))


def test_each_inviter_is_offered_only_the_roles_they_may_invite(client, world):
    cases = [
        (world.admin, f"/alliances/{world.b.alliance.id}/invite", {"alliance_lead", "treasurer", "contractor"}),
        (world.admin, f"/streets/{world.b.street.id}/invite", {"street_officer"}),
        (world.a.lead, f"/alliances/{world.a.alliance.id}/invite", {"alliance_lead", "treasurer", "contractor"}),
        (world.a.lead, f"/shops/{world.a.shop.id}/invite", {"shop_owner"}),
        (world.a.officer, f"/streets/{world.a.street.id}/invite", {"street_officer"}),
    ]
    for user, url, roles in cases:
        login_as(user, client)
        response = client.get(url)
        assert response.status_code == 200, url
        assert role_choices(response) == roles, url
        client.post("/logout")


def test_lead_invites_a_treasurer_by_email_and_the_link_works(client, world, outbox):
    login_as(world.a.lead, client)

    response = client.post(f"/alliances/{world.a.alliance.id}/invite", data={
        "role": "treasurer", "name": "钱会计", "email": "Qian@Yuyuan.Example"})

    assert response.status_code == 200
    link = invite_link(response)
    invitation = db.session.scalars(select(Invitation)).one()
    assert (invitation.role, invitation.alliance_id, invitation.invited_by_id, invitation.email) == \
        (Role.TREASURER, world.a.alliance.id, world.a.lead.id, "qian@yuyuan.example")
    assert len(outbox) == 1 and outbox[0]["To"] == "qian@yuyuan.example"
    assert link in outbox[0].get_content() and world.a.lead.name in outbox[0].get_content()

    client.post("/logout")
    page = client.get(link)
    assert page.status_code == 200 and "钱会计" in text(page)


def test_invitation_without_email_sends_nothing_and_refused_roles_create_nothing(client, world, outbox):
    login_as(world.a.lead, client)

    response = client.post(f"/shops/{world.a.shop.id}/invite", data={"role": "shop_owner", "phone": "13911112222"})
    assert response.status_code == 200 and invite_link(response)
    assert outbox == []

    # Roles not offered on the form are refused even when posted by hand.
    for url, role in [(f"/alliances/{world.a.alliance.id}/invite", "street_officer"),
                      (f"/alliances/{world.a.alliance.id}/invite", "platform_admin"),
                      (f"/shops/{world.a.shop.id}/invite", "treasurer")]:
        assert client.post(url, data={"role": role}).status_code == 200
    # A malformed address is refused with its message.
    response = client.post(f"/alliances/{world.a.alliance.id}/invite", data={"role": "treasurer", "email": "qian@"})
    assert zh("Please enter a valid email address.") in text(response)

    assert count(Invitation) == 1


@pytest.mark.parametrize(("contact", "message"), [
    ({"phone": "12345"}, "Please enter a valid mainland mobile number (11 digits)."),
    ({"email": "qian@"}, "Please enter a valid email address."),
], ids=["phone", "email"])
def test_a_malformed_contact_on_the_invite_form_is_shown_under_it_and_invites_nobody(client, world, contact, message):
    """The lead mistypes the treasurer's number or address: the reason is under that box, and no invitation is
    made."""
    login_as(world.a.lead, client)
    before = count(Invitation)

    response = client.post(f"/alliances/{world.a.alliance.id}/invite", data={"role": "treasurer", **contact})

    [field] = contact
    assert field_errors(response, field) == [zh(message)]
    assert flashed_errors(response) == []
    assert count(Invitation) == before


def test_officer_invites_an_officer_who_then_sees_the_street(client, world):
    login_as(world.a.officer, client)
    link = invite_link(client.post(f"/streets/{world.a.street.id}/invite", data={"role": "street_officer"}))
    client.post("/logout")

    response = client.post(link, data={"name": "新检查员", "phone": "13911112222",
                                       "password": "Plane-Tree-2026", "confirm": "Plane-Tree-2026"})

    assert response.status_code == 302
    assert client.get(f"/streets/{world.a.street.id}").status_code == 200
    assert client.get(f"/streets/{world.b.street.id}").status_code == 404


def test_invitations_are_revoked_only_by_someone_in_their_scope(client, world):
    invitation, token = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance, name="钱会计")
    url = f"/invitations/{invitation.id}/revoke"

    for outsider in (world.b.lead, world.b.officer, world.a.officer, world.a.treasurer, world.nobody):
        login_as(outsider, client)
        assert client.post(url).status_code == 404, outsider.name
        client.post("/logout")
    db.session.refresh(invitation)
    assert invitation.status == "pending"

    login_as(world.a.lead, client)
    assert client.get(url).status_code == 405  # a link cannot revoke
    db.session.refresh(invitation)
    assert invitation.status == "pending"
    response = client.post(url, headers={"Referer": f"http://localhost/alliances/{world.a.alliance.id}"})
    assert response.status_code == 302 and response.location == f"/alliances/{world.a.alliance.id}"
    db.session.refresh(invitation)
    assert invitation.status == "revoked"
    assert zh("The invitation has been revoked; its link no longer works.") in text(client.get("/"))
    assert client.get(f"/invite/{token}").status_code == 410

    # Revoking again changes nothing and says why.
    client.post(url)
    assert zh("Only a pending invitation can be revoked.") in text(client.get("/"))
    assert count(AuditEvent, AuditEvent.action == "invitation_revoked") == 1


# --- the audit log ---------------------------------------------------------------------------------


def test_audit_log_records_who_did_what_to_which_object_from_where(client, world):
    login_as(world.a.lead, client)

    client.post(f"/alliances/{world.a.alliance.id}/invite", data={"role": "contractor", "name": "周师傅"},
                environ_base={"REMOTE_ADDR": "203.0.113.7"})

    invitation = db.session.scalars(select(Invitation)).one()
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.actor_id, event.action, event.object_type, event.object_id, event.ip) == \
        (world.a.lead.id, "invitation_created", "invitation", invitation.id, "203.0.113.7")
    assert (event.alliance_id, event.street_id) == (world.a.alliance.id, world.a.street.id)
    page = text(client.get(f"/alliances/{world.a.alliance.id}/audit"))
    assert world.a.lead.name in page and zh("Invitation created") in page
    assert f"{zh('Invitation')} #{invitation.id}" in page and "周师傅" in page and "203.0.113.7" in page


def _events_on_both_sides(world) -> None:
    services.invite(world.a.lead, Role.CONTRACTOR, alliance=world.a.alliance, name="甲方施工队")
    services.invite(world.a.officer, Role.STREET_OFFICER, street=world.a.street, name="甲街道新人")
    update_shop(world.a.lead, world.a.shop, {"name": "甲店新名", "house_number": world.a.shop.house_number})
    services.invite(world.b.lead, Role.CONTRACTOR, alliance=world.b.alliance, name="乙方秘密施工队")
    services.invite(world.b.officer, Role.STREET_OFFICER, street=world.b.street, name="乙街道秘密新人")


def test_leads_see_their_alliances_events_officers_their_streets_and_nobody_else_any(client, world):
    _events_on_both_sides(world)
    secrets = ("乙方秘密施工队", "乙街道秘密新人", world.b.lead.name, world.b.officer.name)

    login_as(world.a.lead, client)
    page = text(client.get(f"/alliances/{world.a.alliance.id}/audit"))
    assert "甲方施工队" in page and zh("Shop details changed") in page
    assert "甲街道新人" not in page  # a street event, not the alliance's
    assert not any(secret in page for secret in secrets)
    client.post("/logout")

    login_as(world.a.officer, client)
    page = text(client.get(f"/streets/{world.a.street.id}/audit"))
    assert "甲方施工队" in page and "甲街道新人" in page and world.a.officer.name in page
    assert not any(secret in page for secret in secrets)
    page = text(client.get(f"/alliances/{world.a.alliance.id}/audit"))
    assert "甲方施工队" in page and not any(secret in page for secret in secrets)
    client.post("/logout")

    login_as(world.admin, client)
    page = text(client.get(f"/streets/{world.b.street.id}/audit"))
    assert "乙方秘密施工队" in page and "甲方施工队" not in page
    client.post("/logout")


@pytest.mark.parametrize(("who", "alliance_status", "street_status"), [
    ("a.treasurer", 403, 404), ("a.contractor", 403, 404), ("a.owner", 403, 404), ("a.lead", 200, 404),
    ("nobody", 404, 404), ("b.lead", 404, 404), ("b.officer", 404, 404),
])
def test_everyone_else_is_refused_the_logs_403_if_they_may_see_the_alliance_else_404(
        client, world, who, alliance_status, street_status):
    _events_on_both_sides(world)
    alliance_log, street_log = f"/alliances/{world.a.alliance.id}/audit", f"/streets/{world.a.street.id}/audit"
    login_as(reduce(getattr, who.split("."), world), client)
    for url, status in ((alliance_log, alliance_status), (street_log, street_status)):
        response = client.get(url)
        assert response.status_code == status, url
        if status != 200:
            assert "甲方施工队" not in text(response)


def test_long_audit_logs_are_paginated(client, world):
    for n in range(55):
        audit.record(world.a.lead, "shop_updated", world.a.shop, alliance_id=world.a.alliance.id, name=f"第{n}次")
    db.session.commit()
    login_as(world.a.lead, client)

    first = text(client.get(f"/alliances/{world.a.alliance.id}/audit"))
    second = text(client.get(f"/alliances/{world.a.alliance.id}/audit?page=2"))

    assert first.count("<tr>") - 1 == 50 and "第54次" in first and "第4次" not in first
    assert f'href="/alliances/{world.a.alliance.id}/audit?page=2"' in first
    assert "第4次" in second and "第0次" in second and "第54次" not in second
    assert client.get(f"/alliances/{world.a.alliance.id}/audit?page=9").status_code == 404


