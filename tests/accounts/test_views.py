"""Logging in and out, passwords, accepting invitations, the language switch and error pages."""

from __future__ import annotations

import hashlib
import html
import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from flask_babel import force_locale, gettext
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts import services
from merchant_alliance.accounts.models import Invitation, Membership, Role, User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import ERROR_MESSAGES, ERROR_TITLES
from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.timeutil import utcnow
from merchant_alliance.urls import external_url
from tests.factories import PASSWORD, AllianceFactory, ShopFactory, UserFactory, user_with_role
from tests.helpers import field_errors, flashed_errors, login_as

NEW_PASSWORD = "Plane-Tree-2026"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def zh(message: str, **params) -> str:
    """`message` as a reader of the default language (Simplified Chinese) sees it."""
    with force_locale("zh_CN"):
        return gettext(message, **params)


def in_zh(lazy) -> str:
    """A lazily translated string as a reader of Simplified Chinese sees it."""
    with force_locale("zh_CN"):
        return str(lazy)


def post_login(client, login: str, password: str = PASSWORD, **fields):
    return client.post("/login", data={"login": login, "password": password, **fields})


def logged_in_name(client) -> str | None:
    """The name shown in the menu of the home page, or None for an anonymous visitor."""
    match = re.search(r'<p class="menu-user">([^<]*)</p>', client.get("/").get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def yuyuan(app) -> SimpleNamespace:
    """One alliance with its lead and a shop owner: all these stories need (cheaper than `world`)."""
    alliance = AllianceFactory(name="愚园路商家联盟")
    return SimpleNamespace(
        alliance=alliance, lead=user_with_role(Role.ALLIANCE_LEAD, alliance=alliance),
        owner=user_with_role(Role.SHOP_OWNER, shop=ShopFactory(alliance=alliance)),
    )


def hash_of(user: User) -> str:
    db.session.refresh(user)
    return user.password_hash


# --- logging in ----------------------------------------------------------------------------------


def test_user_logs_in_with_their_mobile_number_however_it_is_typed_or_their_email(client, app):
    user = UserFactory(name="王店主", phone="13800000001", email="wang@yuyuan.example")

    for typed in ("13800000001", "+86 138 0000 0001", "138-0000-0001", "0086 138 0000 0001",
                  "  Wang@Yuyuan.Example "):
        response = post_login(client, typed)
        assert response.status_code == 302 and response.location == "/", typed
        assert logged_in_name(client) == "王店主"
        client.post("/logout")

    db.session.refresh(user)
    assert user.last_login_at is not None


def test_wrong_login_or_password_and_inactive_users_get_one_message(client, app):
    user = UserFactory(phone="13800000001")
    UserFactory(phone="13800000002", active=False)

    for login, password in [("13800000001", "wrong-password-1"), ("13800000009", PASSWORD),
                            ("nobody@yuyuan.example", PASSWORD), ("not a login", PASSWORD),
                            ("13800000002", PASSWORD)]:
        response = post_login(client, login, password)
        assert response.status_code == 200
        # The same words whether the account exists or not, so the form does not reveal who has one.
        assert zh("Wrong mobile number, email or password.") in text(response), login
        assert logged_in_name(client) is None

    db.session.refresh(user)
    assert user.last_login_at is None


def test_deactivating_a_user_ends_their_open_session(client, yuyuan):
    login_as(yuyuan.lead, client)
    assert client.get(f"/alliances/{yuyuan.alliance.id}").status_code == 200

    yuyuan.lead.active = False
    db.session.commit()

    response = client.get(f"/alliances/{yuyuan.alliance.id}")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_remember_me_keeps_a_browser_logged_in_until_logging_out_which_is_post_only(app, client):
    user = UserFactory()
    response = post_login(client, user.phone)
    assert not any(c.startswith("remember_token=") for c in response.headers.getlist("Set-Cookie"))
    client.post("/logout")

    response = post_login(client, user.phone, remember="y")
    assert response.status_code == 302
    set_cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in set_cookies if c.startswith("remember_token=")]
    assert remember and "HttpOnly" in remember[0] and "Expires=" in remember[0]

    # A new browser session (no session cookie) with only the remember cookie is still logged in.
    later = app.test_client()
    later.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert logged_in_name(later) == user.name

    response = client.get("/logout")
    assert response.status_code == 405
    assert logged_in_name(client) == user.name

    response = client.post("/logout")
    assert response.status_code == 302 and response.location == "/"
    assert logged_in_name(client) is None
    assert client.get_cookie("remember_token") is None


EVIL_TARGETS = ["//evil.example", "https://evil.example", "http://evil.example/login", "/\\evil.example",
                "\\\\evil.example", "///evil.example", "javascript:alert(1)", "evil.example", "http:/evil.example"]


def test_login_and_language_switch_return_to_pages_on_this_site_only(client):
    user = UserFactory()
    response = client.get("/notifications?page=1")
    assert response.status_code == 302 and response.location.startswith("/login?next=")

    response = client.post(response.location, data={"login": user.phone, "password": PASSWORD})
    assert response.location == "/notifications?page=1"

    client.post("/logout")
    response = client.post("/login", query_string={"next": "/alliances/1?tab=team"},
                           data={"login": user.phone, "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/alliances/1?tab=team"
    client.post("/logout")

    for target in EVIL_TARGETS:
        response = client.post("/login", query_string={"next": target},
                               data={"login": user.phone, "password": PASSWORD})
        assert response.status_code == 302 and response.location == "/", target
        # Nor when already logged in, nor after switching the language.
        response = client.get("/login", query_string={"next": target})
        assert response.status_code == 302 and response.location == "/", target
        response = client.post("/language", data={"lang": "en", "next": target})
        assert response.status_code == 302 and response.location == "/", target
        client.post("/logout")


# --- changing the password -----------------------------------------------------------------------


def change(client, current: str, new: str, confirm: str | None = None):
    return client.post("/password", data={"current_password": current, "new_password": new,
                                          "confirm": new if confirm is None else confirm})


EASY = "This password is too easy to guess. Mix letters, digits and other characters."


@pytest.mark.parametrize(("current", "new", "confirm", "message"), [
    ("not-my-password", NEW_PASSWORD, None, "The current password is not correct."),
    (PASSWORD, "12345678901", None, EASY),
    (PASSWORD, "aaaabbbb", None, EASY),
    (PASSWORD, NEW_PASSWORD, "Plane-Tree-2025", "The passwords do not match."),
    (PASSWORD, "Ab-1", None, None),  # too short: the form says so in its own words
], ids=["wrong-current", "digits-only", "two-letters", "not-confirmed", "too-short"])
def test_password_change_refuses_a_mistake_and_changes_nothing(client, current, new, confirm, message):
    user = UserFactory()
    login_as(user, client)
    before = hash_of(user)

    response = change(client, current, new, confirm)

    assert response.status_code == 200
    assert 'class="error"' in response.get_data(as_text=True)
    if message:
        assert zh(message) in text(response)
    assert hash_of(user) == before
    assert count(AuditEvent) == 0


@pytest.mark.parametrize(("current", "new", "field", "message"), [
    ("not-my-password", NEW_PASSWORD, "current_password", "The current password is not correct."),
    (PASSWORD, "12345678901", "new_password", EASY),
], ids=["wrong-current", "easy-new"])
def test_a_refused_password_change_says_why_under_the_password_at_fault(client, current, new, field, message):
    """A wrong current password is pointed out under the current password, a weak new one under the new one;
    nothing is flashed at the top of the page."""
    login_as(UserFactory(), client)

    response = change(client, current, new)

    assert field_errors(response, field) == [zh(message)]
    assert field_errors(response, ({"current_password", "new_password"} - {field}).pop()) == []
    assert flashed_errors(response) == []


def test_password_change_after_a_mistake_works_then_only_the_new_password_works(client):
    user = UserFactory()
    login_as(user, client)
    before = hash_of(user)
    assert change(client, "not-my-password", NEW_PASSWORD).status_code == 200
    assert hash_of(user) == before

    response = change(client, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 302
    assert zh("Your password has been changed.") in text(client.get("/"))
    stored = hash_of(user)
    assert stored.startswith("$argon2id$") and NEW_PASSWORD not in stored
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.actor_id, event.action, event.object_type, event.object_id, event.ip) == \
        (user.id, "password_changed", "user", user.id, "127.0.0.1")

    client.post("/logout")
    assert post_login(client, user.phone, PASSWORD).status_code == 200
    assert logged_in_name(client) is None
    assert post_login(client, user.phone, NEW_PASSWORD).status_code == 302


# --- password reset by email ---------------------------------------------------------------------


def reset_link(message) -> str:
    match = re.search(r"https?://\S+/password/reset/(\S+)", message.get_content())
    assert match, message.get_content()
    return "/password/reset/" + match.group(1)


def test_reset_link_is_emailed_and_the_answer_is_the_same_for_unknown_addresses(app, client, yuyuan, outbox):
    known = client.post("/password/forgot", data={"email": yuyuan.owner.email})
    assert len(outbox) == 1
    assert outbox[0]["To"] == yuyuan.owner.email
    unknown = client.post("/password/forgot", data={"email": "stranger@yuyuan.example"})
    assert len(outbox) == 1

    assert known.status_code == unknown.status_code == 302
    assert known.location == unknown.location == "/login"
    flash = zh("If an account uses that email, a reset link has been sent to it.")
    assert flash in text(client.get("/login"))

    # Nor is anything sent for an inactive account; links use EXTERNAL_URL when it is set.
    yuyuan.lead.active = False
    db.session.commit()
    client.post("/password/forgot", data={"email": yuyuan.lead.email})
    assert len(outbox) == 1
    app.config["EXTERNAL_URL"] = "https://yuyuan.example.cn/"
    client.post("/password/forgot", data={"email": UserFactory().email})
    assert "https://yuyuan.example.cn/password/reset/" in outbox[1].get_content()


FORGED_HOSTS = [{"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
                {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example"}]


@pytest.mark.parametrize("headers", FORGED_HOSTS)
def test_a_forged_host_header_never_reaches_an_emailed_or_shown_link(app, client, yuyuan, outbox, headers):
    """An attacker asks for a reset of the owner's password naming their own host: the link still points home."""
    client.post("/password/forgot", data={"email": yuyuan.owner.email}, headers=headers)

    body = outbox[0].get_content()
    assert re.search(r"^http://localhost/password/reset/\S+$", body, re.M), body
    assert "evil.example" not in body
    # The invitation link a lead copies is built the same way.
    login_as(yuyuan.lead, client)
    client.set_cookie("session", client.get_cookie("session").value, domain="evil.example")
    page = client.post(f"/alliances/{yuyuan.alliance.id}/invite", headers=headers,
                       data={"role": "treasurer", "name": "钱会计"}).get_data(as_text=True)
    assert re.search(r'value="http://localhost/invite/[A-Za-z0-9_\-]+" data-testid="invite-link"', page)
    assert "evil.example" not in page


def test_links_are_never_built_without_external_url(app):
    """Should EXTERNAL_URL ever be empty, building a link fails loudly instead of trusting the request."""
    app.config["EXTERNAL_URL"] = ""
    with app.test_request_context("/password/forgot", headers={"Host": "evil.example"}), \
            pytest.raises(RuntimeError, match="EXTERNAL_URL must be configured"):
        external_url("accounts.reset_password", token="t")
    app.config["EXTERNAL_URL"] = "https://yuyuan.example.cn/alliance/"
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert external_url("accounts.reset_password", token="t") == \
            "https://yuyuan.example.cn/alliance/password/reset/t"


def test_reset_link_sets_a_new_password_once(client, outbox):
    user = UserFactory()
    before = hash_of(user)
    client.post("/password/forgot", data={"email": user.email})
    link = reset_link(outbox[0])

    assert client.get(link).status_code == 200
    # A weak password is refused, and the link stays usable.
    response = client.post(link, data={"new_password": "123456789", "confirm": "123456789"})
    assert response.status_code == 200
    assert zh("This password is too easy to guess. Mix letters, digits and other characters.") in text(response)
    assert hash_of(user) == before
    response = client.post(link, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.location == "/login"

    stored = hash_of(user)
    assert stored.startswith("$argon2id$") and NEW_PASSWORD not in stored
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)) == "password_reset"
    assert post_login(client, user.phone, PASSWORD).status_code == 200
    assert post_login(client, user.phone, NEW_PASSWORD).status_code == 302
    client.post("/logout")

    # Used once, the link is void: it neither shows the form nor changes the password again.
    response = client.get(link)
    assert response.status_code == 302 and response.location == "/password/forgot"
    assert zh("This password reset link is invalid, expired or already used.") in text(client.get("/password/forgot"))
    response = client.post(link, data={"new_password": "Another-Pass-77", "confirm": "Another-Pass-77"})
    assert response.status_code == 302
    assert hash_of(user) == stored


def token_issued_seconds_ago(user: User, seconds: int, monkeypatch) -> str:
    issued = int(time.time()) - seconds
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: issued)
        return services.make_password_reset_token(user)


def test_expired_forged_or_tampered_reset_links_are_refused(client, monkeypatch):
    user = UserFactory()
    before = hash_of(user)
    expired = token_issued_seconds_ago(user, 3601, monkeypatch)  # links live for an hour
    fresh = services.make_password_reset_token(user)
    tampered = fresh[:-2] + ("AA" if not fresh.endswith("AA") else "BB")

    for token in (expired, tampered, "nonsense", "eyJ1IjoxfQ.abc.def"):
        response = client.get(f"/password/reset/{token}")
        assert response.status_code == 302 and response.location == "/password/forgot", token
        response = client.post(f"/password/reset/{token}",
                               data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert response.status_code == 302 and response.location == "/password/forgot", token
    assert hash_of(user) == before

    # A link a little younger than an hour still works.
    assert client.get(f"/password/reset/{token_issued_seconds_ago(user, 3500, monkeypatch)}").status_code == 200


# --- accepting invitations -----------------------------------------------------------------------


@pytest.fixture
def treasurer_invitation(yuyuan):
    """A pending invitation from the Yuyuan Road lead for a treasurer, and its secret token."""
    invitation, token = services.invite(yuyuan.lead, Role.TREASURER, alliance=yuyuan.alliance, name="赵会计",
                                        phone="13911112222")
    return invitation, token


NEW_PERSON = {"name": "赵会计", "phone": "139 1111 2222", "email": "zhao@yuyuan.example",
              "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}


def test_accepting_as_a_new_person_creates_the_account_and_role_and_logs_in(client, yuyuan, treasurer_invitation):
    invitation, token = treasurer_invitation
    users_before = count(User)

    response = client.get(f"/invite/{token}")
    assert response.status_code == 200
    body = text(response)
    assert yuyuan.lead.name in body and yuyuan.alliance.name in body
    assert 'value="赵会计"' in body and 'value="13911112222"' in body  # prefilled from the invitation

    response = client.post(f"/invite/{token}", data=NEW_PERSON)

    assert response.status_code == 302 and response.location == "/"
    assert count(User) == users_before + 1
    user = db.session.scalars(select(User).where(User.phone == "13911112222")).one()
    assert user.name == "赵会计" and user.email == "zhao@yuyuan.example"
    assert user.password_hash.startswith("$argon2id$") and NEW_PASSWORD not in user.password_hash
    assert [(m.role, m.alliance_id, m.granted_by_id) for m in user.memberships] == \
        [(Role.TREASURER, yuyuan.alliance.id, yuyuan.lead.id)]
    db.session.refresh(invitation)
    assert invitation.status == "accepted" and invitation.accepted_by_id == user.id
    assert logged_in_name(client) == "赵会计"
    assert client.get(f"/alliances/{yuyuan.alliance.id}/shops").status_code == 200
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id)))
    assert actions == {"account_created", "invitation_accepted"}
    # The inviter hears about it.
    note = db.session.scalars(select(Notification).where(Notification.user_id == yuyuan.lead.id)).one()
    assert note.params["name"] == "赵会计"


def test_accepting_while_logged_in_adds_the_role_to_the_existing_account(client, yuyuan, treasurer_invitation):
    invitation, token = treasurer_invitation
    owner = yuyuan.owner
    login_as(owner, client)
    users_before = count(User)

    page = text(client.get(f"/invite/{token}"))
    assert owner.name in page

    response = client.post(f"/invite/{token}")

    assert response.status_code == 302
    assert count(User) == users_before
    db.session.refresh(owner)
    assert {m.role for m in owner.memberships} == {Role.SHOP_OWNER, Role.TREASURER}
    db.session.refresh(invitation)
    assert invitation.accepted_by_id == owner.id
    assert client.get(f"/alliances/{yuyuan.alliance.id}/shops").status_code == 200


def test_double_submitted_acceptance_creates_one_account_and_one_membership(client, yuyuan, treasurer_invitation):
    _invitation, token = treasurer_invitation
    users_before, memberships_before = count(User), count(Membership)

    first = client.post(f"/invite/{token}", data=NEW_PERSON)
    client.post("/logout")
    second = client.post(f"/invite/{token}", data=NEW_PERSON)

    assert first.status_code == 302
    assert second.status_code == 410
    assert count(User) == users_before + 1
    assert count(Membership) == memberships_before + 1

    # The same when accepting while logged in.
    _invitation, token = services.invite(yuyuan.lead, Role.CONTRACTOR, alliance=yuyuan.alliance)
    client.post("/login", data={"login": yuyuan.owner.phone, "password": PASSWORD})
    assert client.post(f"/invite/{token}").status_code == 302
    assert client.post(f"/invite/{token}").status_code == 410
    assert count(Membership) == memberships_before + 2


def _expire(invitation: Invitation) -> None:
    invitation.expires_at = utcnow() - timedelta(seconds=1)


def _revoke(invitation: Invitation) -> None:
    invitation.revoked_at = utcnow()


def _use(invitation: Invitation) -> None:
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = invitation.invited_by_id


UNKNOWN = "The link is not valid. Check that you copied all of it."


@pytest.mark.parametrize(("case", "status", "explanation"), [
    (_expire, 410, "It has expired. Ask the person who invited you for a new link."),
    (_revoke, 410, "It has been withdrawn by the person who sent it."),
    (_use, 410, "It has already been accepted. Log in with the account you created."),
    ("made-up-token", 404, UNKNOWN),
    ("x" * 101, 404, UNKNOWN),
    ("the-stored-hash", 404, UNKNOWN),  # the stored hash is no key either
], ids=["expired", "withdrawn", "accepted", "made-up", "too-long", "stored-hash"])
def test_expired_revoked_used_and_unknown_invitations_get_a_friendly_page_and_change_nothing(
        app, client, yuyuan, case, status, explanation):
    invitation, token = services.invite(yuyuan.lead, Role.TREASURER, alliance=yuyuan.alliance)
    if callable(case):
        case(invitation)
    else:
        token = invitation.token_hash if case == "the-stored-hash" else case
    db.session.commit()
    before = (count(User), count(Membership), count(AuditEvent), count(Notification))
    logged_in = app.test_client()
    post_login(logged_in, yuyuan.owner.phone)

    for response in (client.get(f"/invite/{token}"), client.post(f"/invite/{token}", data=NEW_PERSON),
                     logged_in.get(f"/invite/{token}"), logged_in.post(f"/invite/{token}")):
        assert response.status_code == status
        assert zh("This invitation cannot be used") in text(response)
        assert zh(explanation) in text(response)

    assert (count(User), count(Membership), count(AuditEvent), count(Notification)) == before
    assert logged_in_name(client) is None


TAKEN = "An account with this mobile number or email already exists. Log in first, then open the link again."


@pytest.mark.parametrize(("changes", "message"), [
    ({"phone": "+86 138 0000 0001", "email": ""}, TAKEN),
    ({"phone": "", "email": "Taken@Yuyuan.example"}, TAKEN),
    ({"phone": "", "email": ""}, "Please enter a mobile number or an email address to log in with."),
    ({"phone": "12345"}, "Please enter a valid mainland mobile number (11 digits)."),
    ({"email": "not-an-email"}, "Please enter a valid email address."),
    ({"password": "aaaabbbb", "confirm": "aaaabbbb"}, EASY),
    ({"confirm": "Something-Else-1"}, "The passwords do not match."),
], ids=["taken-phone", "taken-email", "no-login", "bad-phone", "bad-email", "easy-password", "not-confirmed"])
def test_accepting_with_a_taken_phone_or_email_or_bad_details_creates_nothing(client, yuyuan, treasurer_invitation,
                                                                             changes, message):
    UserFactory(phone="13800000001", email="taken@yuyuan.example")
    invitation, token = treasurer_invitation
    users, memberships = count(User), count(Membership)

    response = client.post(f"/invite/{token}", data={**NEW_PERSON, **changes})

    assert response.status_code == 200
    assert zh(message) in text(response)
    assert (count(User), count(Membership)) == (users, memberships)
    db.session.refresh(invitation)
    assert invitation.status == "pending"
    assert logged_in_name(client) is None


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"phone": "12345"}, "phone", "Please enter a valid mainland mobile number (11 digits)."),
    ({"email": "not-an-email"}, "email", "Please enter a valid email address."),
], ids=["bad-phone", "bad-email"])
def test_a_malformed_phone_or_email_on_the_invitation_form_is_shown_under_it(client, yuyuan, treasurer_invitation,
                                                                             changes, field, message):
    """The invited person mistypes their number or address: the reason is under that box, where they look."""
    invitation, token = treasurer_invitation

    response = client.post(f"/invite/{token}", data={**NEW_PERSON, **changes})

    assert response.status_code == 200
    assert field_errors(response, field) == [zh(message)]
    assert flashed_errors(response) == []
    assert logged_in_name(client) is None


def test_invitation_token_is_stored_only_as_its_sha256(client, yuyuan):
    login_as(yuyuan.lead, client)
    response = client.post(f"/alliances/{yuyuan.alliance.id}/invite",
                           data={"role": "treasurer", "name": "钱会计", "email": "qian@yuyuan.example"})
    token = re.search(r'value="[^"]*/invite/([A-Za-z0-9_\-]+)" data-testid="invite-link"',
                      response.get_data(as_text=True)).group(1)

    invitation = db.session.scalars(select(Invitation)).one()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Nowhere in the database does the secret itself appear.
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(table.select()):
            assert token not in repr(tuple(row)), table.name


# --- language --------------------------------------------------------------------------------------


def test_anonymous_visitor_sees_chinese_and_may_switch_to_english_with_a_cookie(client, app):
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in client.get("/login").get_data(as_text=True)

    response = client.post("/language", data={"lang": "en", "next": "/login"})

    assert response.status_code == 302 and response.location == "/login"
    cookie = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("lang=")]
    assert cookie and cookie[0].startswith("lang=en;") and "HttpOnly" in cookie[0]
    body = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in body and ">Log in</h1>" in body


def test_logged_in_user_language_is_saved_and_follows_them_and_unknown_ones_are_ignored(app, client):
    user = UserFactory()
    login_as(user, client)

    for lang in ("fr", "", "zh_CN'><script>", "EN"):
        response = client.post("/language", data={"lang": lang})
        assert response.status_code == 302
        assert not any(c.startswith("lang=") for c in response.headers.getlist("Set-Cookie")), lang
    assert client.get("/language?lang=en").status_code == 405
    db.session.refresh(user)
    assert user.locale is None
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)

    client.post("/language", data={"lang": "en"})

    db.session.refresh(user)
    assert user.locale == "en"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    # On another device, logging in brings the language back.
    other = app.test_client()
    response = post_login(other, user.phone)
    assert any(c.startswith("lang=en;") for c in response.headers.getlist("Set-Cookie"))
    assert '<html lang="en">' in other.get("/").get_data(as_text=True)

    client.post("/language", data={"lang": "zh_CN"})
    db.session.refresh(user)
    assert user.locale == "zh_CN"
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)


# --- error pages -----------------------------------------------------------------------------------


def assert_friendly_error(response, code: int) -> None:
    assert response.status_code == code
    body = text(response)
    assert '<section class="card error-page">' in body
    assert in_zh(ERROR_TITLES[code]) in body
    assert in_zh(ERROR_MESSAGES[code]) in body
    assert zh("Back to the home page") in body
    for leak in ("Traceback", "werkzeug", "File \"", "sqlalchemy"):
        assert leak not in body


def test_an_unexpected_error_is_a_friendly_page_without_details():
    app = create_app(TestingConfig)  # its own app: a route is added, which a running app refuses

    def broken():
        raise RuntimeError("secret internals: postgres password is hunter2")

    app.add_url_rule("/broken-for-test", "broken_for_test", broken)
    response = app.test_client().get("/broken-for-test")
    with app.app_context():  # the expected title, in Chinese
        assert_friendly_error(response, 500)
    assert "hunter2" not in text(response)


def test_errors_are_friendly_pages_without_details(app, client, world):
    assert_friendly_error(client.get("/no/such/page"), 404)
    assert_friendly_error(client.get("/logout"), 405)
    login_as(world.a.officer, client)
    assert_friendly_error(client.get(f"/alliances/{world.a.alliance.id}/invite"), 403)
    assert_friendly_error(client.get(f"/alliances/{world.b.alliance.id}/invite"), 404)
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.is_json and set(response.get_json()) == {"error", "message"}
