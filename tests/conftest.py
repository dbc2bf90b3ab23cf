"""Fixtures: the app on SQLite and on PostgreSQL, each test in a transaction rolled back at its end, a client, a
runner and the mail delivered. The domains' fixtures are in tests/fixtures/ (`world`, `cast`, `proposal`, `fund`, …);
log in with tests.helpers.login_as."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask, current_app, has_app_context
from flask_babel import force_locale
from jinja2 import FileSystemBytecodeCache
from sqlalchemy import Connection, Engine, event, exists, select, text

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts import throttle
from merchant_alliance.extensions import db, limiter
from merchant_alliance.mail import send_due
from tests import factories
from tests.helpers import IsolatedClient
from tests.services import postgres_url, private_postgres_database

PASSWORD = factories.PASSWORD
pytest_plugins = ["tests.s3_fixtures", "tests.fixtures.accounts", "tests.fixtures.projects",
                  "tests.fixtures.safety", "tests.fixtures.funds",  # safety's before funds': they fund permitted ones
                  "tests.fixtures.works"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends", default="sqlite,postgres",
        help="comma-separated database backends to run the database tests on (sqlite, postgres)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: needs real PostgreSQL behaviour (row locks, concurrency)")
    config.addinivalue_line("markers", "redis: needs Redis (tests.services.redis_url); runs once, not per backend")
    config.addinivalue_line(
        "markers", "commits: commits for real, for other connections to see (threads, a new connection, another "
                   "process): the database is emptied after the test instead of its transaction rolled back",
    )
    _share_compiled_templates(config)


JINJA_CACHE = "MERCHANT_TEST_JINJA_CACHE"


def _share_compiled_templates(config: pytest.Config) -> None:
    """Every app the tests make (one per backend and worker, one per browser test, the CLI's, the migrations')
    would compile the same templates again, about a second each: they share Jinja's bytecode cache instead, in a
    folder of this run's own (made by the controlling process, whose environment pytest-xdist's workers inherit,
    and removed at its end), so that no run ever reads another's compiled templates."""
    if JINJA_CACHE not in os.environ:
        folder = tempfile.mkdtemp(prefix="merchant-test-jinja-")
        os.environ[JINJA_CACHE] = folder
        config.add_cleanup(lambda: (shutil.rmtree(folder, ignore_errors=True), os.environ.pop(JINJA_CACHE, None)))
    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": FileSystemBytecodeCache(os.environ[JINJA_CACHE])}


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
    """One app per backend for the whole run, its schema created once (building an app costs more than most
    tests)."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=database_url)
    app.test_client_class = IsolatedClient
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _let_sqlalchemy_begin(db.engine)
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.create_all()
    _join_sessions_to_test_transactions()
    yield app
    with app.app_context():
        db.engine.dispose()


def _let_sqlalchemy_begin(engine: Engine) -> None:
    """pysqlite opens transactions on its own, late, and not for a SAVEPOINT. While a test runs in a
    transaction that is rolled back, that is turned off on its connection (`isolation_level = None`) and
    SQLAlchemy emits BEGIN itself, so that the outer transaction holds and the session's SAVEPOINTs nest in it
    (SQLAlchemy's pysqlite notes, "Serializable isolation / Savepoints / Transactional DDL")."""

    @event.listens_for(engine, "begin")
    def emit_begin(connection: Connection) -> None:
        if connection.connection.driver_connection.isolation_level is None:
            connection.exec_driver_sql("BEGIN")


# Each test's outer connection, by app and thread: the sessions of that app in that thread (the test's own,
# the CLI runner's, a request's) all work inside it.
_test_connections: dict[tuple[Flask, int], Connection] = {}


def _join_sessions_to_test_transactions() -> None:
    """Make `db.session` use the test's connection while one is open ("Joining a Session into an External
    Transaction" in SQLAlchemy's docs): every session transaction is then a SAVEPOINT inside the test's
    transaction, so `commit()` and `rollback()` in the code under test work as usual, and the test's
    rollback undoes them all. Flask-SQLAlchemy's sessions pick their engine in `get_bind`, hence the wrap."""
    factory = db.session.session_factory
    session_class = factory.class_
    if getattr(session_class, "joins_test_transactions", False):
        return
    flask_get_bind = session_class.get_bind

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and has_app_context():
            connection = _test_connections.get((current_app._get_current_object(), threading.get_ident()))
            if connection is not None:
                return connection
        return flask_get_bind(self, mapper, clause, bind, **kwargs)

    session_class.get_bind = get_bind
    session_class.joins_test_transactions = True
    factory.configure(join_transaction_mode="create_savepoint")


@contextmanager
def _rolled_back(app: Flask) -> Iterator[None]:
    """Run the test in one transaction on one connection, rolled back at the end: nothing it wrote stays."""
    key = (app, threading.get_ident())
    connection = db.engine.connect()
    driver = connection.connection.driver_connection
    if connection.dialect.name == "sqlite":
        driver_isolation, driver.isolation_level = driver.isolation_level, None  # see _let_sqlalchemy_begin
    outer = connection.begin()
    _test_connections[key] = connection
    try:
        yield
    finally:
        db.session.remove()
        del _test_connections[key]
        outer.rollback()
        if connection.dialect.name == "sqlite":
            driver.isolation_level = driver_isolation
        connection.close()


@contextmanager
def _emptied_afterwards() -> Iterator[None]:
    """Let the test commit for real (marker `commits`), then empty every table."""
    try:
        yield
    finally:
        db.session.remove()
        _empty_database()


def _empty_database() -> None:
    """Start the next test from empty tables, as fast as each backend allows."""
    if db.engine.dialect.name == "sqlite":
        db.drop_all()  # in memory: cheap, and the ledger's triggers refuse DELETE
        db.create_all()
        return
    # A test that commits writes to a few tables only: DELETE from those, children first (TRUNCATE of every
    # table costs about 25 ms a table, most of a second per test). The ledger refuses DELETE (append-only
    # trigger): its owner switches the trigger off for this one transaction, so it can never stay off.
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        filled = conn.execute(select(*(exists(select(1).select_from(t)) for t in tables))).one()
        for table, has_rows in reversed(list(zip(tables, filled, strict=True))):
            if not has_rows:
                continue
            if table.name == "ledger_entries":
                conn.execute(text("ALTER TABLE ledger_entries DISABLE TRIGGER USER"))
            conn.execute(table.delete())
            if table.name == "ledger_entries":
                conn.execute(text("ALTER TABLE ledger_entries ENABLE TRIGGER USER"))


def _commits(test: pytest.Item) -> bool:
    """Whether the test must commit for real: marked `commits`, or `postgres_only` (those run actions in
    threads, each with a connection of its own that must see what the test set up)."""
    return any(test.get_closest_marker(name) for name in ("commits", "postgres_only"))


@pytest.fixture
def app(_session_app, request: pytest.FixtureRequest):
    """The app, in an app context of this test's own. The test runs in a transaction that is rolled back at
    its end (tests marked `commits` commit for real and the tables are emptied instead); the stored files
    are deleted afterwards.

    Tests may change app.config freely: it is put back when the test ends.
    """
    app = _session_app
    saved_config = dict(app.config)
    database = _emptied_afterwards() if _commits(request.node) else _rolled_back(app)
    with app.app_context(), database:
        limiter.reset()
        throttle.reset()
        factories.bind(db.session)
        app.extensions["mail_outbox"] = []
        yield app
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

