"""Helpers shared by the test suites (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from merchant_alliance.accounts.models import User
from merchant_alliance.extensions import db
from tests.factories import PASSWORD


@contextmanager
def counted_queries() -> Iterator[list[str]]:
    """The SQL statements issued inside the block."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def browser_for(app, user: User | None):
    """A browser of one's own, reading English, logged in as `user` (anonymous for None)."""
    client = app.test_client()
    client.set_cookie("lang", "en")
    if user is not None:
        response = client.post("/login", data={"login": user.phone, "password": PASSWORD})
        assert response.status_code == 302, "login failed"
    return client
