"""The accounts rules: identifiers, passwords, roles and their scope, invitations."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from argon2 import PasswordHasher
from flask_babel import gettext
from sqlalchemy import func, select

from config import TestingConfig
from merchant_alliance import authz, create_app
from merchant_alliance.accounts import services
from merchant_alliance.accounts.models import Alliance, Invitation, Membership, Role, Street, User
from merchant_alliance.accounts.permissions import invitable_roles
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.timeutil import utcnow
from tests.factories import PASSWORD, AllianceFactory, ShopFactory, UserFactory, user_with_role

NEW_PASSWORD = "Plane-Tree-2026"
CLASH = "An account with this mobile number or email already exists. Log in first, then open the link again."


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def yuyuan(app) -> SimpleNamespace:
    """An alliance and its lead: all some stories need (cheaper than `world`)."""
    alliance = AllianceFactory(name="愚园路商家联盟")
    return SimpleNamespace(alliance=alliance, lead=user_with_role(Role.ALLIANCE_LEAD, alliance=alliance))


@pytest.fixture(scope="module")
def plain_app():
    """An app without a database, for rules that need only the configuration."""
    return create_app(TestingConfig)


# --- identifiers and password rules (no database) --------------------------------------------------


@pytest.mark.parametrize("typed", ["13800000001", "+86 138 0000 0001", "+8613800000001", "0086-138-0000-0001",
                                   "138 0000 0001", "(138) 0000-0001", " 13800000001 "])
def test_mainland_mobile_numbers_are_normalised_to_eleven_digits(typed):
    assert services.normalize_phone(typed) == "13800000001"


@pytest.mark.parametrize("typed", ["", "1380000000", "138000000011", "12800000001", "23800000001",
                                   "+1 415 555 0100", "021-6248-0000", "138O0000001", "+86"])
def test_non_mobile_numbers_are_refused(typed):
    assert services.normalize_phone(typed) is None


def test_emails_are_normalised_to_lower_case():
    assert services.normalize_email("  Li.Ming@Yuyuan.Example ") == "li.ming@yuyuan.example"
    for bad in ("", "li", "li@", "@yuyuan.example", "li@yuyuan", "li ming@yuyuan.example", "a@b.c" + "x" * 260):
        assert services.normalize_email(bad) is None


@pytest.mark.parametrize("password", ["short1!", "1234567890123", "aaaaaaaaaa", "abababab", "abcabcabc"])
def test_weak_passwords_are_refused(plain_app, password):
    with plain_app.app_context(), pytest.raises(DomainError):
        services.check_password_strength(password)


def test_reasonable_passwords_pass_and_are_stored_as_salted_argon2id(plain_app):
    with plain_app.app_context():
        for password in (PASSWORD, "愚园路改造2026年", "abcd1234"):
            services.check_password_strength(password)
        stored = services.hash_password(PASSWORD)
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert stored != services.hash_password(PASSWORD)


# --- logging in and passwords ----------------------------------------------------------------------


def test_authenticate_finds_the_user_by_phone_or_email_upgrades_old_hashes_and_refuses_the_rest(app):
    old_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    user = UserFactory(phone="13800000001", email="li@yuyuan.example", password_hash=old_hash)

    assert services.authenticate("+86 138 0000 0001", PASSWORD) is user

    assert user.last_login_at is not None
    db.session.refresh(user)
    assert user.password_hash != old_hash  # re-hashed with today's parameters, on a successful login
    assert not PasswordHasher(**app.config["ARGON2_PARAMS"]).check_needs_rehash(user.password_hash)
    assert services.authenticate("LI@yuyuan.example", PASSWORD) is user

    # Wrong credentials, inactive users and corrupt hashes are refused, and count as no login.
    UserFactory(phone="13800000002", active=False)
    UserFactory(phone="13800000003", password_hash="not-a-hash")
    for login, password in [("13800000001", "Correct-Horse-8"), ("13800000001", ""), ("13800000009", PASSWORD),
                            ("", PASSWORD), ("li", PASSWORD), ("13800000002", PASSWORD),
                            ("13800000003", PASSWORD)]:
        assert services.authenticate(login, password) is None, login
    assert count(User, User.last_login_at.is_not(None)) == 1


def test_change_password_checks_the_current_one_and_the_new_ones_strength(app):
    user = UserFactory()
    before = user.password_hash

    for current, new in [("wrong-password-1", NEW_PASSWORD), (PASSWORD, "12345678"), (PASSWORD, "short")]:
        with pytest.raises(DomainError):
            services.change_password(user, current, new)
    db.session.refresh(user)
    assert user.password_hash == before
    assert count(AuditEvent) == 0

    services.change_password(user, PASSWORD, NEW_PASSWORD)

    assert services.authenticate(user.phone, PASSWORD) is None
    assert services.authenticate(user.phone, NEW_PASSWORD) is user
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.actor_id, event.action, event.object_type, event.object_id) == \
        (user.id, "password_changed", "user", user.id)


def test_reset_token_opens_once_and_is_void_after_any_password_change(app):
    user, other = UserFactory(), UserFactory()
    token = services.make_password_reset_token(user)
    other_token = services.make_password_reset_token(other)
    assert services.user_for_reset_token(token) is user

    services.reset_password(token, NEW_PASSWORD)

    assert services.user_for_reset_token(token) is None
    with pytest.raises(DomainError):
        services.reset_password(token, "Another-Pass-77")
    assert services.authenticate(user.phone, NEW_PASSWORD) is user
    # A normal password change voids an outstanding link too.
    services.change_password(other, PASSWORD, NEW_PASSWORD)
    assert services.user_for_reset_token(other_token) is None


def test_reset_token_is_refused_when_expired_forged_or_for_an_inactive_user(app):
    user = UserFactory()
    token = services.make_password_reset_token(user)

    assert services.user_for_reset_token(token[:-3] + "abc") is None
    assert services.user_for_reset_token("not-a-token") is None
    app.config["PASSWORD_RESET_SECONDS"] = -1  # every token is older than that
    assert services.user_for_reset_token(token) is None
    with pytest.raises(DomainError):
        services.reset_password(token, NEW_PASSWORD)
    app.config["PASSWORD_RESET_SECONDS"] = 3600
    assert services.user_for_reset_token(token) is user
    app.config["SECRET_KEY"] = "another-deployment"
    assert services.user_for_reset_token(token) is None
    app.config["SECRET_KEY"] = TestingConfig.SECRET_KEY
    user.active = False
    db.session.commit()
    assert services.user_for_reset_token(token) is None


# --- streets, alliances and roles ------------------------------------------------------------------


def test_only_the_platform_admin_creates_streets_and_alliances_with_unique_names(world):
    for actor in (world.a.officer, world.a.lead, world.a.owner, world.nobody):
        with pytest.raises(NotAllowed):
            services.create_street(actor, "南京西路街道")
        with pytest.raises(NotAllowed):
            services.create_alliance(actor, world.a.street, "新联盟")
    assert count(Street) == 2 and count(Alliance) == 2

    street = services.create_street(world.admin, " 南京西路街道 ", "静安区")
    alliance = services.create_alliance(world.admin, street, "吴江路商家联盟", "吴江路")

    assert street.name == "南京西路街道" and alliance.street_id == street.id
    events = db.session.execute(select(AuditEvent.action, AuditEvent.street_id, AuditEvent.alliance_id)
                                .order_by(AuditEvent.id)).all()
    assert events == [("street_created", street.id, None), ("alliance_created", street.id, alliance.id)]
    with pytest.raises(DomainError):
        services.create_street(world.admin, world.a.street.name)
    with pytest.raises(DomainError):
        services.create_alliance(world.admin, world.a.street, world.a.alliance.name)
    services.create_alliance(world.admin, world.b.street, world.a.alliance.name)  # another street: fine


def test_grant_role_needs_exactly_the_roles_scope_and_grants_once(world):
    user = world.nobody
    for role, scope in [(Role.TREASURER, {"shop": world.a.shop}), (Role.SHOP_OWNER, {"alliance": world.a.alliance}),
                        (Role.STREET_OFFICER, {}), (Role.PLATFORM_ADMIN, {"street": world.a.street}),
                        (Role.ALLIANCE_LEAD, {"alliance": world.a.alliance, "street": world.a.street})]:
        with pytest.raises(DomainError):
            services.grant_role(user, role, **scope)
    assert user.memberships == []

    first = services.grant_role(user, Role.TREASURER, alliance=world.a.alliance)
    db.session.commit()
    assert services.grant_role(user, Role.TREASURER, alliance=world.a.alliance) is first
    db.session.commit()
    assert count(Membership, Membership.user_id == user.id) == 1
    assert user.roles_in(alliance_id=world.a.alliance.id) == {Role.TREASURER}
    assert user.roles_in(alliance_id=world.b.alliance.id) == set()


# --- invitations: who may invite whom --------------------------------------------------------------


def _scopes(world) -> dict[str, dict]:
    return {
        "shop A": {"shop": world.a.shop}, "alliance A": {"alliance": world.a.alliance},
        "street A": {"street": world.a.street},
        "shop B": {"shop": world.b.shop}, "alliance B": {"alliance": world.b.alliance},
        "street B": {"street": world.b.street},
    }


ALLIANCE_ROLES = [Role.ALLIANCE_LEAD, Role.TREASURER, Role.CONTRACTOR]

# What each inviter (of side A) may invite at each scope; anything not listed is refused.
INVITABLE = {
    "admin": {"shop A": [Role.SHOP_OWNER], "alliance A": ALLIANCE_ROLES, "street A": [Role.STREET_OFFICER],
              "shop B": [Role.SHOP_OWNER], "alliance B": ALLIANCE_ROLES, "street B": [Role.STREET_OFFICER]},
    "lead": {"shop A": [Role.SHOP_OWNER], "alliance A": ALLIANCE_ROLES},
    "officer": {"street A": [Role.STREET_OFFICER]},
    "treasurer": {}, "contractor": {}, "owner": {}, "nobody": {},
}


def _actor(world, name: str) -> User:
    return {"admin": world.admin, "nobody": world.nobody}.get(name) or getattr(world.a, name)


def test_invitable_roles_follow_the_inviters_role_and_scope(world):
    for inviter, allowed in INVITABLE.items():
        actor = _actor(world, inviter)
        for scope_name, scope in _scopes(world).items():
            assert invitable_roles(actor, **scope) == allowed.get(scope_name, []), (inviter, scope_name)
    # A shop added later is covered by the same rule.
    shop = ShopFactory(alliance=world.a.alliance)
    assert invitable_roles(world.a.lead, shop=shop) == [Role.SHOP_OWNER]
    assert invitable_roles(world.b.lead, shop=shop) == []


def test_invite_refuses_every_role_and_scope_the_inviter_may_not_grant(world):
    created = 0
    for inviter, allowed in INVITABLE.items():
        actor = _actor(world, inviter)
        for scope_name, scope in _scopes(world).items():
            kind = next(iter(scope))
            for role in Role:
                if role in allowed.get(scope_name, []):
                    invitation, _token = services.invite(actor, role, **scope)
                    created += 1
                    assert (invitation.role, invitation.invited_by_id) == (role, actor.id)
                    assert getattr(invitation, kind) is scope[kind]
                else:
                    # The admin may invite anyone, so what refuses them is a role that does not fit the
                    # scope (such an invitation could never be accepted); everyone else lacks the right.
                    expected = DomainError if inviter == "admin" else NotAllowed
                    with pytest.raises(expected):
                        services.invite(actor, role, **scope)
                    db.session.rollback()
    assert count(Invitation) == created
    assert count(AuditEvent, AuditEvent.action == "invitation_created") == created


def test_platform_admins_are_invited_only_by_an_admin_and_a_lead_without_the_role_invites_nobody(world):
    for actor in (world.a.lead, world.a.officer, world.nobody):
        with pytest.raises(NotAllowed):
            services.invite(actor, Role.PLATFORM_ADMIN)
    invitation, token = services.invite(world.admin, Role.PLATFORM_ADMIN)
    user = services.accept_invitation(token, name="新管理员", phone="13911112222", password=NEW_PASSWORD)
    assert invitation.status == "accepted" and user.is_platform_admin

    db.session.delete(world.a.lead.memberships[0])
    db.session.commit()
    db.session.refresh(world.a.lead)
    with pytest.raises(NotAllowed):
        services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)


def test_invite_checks_contact_details_and_records_them_normalised_with_a_hashed_token(app, yuyuan):
    for details in ({"email": "not-an-email"}, {"phone": "12345"}):
        with pytest.raises(DomainError):
            services.invite(yuyuan.lead, Role.TREASURER, alliance=yuyuan.alliance, **details)
    assert count(Invitation) == 0

    before = utcnow()
    invitation, token = services.invite(yuyuan.lead, Role.TREASURER, alliance=yuyuan.alliance, name=" 钱会计 ",
                                        phone="+86 139 1111 2222", email="Qian@Yuyuan.Example")

    assert (invitation.name, invitation.phone, invitation.email) == ("钱会计", "13911112222", "qian@yuyuan.example")
    days = timedelta(days=app.config["INVITATION_DAYS"])
    assert before + days <= invitation.expires_at <= utcnow() + days
    assert invitation.status == "pending"
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.actor_id, event.action, event.object_type, event.object_id) == \
        (yuyuan.lead.id, "invitation_created", "invitation", invitation.id)
    assert (event.alliance_id, event.street_id) == (yuyuan.alliance.id, yuyuan.alliance.street_id)
    assert event.details == {"role": "treasurer", "name": "钱会计"}

    # The link's secret is random and kept only as its SHA-256.
    _other, other_token = services.invite(yuyuan.lead, Role.TREASURER, alliance=yuyuan.alliance)
    assert len(token) >= 40 and token != other_token
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert services.invitation_for_token(token) is invitation
    assert services.invitation_for_token(invitation.token_hash) is None
    assert services.invitation_for_token("") is None
    assert services.invitation_for_token(token + "x" * 100) is None




# --- invitations: accepting ------------------------------------------------------------------------


def _new_person(**changes) -> dict:
    return {"name": "赵会计", "phone": "13911112222", "email": "", "password": NEW_PASSWORD, **changes}


def test_accepting_as_a_new_person_creates_account_role_events_and_notifies_the_inviter(world):
    invitation, token = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)

    user = services.accept_invitation(token, **_new_person())

    assert user.phone == "13911112222" and user.password_hash.startswith("$argon2id$")
    assert [(m.role, m.alliance_id, m.granted_by_id) for m in user.memberships] == \
        [(Role.TREASURER, world.a.alliance.id, world.a.lead.id)]
    assert (invitation.status, invitation.accepted_by_id) == ("accepted", user.id)
    assert authz.can(user, "view_register", world.a.alliance)
    assert not authz.can(user, "view", world.b.alliance)
    note = db.session.scalars(select(Notification)).one()
    assert note.user_id == world.a.lead.id and note.params["name"] == "赵会计"
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["account_created", "invitation_accepted"]


def test_accepting_as_an_existing_user_adds_the_role_once(world):
    _invitation, token = services.invite(world.a.lead, Role.SHOP_OWNER, shop=world.a.other_shop)
    _invitation, same_role_token = services.invite(world.a.lead, Role.SHOP_OWNER, shop=world.a.shop)
    _invitation, officer_token = services.invite(world.a.officer, Role.STREET_OFFICER, street=world.a.street)
    users = count(User)

    assert services.accept_invitation(token, user=world.a.owner) is world.a.owner
    services.accept_invitation(same_role_token, user=world.a.owner)  # a role they already hold
    services.accept_invitation(officer_token, user=world.a.owner)

    assert count(User) == users
    assert sorted((m.role, m.shop_id, m.street_id) for m in world.a.owner.memberships) == sorted([
        (Role.SHOP_OWNER, world.a.shop.id, None), (Role.SHOP_OWNER, world.a.other_shop.id, None),
        (Role.STREET_OFFICER, None, world.a.street.id)])
    assert authz.can(world.a.owner, "view", world.a.street) and not authz.can(world.a.owner, "view", world.b.street)


def _expire(invitation):
    invitation.expires_at = utcnow() - timedelta(seconds=1)


def _revoke(invitation):
    invitation.revoked_at = utcnow()


def _use(invitation):
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = invitation.invited_by_id


def test_expired_revoked_used_and_unknown_invitations_are_refused_and_change_nothing_and_accepting_is_once(world):
    tokens = []
    for spoil in (_expire, _revoke, _use):
        invitation, token = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)
        spoil(invitation)
        tokens.append(token)
    db.session.commit()
    before = (count(User), count(Membership), count(AuditEvent), count(Notification))

    for token in [*tokens, "no-such-token"]:
        with pytest.raises(DomainError):
            services.accept_invitation(token, **_new_person())
        db.session.rollback()
        with pytest.raises(DomainError):
            services.accept_invitation(token, user=world.a.owner)
        db.session.rollback()

    assert (count(User), count(Membership), count(AuditEvent), count(Notification)) == before

    # A link that was just used is used up, however it is tried again.
    _invitation, token = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)
    services.accept_invitation(token, **_new_person())
    memberships, users = count(Membership), count(User)
    with pytest.raises(DomainError):
        services.accept_invitation(token, **_new_person(phone="13933334444"))
    with pytest.raises(DomainError):
        services.accept_invitation(token, user=world.a.owner)
    db.session.rollback()
    assert (count(Membership), count(User)) == (memberships, users)


def test_accepting_with_a_taken_phone_or_email_or_bad_details_creates_nothing(yuyuan):
    UserFactory(phone="13800000001", email="taken@yuyuan.example")
    invitation, token = services.invite(yuyuan.lead, Role.TREASURER, alliance=yuyuan.alliance)
    users, memberships = count(User), count(Membership)

    for clash in ({"phone": "+86 138 0000 0001"}, {"phone": "", "email": "TAKEN@yuyuan.example"},
                  {"phone": "13999998888", "email": "taken@yuyuan.example"}):
        with pytest.raises(DomainError) as refused:
            services.accept_invitation(token, **_new_person(**clash))
        assert str(refused.value) == gettext(CLASH)
        db.session.rollback()
    for changes in ({"name": "  "}, {"phone": "", "email": ""}, {"phone": "021-62480000"}, {"email": "zhao@"},
                    {"password": "zhao"}, {"password": "88888888"}):
        with pytest.raises(DomainError):
            services.accept_invitation(token, **_new_person(**changes))
        db.session.rollback()

    assert (count(User), count(Membership)) == (users, memberships)
    assert invitation.status == "pending"


# --- invitations: revoking and listing -------------------------------------------------------------


def test_only_someone_who_may_issue_an_invitation_may_revoke_it(world):
    invitation, token = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)
    shop_invitation, _ = services.invite(world.a.lead, Role.SHOP_OWNER, shop=world.a.other_shop)
    street_invitation, _ = services.invite(world.admin, Role.STREET_OFFICER, street=world.a.street)
    for actor in (world.b.lead, world.b.officer, world.a.officer, world.a.treasurer, world.a.owner, world.nobody):
        with pytest.raises(NotAllowed):
            services.revoke_invitation(actor, invitation)
    for actor in (world.b.lead, world.a.owner, world.a.treasurer):
        with pytest.raises(NotAllowed):
            services.revoke_invitation(actor, shop_invitation)
    for actor in (world.b.officer, world.a.lead):
        with pytest.raises(NotAllowed):
            services.revoke_invitation(actor, street_invitation)
    assert {invitation.status, shop_invitation.status, street_invitation.status} == {"pending"}
    assert count(AuditEvent, AuditEvent.action == "invitation_revoked") == 0

    services.revoke_invitation(world.admin, invitation)
    services.revoke_invitation(world.a.lead, shop_invitation)
    services.revoke_invitation(world.a.officer, street_invitation)

    assert {invitation.status, shop_invitation.status, street_invitation.status} == {"revoked"}
    assert not services.invitation_for_token(token).is_usable
    events = db.session.execute(select(AuditEvent.actor_id, AuditEvent.object_id)
                                .where(AuditEvent.action == "invitation_revoked").order_by(AuditEvent.id)).all()
    assert events == [(world.admin.id, invitation.id), (world.a.lead.id, shop_invitation.id),
                      (world.a.officer.id, street_invitation.id)]

    # Only a pending invitation can be revoked.
    accepted, token = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)
    services.accept_invitation(token, **_new_person())
    for done in (invitation, accepted):
        with pytest.raises(DomainError):
            services.revoke_invitation(world.a.lead, done)
    assert accepted.status == "accepted"


def test_invitation_lists_show_only_their_own_scope(world):
    alliance_a, _ = services.invite(world.a.lead, Role.TREASURER, alliance=world.a.alliance)
    shop_a, _ = services.invite(world.a.lead, Role.SHOP_OWNER, shop=world.a.shop)
    street_a, _ = services.invite(world.a.officer, Role.STREET_OFFICER, street=world.a.street)
    services.invite(world.b.lead, Role.TREASURER, alliance=world.b.alliance)
    services.invite(world.b.lead, Role.SHOP_OWNER, shop=world.b.shop)
    services.invite(world.b.officer, Role.STREET_OFFICER, street=world.b.street)

    assert set(db.session.scalars(services.invitations_at(alliance=world.a.alliance))) == {alliance_a, shop_a}
    assert set(db.session.scalars(services.invitations_at(street=world.a.street))) == {street_a}
    assert list(db.session.scalars(services.invitations_at())) == []
