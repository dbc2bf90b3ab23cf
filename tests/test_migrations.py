"""The Alembic chain builds exactly the schema the models describe, on SQLite and PostgreSQL, with or without data."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, delete, func, inspect, make_url, select, text, update
from sqlalchemy.exc import DBAPIError

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts.models import Alliance, Street, User
from merchant_alliance.accounts.services import authenticate
from merchant_alliance.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, load_demo
from merchant_alliance.extensions import db
from merchant_alliance.funds.models import LedgerEntry
from merchant_alliance.shops.models import Shop

MIGRATIONS_SCHEMA = "merchant_migrations_test"

# Flask-Migrate's env.py tries Flask-SQLAlchemy 2's get_engine() first, then falls back to .engine.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")


@pytest.fixture
def keep_logging():
    """Alembic's env.py reconfigures logging (and disables every logger it does not name): undo that."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    saved_root = (root.level, list(root.handlers))
    saved = {
        name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
        for name, logger in manager.loggerDict.items() if isinstance(logger, logging.Logger)
    }
    yield
    root.setLevel(saved_root[0])
    root.handlers[:] = saved_root[1]
    for name, logger in manager.loggerDict.items():
        if not isinstance(logger, logging.Logger):
            continue
        if name in saved:
            logger.disabled, logger.level, handlers, logger.propagate = saved[name]
            logger.handlers[:] = handlers
        else:
            logger.disabled = False


@pytest.fixture
def empty_database(backend, tmp_path, request):
    """A database with nothing in it: a new SQLite file, or a PostgreSQL schema of these tests' own.

    The other PostgreSQL tests of this run use the `public` schema of the run's database; this schema
    is created empty for each test, reached through the connection's search_path, and dropped after.
    """
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    server = make_url(request.getfixturevalue("database_url"))
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {MIGRATIONS_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {MIGRATIONS_SCHEMA}"))
    try:
        url = server.update_query_dict({"options": f"-csearch_path={MIGRATIONS_SCHEMA}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {MIGRATIONS_SCHEMA} CASCADE"))
        admin.dispose()


@pytest.fixture
def migration_app(empty_database, keep_logging):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def schema_differences() -> list:
    """What `flask db check` would report: differences between the migrated database and the models."""
    configure_args = {"compare_type": True, **current_app.extensions["migrate"].configure_args}
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=configure_args)
        return compare_metadata(context, db.metadata)


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def revisions_in_order() -> list[str]:
    """Every revision from the first to head (the chain must be linear: one head)."""
    config = current_app.extensions["migrate"].migrate.get_config()
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1, "the migrations have more than one head; merge them"
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def app_tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_the_migrations_step_up_and_down_and_build_exactly_the_schema_of_the_models(migration_app):
    revisions = revisions_in_order()
    for revision in revisions:
        upgrade(revision=revision)
        assert current_revision() == revision
    assert schema_differences() == []

    for expected in [*reversed(revisions[:-1]), None]:
        downgrade(revision="-1")
        assert current_revision() == expected
    assert app_tables() == set()

    upgrade()  # from empty straight to head, as `flask db upgrade` on a new deployment
    assert current_revision() == revisions[-1]
    assert app_tables() == set(db.metadata.tables)
    assert schema_differences() == []


def test_upgrading_a_database_full_of_data_keeps_the_data(migration_app):
    upgrade()
    with migration_app.test_request_context("/"):
        load_demo()

    def data() -> dict:
        db.session.rollback()
        return {
            "streets": db.session.scalar(select(func.count(Street.id))),
            "alliances": db.session.scalar(select(func.count(Alliance.id))),
            "shops": db.session.execute(select(Shop.id, Shop.house_number, Shop.name, Shop.facade_width_m)
                                        .order_by(Shop.id)).all(),
            "users": db.session.execute(select(User.id, User.phone, User.password_hash).order_by(User.id)).all(),
            "ledger": db.session.execute(select(LedgerEntry.id, LedgerEntry.amount_fen, LedgerEntry.kind)
                                         .order_by(LedgerEntry.id)).all(),
        }

    before = data()
    assert len(before["shops"]) == 91
    assert len(before["ledger"]) > 300  # the demo's year of money

    upgrade()  # already at head: nothing to do
    assert data() == before

    # The newest migration, undone and redone under real data: the older tables keep every row.
    db.session.remove()
    downgrade(revision="-1")
    upgrade()
    assert data() == before
    assert schema_differences() == []
    # The rebuilt ledger table is still append-only in the database itself.
    with pytest.raises(DBAPIError):
        with db.engine.begin() as conn:
            conn.execute(update(LedgerEntry).values(amount_fen=1))
    with pytest.raises(DBAPIError):
        with db.engine.begin() as conn:
            conn.execute(delete(LedgerEntry))
    assert data() == before
    lead = DEMO_ACCOUNTS[1]
    assert authenticate(lead.phone, DEMO_PASSWORD) is not None


def test_roles_held_before_lead_confirmation_existed_stay_in_force_and_going_back_drops_pending_ones(
        migration_app):
    """0007 makes a lead appointed by another lead wait for the street office. Every role that existed before
    counts as confirmed; a downgrade drops appointments still waiting, rather than turn them into powers."""
    upgrade(revision="0006")
    created = datetime(2026, 3, 1, 8, 0)
    with db.engine.begin() as conn:
        street = conn.execute(text("INSERT INTO streets (name, district, created_at) "
                                   "VALUES ('静安寺街道', '静安区', :at) RETURNING id"), {"at": created}).scalar_one()
        alliance = conn.execute(text("INSERT INTO alliances (street_id, name, road, created_at) "
                                     "VALUES (:street, '愚园路商家联盟', '愚园路', :at) RETURNING id"),
                                {"street": street, "at": created}).scalar_one()
        for phone in ("13800000001", "13800000006"):
            user = conn.execute(text("INSERT INTO users (name, phone, password_hash, active, created_at) "
                                     "VALUES ('负责人', :phone, 'x', :active, :at) RETURNING id"),
                                {"phone": phone, "active": True, "at": created}).scalar_one()
            conn.execute(text("INSERT INTO memberships (user_id, role, alliance_id, created_at) "
                              "VALUES (:user, 'alliance_lead', :alliance, :at)"),
                         {"user": user, "alliance": alliance, "at": created})

    upgrade(revision="0007")
    with db.engine.connect() as conn:
        confirmed = conn.execute(text("SELECT confirmed_at FROM memberships")).scalars().all()
        assert [str(at)[:19] for at in confirmed] == [str(created)] * 2  # SQLite answers raw SQL with text
        conn.execute(text("INSERT INTO memberships (user_id, role, alliance_id, created_at) "
                          "VALUES (:user, 'alliance_lead', :alliance, :at)"),
                     {"user": user, "alliance": alliance, "at": created})
        conn.commit()

    downgrade(revision="0006")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM memberships")).scalar_one() == 2
    upgrade()
    assert schema_differences() == []
