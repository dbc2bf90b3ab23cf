"""Helpers shared by the test suites (fixtures live in conftest.py and tests/fixtures/)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, g
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
