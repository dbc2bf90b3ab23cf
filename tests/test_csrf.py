"""Cross-site request forgery: every form that changes something needs the token from a page we rendered."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Invitation, User
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop
from tests.factories import PASSWORD

CSRF_MESSAGE = "This form has expired or was sent from elsewhere. Please reload the page and try again."


@pytest.fixture
def app(app):
    """The test app with CSRF protection on, as in every real configuration (Flask-WTF reads it per request)."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def client(app):
    client = app.test_client()
    client.set_cookie("lang", "en")
    return client


def token_on(client, url: str) -> str:
    """The CSRF token in the first form of the page at `url`, as a browser would send it back."""
    response = client.get(url)
    assert response.status_code == 200, url
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def log_in(client, user) -> None:
    response = client.post("/login", data={"login": user.phone, "password": PASSWORD,
                                           "csrf_token": token_on(client, "/login")})
    assert response.status_code == 302


def is_logged_in(client, shop: Shop) -> bool:
    return client.get(f"/shops/{shop.id}").status_code == 200


def assert_refused(response) -> None:
    """A 400 with the friendly page that tells the person what to do, not a bare error."""
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert 'class="card error-page"' in page
    assert CSRF_MESSAGE in page


def test_logging_in_without_the_token_or_with_another_browsers_token_is_refused(app, client, world):
    lead = world.a.lead
    assert_refused(client.post("/login", data={"login": lead.phone, "password": PASSWORD}))
    stolen = token_on(app.test_client(), "/login")
    assert_refused(client.post("/login", data={"login": lead.phone, "password": PASSWORD, "csrf_token": stolen}))
    assert not is_logged_in(client, world.a.shop)
    db.session.rollback()
    assert db.session.get(User, lead.id).last_login_at is None

    log_in(client, lead)
    assert is_logged_in(client, world.a.shop)


def test_logging_out_without_the_token_is_refused(client, world):
    log_in(client, world.a.lead)
    assert_refused(client.post("/logout"))
    assert is_logged_in(client, world.a.shop)

    client.post("/logout", data={"csrf_token": token_on(client, "/")})
    assert not is_logged_in(client, world.a.shop)


def test_switching_language_without_the_token_is_refused(client, world):
    lead = world.a.lead
    log_in(client, lead)
    response = client.post("/language", data={"lang": "zh_CN", "next": "/"})
    assert_refused(response)
    assert "lang=" not in response.headers.get("Set-Cookie", "")
    db.session.rollback()
    assert db.session.get(User, lead.id).locale is None

    response = client.post("/language", data={"lang": "zh_CN", "next": "/", "csrf_token": token_on(client, "/")})
    assert response.status_code == 302
    assert "lang=zh_CN" in response.headers["Set-Cookie"]
    db.session.rollback()
    assert db.session.get(User, lead.id).locale == "zh_CN"


def test_editing_or_deactivating_a_shop_without_the_token_is_refused(client, world):
    shop = world.a.shop
    old_name, number = shop.name, shop.house_number
    log_in(client, world.a.lead)
    form = {"name": "静安书店", "house_number": number}
    assert_refused(client.post(f"/shops/{shop.id}/edit", data=form))
    assert_refused(client.post(f"/shops/{shop.id}/active", data={"active": "0"}))
    db.session.rollback()
    assert (db.session.get(Shop, shop.id).name, db.session.get(Shop, shop.id).active) == (old_name, True)

    token = token_on(client, f"/shops/{shop.id}/edit")
    assert client.post(f"/shops/{shop.id}/edit", data={**form, "csrf_token": token}).status_code == 302
    db.session.rollback()
    assert db.session.get(Shop, shop.id).name == "静安书店"


def test_inviting_without_the_token_is_refused(client, world):
    shop = world.a.shop
    log_in(client, world.a.lead)
    form = {"role": "shop_owner", "name": "陈美玲", "phone": "13800000004"}

    def invitations() -> int:
        db.session.rollback()
        return db.session.scalar(select(func.count(Invitation.id)))

    assert_refused(client.post(f"/shops/{shop.id}/invite", data=form))
    assert invitations() == 0

    token = token_on(client, f"/shops/{shop.id}/invite")
    response = client.post(f"/shops/{shop.id}/invite", data={**form, "csrf_token": token})
    assert response.status_code == 200
    assert invitations() == 1
