"""Helpers shared by the test suites (fixtures live in conftest.py and tests/fixtures/)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from flask.testing import FlaskClient
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


def login_as(user: User | None, client: FlaskClient | None = None, *, password: str = PASSWORD) -> FlaskClient:
    """Log `user` in through the real login form: the one way tests log in. Returns the browser.

    Without `client`: a browser of one's own (a new test client of the current app) reading English, anonymous
    for None. With `client`: whoever was logged in there is logged out first (the login page skips logged-in
    users), and the browser keeps its language.
    """
    if client is None:
        client = current_app.test_client()
        client.set_cookie("lang", "en")
    else:
        client.post("/logout")
    if user is not None:
        response = client.post("/login", data={"login": user.phone or user.email, "password": password})
        assert response.status_code == 302, "login failed"
    return client
