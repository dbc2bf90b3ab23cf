"""Fixtures: the app on SQLite and on PostgreSQL, a client, a runner, factories and a login helper."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import text

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts import throttle
from merchant_alliance.extensions import db, limiter
from merchant_alliance.mail import send_due
from tests import factories
from tests.services import postgres_url, private_postgres_database

PASSWORD = factories.PASSWORD
pytest_plugins = ["tests.s3_fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends", default="sqlite,postgres",
        help="comma-separated database backends to run the database tests on (sqlite, postgres)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: needs real PostgreSQL behaviour (row locks, concurrency)")
    config.addinivalue_line("markers", "redis: needs Redis (tests.services.redis_url); runs once, not per backend")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = [b.strip() for b in metafunc.config.getoption("--backends").split(",") if b.strip()]
        if metafunc.definition.get_closest_marker("postgres_only"):
            backends = ["postgres"]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def database_url(backend: str):
    """SQLite in memory, or a PostgreSQL database of this test run's own (dropped at the end), so
    that two runs on one server never see each other's rows."""
    if backend != "postgres":
        yield "sqlite://"
        return
    with private_postgres_database(postgres_url(), f"merchant_test_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session")
def _session_app(database_url: str):
    """One app per backend for the whole run (building an app costs more than most tests)."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    app.test_client_class = IsolatedClient
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def _empty_database() -> None:
    """Start the next test from empty tables, as fast as each backend allows."""
    if db.engine.dialect.name == "sqlite":
        db.drop_all()  # in memory: cheap, and the ledger's triggers refuse DELETE
        db.create_all()
        return
    with db.engine.begin() as conn:
        # The ledger refuses DELETE (append-only trigger); TRUNCATE is not a row change.
        conn.execute(text("TRUNCATE " + ", ".join(t.name for t in db.metadata.sorted_tables)))


@pytest.fixture
def app(_session_app):
    """The app, in an app context of this test's own; the database and files are emptied afterwards.

    Tests may change app.config freely: it is put back when the test ends.
    """
    app = _session_app
    saved_config = dict(app.config)
    with app.app_context():
        limiter.reset()
        throttle.reset()
        factories.bind(db.session)
        app.extensions["mail_outbox"] = []
        try:
            yield app
        finally:
            db.session.remove()
            _empty_database()
    app.config.clear()
    app.config.update(saved_config)
    app.test_client_class = IsolatedClient
    root = Path(app.config["STORAGE_LOCAL_ROOT"])
    for child in root.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


@pytest.fixture(scope="session")
def _bare_app():
    return create_app(TestingConfig)


@pytest.fixture
def no_db(_bare_app):
    """For pure rules: an app context for their messages, in English, and no database."""
    with _bare_app.app_context(), force_locale("en"):
        yield


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
        """Log in as `user`, logging out first whoever was logged in (the login page skips logged-in users)."""
        self.logout()
        response = self._client.post("/login", data={"login": user.phone or user.email, "password": password})
        assert response.status_code == 302, "login failed"
        return response

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


class DeliveredMail(Sequence):
    """The emails the memory backend has delivered. Requests only queue mail (the outbox table), so reading
    this first runs the outbox's sender once, as the background sender would have done by then."""

    def __init__(self, app) -> None:
        self._app = app

    def _messages(self) -> list:
        send_due()
        return self._app.extensions.setdefault("mail_outbox", [])

    def __getitem__(self, index):
        return self._messages()[index]

    def __len__(self) -> int:
        return len(self._messages())

    def __eq__(self, other: object) -> bool:
        return list(self._messages()) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._messages())


@pytest.fixture
def outbox(app) -> DeliveredMail:
    """Emails sent during the test (queued, then delivered by the outbox's sender)."""
    return DeliveredMail(app)


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
    """Every client isolates its requests now (see IsolatedClient); kept for the tests that ask for it."""
    return app
