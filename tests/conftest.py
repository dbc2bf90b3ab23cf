"""Fixtures: the app on SQLite and on PostgreSQL, a client, a runner, factories and a login helper."""

from __future__ import annotations

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import text

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.extensions import db, limiter
from tests import factories
from tests.services import postgres_url

PASSWORD = factories.PASSWORD


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends", default="sqlite,postgres",
        help="comma-separated database backends to run the database tests on (sqlite, postgres)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = [b.strip() for b in metafunc.config.getoption("--backends").split(",") if b.strip()]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def database_url(backend: str) -> str:
    return postgres_url() if backend == "postgres" else "sqlite://"


@pytest.fixture(scope="session")
def _schema(database_url: str):
    """Create the schema once per backend; each test then starts from empty tables."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    if database_url.startswith("sqlite"):
        yield None  # in-memory SQLite: each app gets a fresh database
        return
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
        yield None
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url: str, _schema):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        if database_url.startswith("sqlite"):
            db.create_all()
        limiter.reset()
        factories.bind(db.session)
        yield app
        db.session.remove()
        if database_url.startswith("postgresql"):
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    """Log in and out through the real login form."""

    def __init__(self, client) -> None:
        self._client = client

    def login(self, user, password: str = PASSWORD):
        response = self._client.post("/login", data={"login": user.phone or user.email, "password": password})
        assert response.status_code == 302, "login failed"
        return response

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def outbox(app) -> list:
    """Emails sent during the test."""
    return app.extensions.setdefault("mail_outbox", [])


@pytest.fixture
def world(app):
    """Two streets, each with an alliance, shops and one person in every role.

    `world.a` is the Yuyuan Road side, `world.b` another street entirely: most tests check that
    people of one cannot reach the other.
    """
    return factories.build_world()


class IsolatedClient(FlaskClient):
    """A test client whose every request starts with an empty `flask.g`, as in production.

    The `app` fixture keeps one app context pushed for the whole test and Flask reuses it for each
    request, so without this `g` would carry the logged-in user, the chosen language, the unread
    count and the login-failure flag over from one request (or one client) to the next.
    """

    def open(self, *args, **kwargs):
        saved = dict(vars(g))
        vars(g).clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            vars(g).clear()
            vars(g).update(saved)


@pytest.fixture
def isolated_requests(app):
    """Use with `pytest.mark.usefixtures("isolated_requests")`: `client` then isolates requests."""
    app.test_client_class = IsolatedClient
    return app
