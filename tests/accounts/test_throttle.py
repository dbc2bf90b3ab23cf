"""Login throttling: per account and per address, and never a lock on the owner's own device."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from itsdangerous import TimestampSigner

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts import throttle
from merchant_alliance.extensions import db
from tests.factories import PASSWORD, UserFactory

WRONG = "wrong-password-1"
ATTACKER_IP = "198.51.100.7"


def post_login(client, login: str, password: str = PASSWORD, **environ):
    return client.post("/login", data={"login": login, "password": password}, environ_base=environ)


def is_locked(response) -> bool:
    return response.status_code == 429 and 'data-testid="login-locked"' in response.get_data(as_text=True)


def is_wrong_password(response) -> bool:
    return response.status_code == 200 and 'data-testid="login-locked"' not in response.get_data(as_text=True)


def device_cookie(client) -> str | None:
    cookie = client.get_cookie(throttle.DEVICE_COOKIE, path="/login")
    return cookie.value if cookie else None


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def limits(app):
    """Small limits, so a story needs few attempts: 3 per account, 6 per address, 4 per known device."""
    app.config.update(LOGIN_ACCOUNT_LIMIT="3 per 15 minutes", LOGIN_IP_LIMIT="6 per 15 minutes",
                      LOGIN_DEVICE_LIMIT="4 per 15 minutes")


# --- per account -------------------------------------------------------------------------------------


def test_phone_and_email_of_one_account_count_together(client, limits):
    """Guesses at one account, typed as its phone (any spelling) or its email, share one limit."""
    owner = UserFactory(phone="13800000001", email="wang@yuyuan.example")
    for typed in ("13800000001", "+86 138 0000 0001", "Wang@Yuyuan.Example"):
        assert is_wrong_password(post_login(client, typed, WRONG)), typed

    assert is_locked(post_login(client, "138-0000-0001", PASSWORD))  # even the right password waits now
    assert is_locked(post_login(client, "wang@yuyuan.example", PASSWORD))
    # Another account from the same place is not this account's lock.
    assert post_login(client, UserFactory().phone).status_code == 302
    assert owner.last_login_at is None


CSRF_TOKEN = re.compile(r'(?<=name="csrf_token" value=")[^"]*')


def test_a_locked_account_and_a_locked_unknown_name_look_the_same(client, limits):
    """The lock tells nobody whether an account exists: an unknown login locks alike, with the same page."""
    real = UserFactory(phone="13800000001")
    for login in (real.phone, "13900000009"):
        for _attempt in range(3):
            post_login(client, login, WRONG)
    pages = [text(post_login(client, login, WRONG)) for login in (real.phone, "13900000009")]

    assert all('data-testid="login-locked"' in page for page in pages)
    # The same page but for the name typed (and the form's token, which is signed with the current second).
    pages = [CSRF_TOKEN.sub("TOKEN", page) for page in pages]
    assert pages[0].replace(real.phone, "LOGIN") == pages[1].replace("13900000009", "LOGIN")


def test_the_locked_page_says_how_long_to_wait_and_what_the_owner_can_do(client, limits):
    owner = UserFactory()
    for _attempt in range(3):
        post_login(client, owner.phone, WRONG)

    response = post_login(client, owner.phone, PASSWORD)

    assert is_locked(response)
    body = text(response)
    assert re.search(r"(?<!\d)1[45](?!\d)", body), "says to wait about 15 minutes"
    assert 'action="/login/unlock"' in body and f'name="login" value="{owner.phone}"' in body


def test_successful_logins_do_not_count_as_failures(client, limits):
    phone = UserFactory().phone
    for _round in range(5):
        assert post_login(client, phone).status_code == 302
        client.post("/logout")
    for _attempt in range(2):
        assert is_wrong_password(post_login(client, phone, WRONG))
    assert post_login(client, phone).status_code == 302


# --- per address -------------------------------------------------------------------------------------


def test_guesses_spread_over_many_accounts_lock_the_address(client, limits):
    """One address trying one password on six accounts is stopped; other addresses are not."""
    victims = [UserFactory() for _ in range(7)]
    for victim in victims[:6]:
        assert is_wrong_password(post_login(client, victim.phone, WRONG, REMOTE_ADDR=ATTACKER_IP))

    assert is_locked(post_login(client, victims[6].phone, PASSWORD, REMOTE_ADDR=ATTACKER_IP))
    assert post_login(client, victims[6].phone, PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 302


# --- the owner's own device -----------------------------------------------------------------------------


def test_the_owner_on_a_known_device_gets_in_while_the_attacker_is_locked_out(app, client, limits):
    """An attacker on the same wifi hammers the owner's account and others; the owner's phone still logs in."""
    owner = UserFactory(name="王店主")
    phone = app.test_client()
    assert post_login(phone, owner.phone).status_code == 302
    assert device_cookie(phone)
    phone.post("/logout")

    for _attempt in range(3):
        post_login(client, owner.phone, WRONG)
    for _attempt in range(3):
        post_login(client, UserFactory().phone, WRONG)
    assert is_locked(post_login(client, owner.phone, PASSWORD))  # account and address are both locked
    assert is_locked(post_login(client, UserFactory().phone, PASSWORD))

    response = post_login(phone, owner.phone, PASSWORD)

    assert response.status_code == 302
    assert "王店主" in phone.get("/").get_data(as_text=True)


def test_a_known_device_has_a_limit_of_its_own_and_only_for_its_own_account(app, client, limits):
    owner, neighbour = UserFactory(), UserFactory()
    phone = app.test_client()
    assert post_login(phone, owner.phone).status_code == 302
    phone.post("/logout")
    for _attempt in range(3):
        post_login(client, neighbour.phone, WRONG)

    # The device cookie names the owner's account: it does not open another locked account.
    assert is_locked(post_login(phone, neighbour.phone, PASSWORD))
    # Guessing from the device is limited too (a stolen phone is not an unlimited oracle).
    for _attempt in range(4):
        assert is_wrong_password(post_login(phone, owner.phone, WRONG))
    assert is_locked(post_login(phone, owner.phone, PASSWORD))


@contextmanager
def seconds_ago(monkeypatch, seconds: int) -> Iterator[None]:
    """Within the block, whatever is signed with a timestamp is signed as of `seconds` ago."""
    issued = int(time.time()) - seconds
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: issued)
        yield


@pytest.mark.parametrize("forge", ["garbage", "signed-for-another-account", "over-a-year-old"])
def test_a_forged_or_expired_device_cookie_is_no_way_around_the_lock(app, client, limits, monkeypatch, forge):
    owner, other = UserFactory(), UserFactory()
    if forge == "garbage":
        value = "eyJ1IjoxLCJkIjoieCJ9.forged.signature"
    elif forge == "signed-for-another-account":
        assert post_login(client, other.phone).status_code == 302
        value = device_cookie(client)
    else:
        with seconds_ago(monkeypatch, 366 * 86400):
            assert post_login(client, owner.phone).status_code == 302
        value = device_cookie(client)
    client.post("/logout")
    for _attempt in range(3):
        post_login(app.test_client(), owner.phone, WRONG)
    client.set_cookie(throttle.DEVICE_COOKIE, value, path="/login")

    assert is_locked(post_login(client, owner.phone, PASSWORD))


# --- the emailed unlock link ------------------------------------------------------------------------------


def test_a_locked_out_owner_on_a_new_device_unlocks_it_by_email(app, client, limits, outbox):
    """The account is under attack and the owner has a new phone: an emailed link lets that phone in."""
    owner = UserFactory(name="王店主", email="wang@yuyuan.example")
    attacker = app.test_client()
    for _attempt in range(3):
        post_login(attacker, owner.phone, WRONG)
    assert is_locked(post_login(client, owner.phone, PASSWORD))

    response = client.post("/login/unlock", data={"login": owner.phone})

    assert response.status_code == 302 and response.location == "/login"
    [mail] = outbox
    assert mail["To"] == "wang@yuyuan.example"
    link = re.search(r"(https?://[^/\s]+)(/login/unlock/\S+)", mail.get_content())
    assert link.group(1) == app.config["EXTERNAL_URL"]
    response = client.get(link.group(2))
    assert response.status_code == 302 and response.location == "/login"
    assert device_cookie(client)

    assert post_login(client, owner.phone, PASSWORD).status_code == 302
    assert "王店主" in client.get("/").get_data(as_text=True)
    # The attacker, without the link, is still locked out.
    assert is_locked(post_login(attacker, owner.phone, PASSWORD))


def test_asking_for_an_unlock_link_reveals_nothing_and_sends_only_to_a_real_email(client, limits, outbox):
    phone_only = UserFactory(email=None)
    inactive = UserFactory(active=False)
    answers = [text(client.post("/login/unlock", data={"login": login}, follow_redirects=True))
               for login in (phone_only.phone, inactive.email, "13900000009", "nobody@yuyuan.example")]

    assert len(outbox) == 0
    assert len({re.sub(r'name="csrf_token"[^>]*', "", a) for a in answers}) == 1


def test_unlock_links_are_few_per_account(client, limits, outbox):
    """Nobody can flood an inbox with unlock links: three an hour per account."""
    owner = UserFactory()
    for _request in range(5):
        client.post("/login/unlock", data={"login": owner.email})
    assert len(outbox) == 3


@pytest.mark.parametrize("token", ["made-up", "x" * 300])
def test_a_bad_unlock_link_makes_no_device(client, token):
    response = client.get(f"/login/unlock/{token}")
    assert response.status_code == 302 and response.location == "/login"
    assert device_cookie(client) is None


@pytest.mark.parametrize(("age", "works"), [(3500, True), (3601, False)])
def test_an_unlock_link_works_for_an_hour(client, limits, outbox, monkeypatch, age, works):
    owner = UserFactory()
    with seconds_ago(monkeypatch, age):
        client.post("/login/unlock", data={"login": owner.phone})
    path = re.search(r"https?://[^/\s]+(/login/unlock/\S+)", outbox[0].get_content()).group(1)

    response = client.get(path)

    assert response.status_code == 302
    assert bool(device_cookie(client)) is works


# --- the client address behind trusted proxies ----------------------------------------------------------------


@pytest.fixture
def app_behind(request):
    """A fresh app (own in-memory database) with TRUSTED_PROXIES set as the test asks."""
    def make(proxies: int):
        app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://", TRUSTED_PROXIES=proxies,
                         LOGIN_IP_LIMIT="4 per 15 minutes")
        context = app.app_context()
        context.push()
        db.create_all()
        request.addfinalizer(lambda: (db.session.remove(), db.engine.dispose(), context.pop()))
        return app
    return make


def guess_from(client, forwarded_for: str, login: str):
    return client.post("/login", data={"login": login, "password": WRONG},
                       headers={"X-Forwarded-For": forwarded_for})


def test_with_a_trusted_proxy_the_forwarded_address_is_the_one_counted(app_behind):
    """Behind the README's reverse proxy every request comes from the proxy; X-Forwarded-For tells them apart."""
    client = app_behind(1).test_client()
    for n in range(4):
        assert is_wrong_password(guess_from(client, ATTACKER_IP, f"1390000000{n}"))

    assert is_locked(guess_from(client, ATTACKER_IP, "13900000008"))
    assert is_wrong_password(guess_from(client, "203.0.113.9", "13900000008"))
    # Only the hop the proxy added is believed: a client cannot pick its address by prepending one.
    assert is_locked(guess_from(client, f"203.0.113.77, {ATTACKER_IP}", "13900000008"))


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app_behind):
    """Reached directly, a client cannot escape the address limit by inventing X-Forwarded-For headers."""
    client = app_behind(0).test_client()
    for n in range(4):
        assert is_wrong_password(guess_from(client, f"203.0.113.{n}", f"1390000000{n}"))

    assert is_locked(guess_from(client, "203.0.113.99", "13900000008"))
