"""Sessions end on the server: a copied session or remember-me cookie opens nothing once it has ended."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select, update

from merchant_alliance.accounts.models import User, UserSession
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.timeutil import utcnow
from tests.factories import PASSWORD, UserFactory

NEW_PASSWORD = "Plane-Tree-2026"
COOKIES = ("session", "remember_token")


def logged_in_name(client) -> str | None:
    """The name shown in the menu of the home page, or None for an anonymous visitor."""
    match = re.search(r'<p class="menu-user">([^<]*)</p>', client.get("/").get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


def log_in(client, user: User, *, remember: bool = False, password: str = PASSWORD) -> None:
    data = {"login": user.phone, "password": password, **({"remember": "y"} if remember else {})}
    assert client.post("/login", data=data).status_code == 302
    assert logged_in_name(client) == user.name


def copied_cookies(client, *names: str) -> dict[str, str]:
    """What a thief (or a forgotten browser) keeps: the values of the client's cookies."""
    return {name: client.get_cookie(name).value for name in names}


def browser_with(app, cookies: dict[str, str]):
    """Another browser that presents exactly these cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def change_password(client, current: str = PASSWORD, new: str = NEW_PASSWORD):
    return client.post("/password", data={"current_password": current, "new_password": new, "confirm": new})


def live_sessions(user: User) -> int:
    return len(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id,
                                                            UserSession.ended_at.is_(None))).all())


def test_the_session_cookie_copied_before_logging_out_opens_nothing_after(app, client):
    """A shop owner logs out on a shared shop computer; whoever copied the session cookie is not logged in."""
    user = UserFactory(name="王店主")
    log_in(client, user)
    copied = copied_cookies(client, "session")
    assert logged_in_name(browser_with(app, copied)) == "王店主"  # a copy works while the session lives

    assert client.post("/logout").status_code == 302

    assert logged_in_name(browser_with(app, copied)) is None
    assert browser_with(app, copied).get("/password").location.startswith("/login")
    assert logged_in_name(client) is None


def test_the_remember_cookie_opens_nothing_after_logging_out(app, client):
    """A remembered phone logs out; its remember-me cookie, copied before, no longer logs anyone in."""
    user = UserFactory()
    log_in(client, user, remember=True)
    remember = copied_cookies(client, "remember_token")
    assert logged_in_name(browser_with(app, remember)) == user.name

    client.post("/logout")

    assert logged_in_name(browser_with(app, remember)) is None


def test_a_password_change_ends_the_remember_cookie_of_another_device(app, client):
    """The owner changes the password on the laptop: the phone's remember-me cookie opens nothing."""
    user = UserFactory()
    phone = app.test_client()
    log_in(phone, user, remember=True)
    remember = copied_cookies(phone, "remember_token")
    log_in(client, user)

    assert change_password(client).status_code == 302

    assert logged_in_name(browser_with(app, remember)) is None
    assert logged_in_name(phone) is None
    assert logged_in_name(client) == user.name  # the one who changed it stays in


def test_a_password_change_ends_every_other_session_but_keeps_the_changer_in(app, client):
    """Someone else is logged in with the old password; the owner changes it and they are out."""
    user = UserFactory()
    intruder = app.test_client()
    log_in(intruder, user)
    log_in(client, user, remember=True)
    own_remember = copied_cookies(client, "remember_token")

    change_password(client)

    assert logged_in_name(intruder) is None
    assert logged_in_name(client) == user.name
    assert logged_in_name(browser_with(app, own_remember)) == user.name  # this device's own cookie still works
    assert live_sessions(user) == 1
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "password_changed")).one()
    assert event.details == {"other_sessions_ended": 1}


def test_a_failed_password_change_ends_nothing(app, client):
    user = UserFactory()
    other = app.test_client()
    log_in(other, user)
    log_in(client, user)

    response = change_password(client, current="not-my-password")

    assert response.status_code == 200
    assert logged_in_name(other) == user.name
    assert live_sessions(user) == 2


def test_a_password_reset_ends_every_session(app, client, outbox):
    """The owner forgot the password and resets it by email: every browser, remembered or not, is out."""
    user = UserFactory()
    phone, laptop = app.test_client(), app.test_client()
    log_in(phone, user, remember=True)
    log_in(laptop, user)
    phone_cookies = copied_cookies(phone, *COOKIES)

    client.post("/password/forgot", data={"email": user.email})
    link = re.search(r"https?://\S+(/password/reset/\S+)", outbox[0].get_content()).group(1)
    response = client.post(link, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.location == "/login"

    assert logged_in_name(phone) is None
    assert logged_in_name(laptop) is None
    assert logged_in_name(browser_with(app, {"remember_token": phone_cookies["remember_token"]})) is None
    assert live_sessions(user) == 0
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "password_reset")).one()
    assert event.details == {"sessions_ended": 2}
    log_in(client, user, password=NEW_PASSWORD)


def test_log_out_everywhere_ends_every_session_including_this_one(app, client):
    """A lead lost a phone: "log out on every device" on the password page ends them all, and is audited."""
    user = UserFactory()
    lost_phone = app.test_client()
    log_in(lost_phone, user, remember=True)
    lost_cookies = copied_cookies(lost_phone, *COOKIES)
    log_in(client, user)
    other = UserFactory()
    bystander = app.test_client()
    log_in(bystander, other)
    page = html.unescape(client.get("/password").get_data(as_text=True))
    assert 'action="/logout/everywhere"' in page
    assert "2" in re.search(r'<h2 id="sessions-title">.*?</p>', page, re.S).group(0)  # two devices logged in

    assert client.get("/logout/everywhere").status_code == 405  # a link cannot do it, only the button
    response = client.post("/logout/everywhere")

    assert response.status_code == 302 and response.location == "/login"
    assert logged_in_name(client) is None
    assert logged_in_name(lost_phone) is None
    assert logged_in_name(browser_with(app, lost_cookies)) is None
    assert logged_in_name(browser_with(app, {"remember_token": lost_cookies["remember_token"]})) is None
    assert logged_in_name(bystander) == other.name  # other people's sessions are theirs
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "logged_out_everywhere")).one()
    assert (event.actor_id, event.object_id, event.details) == (user.id, user.id, {"sessions_ended": 2})


def test_log_out_everywhere_needs_the_form_token(app):
    """A page on another site cannot log the user out everywhere (CSRF is on, as in production)."""
    app.config["WTF_CSRF_ENABLED"] = True
    user = UserFactory()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login", data={"login": user.phone, "password": PASSWORD, "csrf_token": token})
    assert logged_in_name(client) == user.name

    response = client.post("/logout/everywhere")

    assert response.status_code == 400
    assert logged_in_name(client) == user.name
    assert live_sessions(user) == 1


def test_an_expired_remember_session_opens_nothing(app, client):
    """A remember-me cookie whose server-side session has run out (30 days) logs nobody in."""
    user = UserFactory()
    log_in(client, user, remember=True)
    remember = copied_cookies(client, "remember_token")
    session = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert session.remember
    assert timedelta(days=29) < session.expires_at - session.created_at <= timedelta(days=30)
    assert logged_in_name(browser_with(app, remember)) == user.name

    db.session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    assert logged_in_name(browser_with(app, remember)) is None
    assert logged_in_name(client) is None  # nor does the session cookie of that login


def test_a_session_without_remember_me_ends_on_the_server_within_hours(app, client):
    user = UserFactory()
    log_in(client, user)
    session = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert not session.remember
    assert session.expires_at - session.created_at == timedelta(hours=12)


def test_cookies_carry_a_random_token_stored_only_as_its_hash(app, client):
    """Neither cookie names the user id, and the database holds no token a thief could replay."""
    user = UserFactory()
    log_in(client, user, remember=True)
    remember = client.get_cookie("remember_token").value
    token = remember.split("|")[0]
    assert token != str(user.id) and len(token) >= 40
    for row in db.session.execute(UserSession.__table__.select()):
        assert token not in repr(tuple(row))


def test_deactivating_a_user_ends_even_their_remembered_sessions(app, client):
    user = UserFactory()
    log_in(client, user, remember=True)
    remember = copied_cookies(client, "remember_token")

    user.active = False
    db.session.commit()

    assert logged_in_name(client) is None
    assert logged_in_name(browser_with(app, remember)) is None
