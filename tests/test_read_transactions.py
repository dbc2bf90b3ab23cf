"""On PostgreSQL a transaction that only read ends with COMMIT, so that psycopg keeps its prepared statements
from one request to the next; a transaction that wrote, or failed, is still rolled back and keeps nothing."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from merchant_alliance.accounts.models import User
from merchant_alliance.extensions import db
from tests.helpers import login_as

pytestmark = pytest.mark.postgres_only



def prepared(conn, like: str) -> int:
    """How many statements this connection has prepared whose SQL is LIKE `like`."""
    return conn.scalar(text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :like"), {"like": like})


def name_of(user_id: int) -> str:
    with db.engine.connect() as conn:
        return conn.scalar(select(User.name).where(User.id == user_id))


def prepared_on_any_connection(like: str) -> int:
    """The most statements LIKE `like` that one of the pool's idle connections has prepared."""
    connections = [db.engine.connect() for _ in range(db.engine.pool.checkedin())]
    try:
        return max(prepared(conn, like) for conn in connections)
    finally:
        for conn in connections:
            conn.close()


def test_the_users_query_stays_prepared_across_requests(app, world):
    browser = login_as(world.a.owner)
    db.session.remove()
    db.engine.dispose()  # the pool starts empty: the requests, one after another, then share one connection
    statuses: list[int] = []

    def seven_requests() -> None:  # outside the test's app context, each request has its own, as in production
        statuses.extend(browser.get("/").status_code for _ in range(7))  # psycopg prepares at the fifth run

    thread = threading.Thread(target=seven_requests)
    thread.start()
    thread.join(30)
    assert statuses == [200] * 7
    assert prepared_on_any_connection("%user_sessions.token_hash%") == 1


def test_a_statement_read_in_separate_transactions_is_prepared(app):
    with db.engine.connect() as conn:
        for _ in range(6):
            assert conn.execute(text("SELECT 40 + :n"), {"n": 2}).scalar() == 42
            conn.rollback()
        assert prepared(conn, "SELECT 40 + %") == 1


def test_a_write_that_was_not_committed_is_rolled_back(app, world):
    owner_id, name = world.a.owner.id, world.a.owner.name
    with db.engine.connect() as conn:
        conn.execute(select(User.id))
        conn.execute(update(User).where(User.id == owner_id).values(name="改了又没保存"))
        conn.execute(select(User.id))
        conn.rollback()
    assert name_of(owner_id) == name


def test_a_session_closed_after_a_flush_keeps_nothing(app, world):
    owner_id, name = world.a.owner.id, world.a.owner.name
    user = db.session.get(User, owner_id)
    user.name = "改了又没保存"
    db.session.flush()
    db.session.execute(select(User.id)).all()
    db.session.close()
    assert name_of(owner_id) == name


def test_a_transaction_that_failed_is_rolled_back_and_the_connection_works_on(app):
    with db.engine.connect() as conn:
        with pytest.raises(DBAPIError):
            conn.execute(text("SELECT 1 / 0"))
        conn.rollback()
        assert conn.execute(text("SELECT 1")).scalar() == 1
