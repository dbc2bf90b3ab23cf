"""Helpers shared by the test suites (fixtures live in conftest.py and tests/fixtures/)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, g, has_app_context
from flask.testing import FlaskClient
from sqlalchemy import event, select

from merchant_alliance.accounts.models import Alliance, Membership, Role, User
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


def staff_of(alliance_id: int, role: Role, *, other_than: User | None = None) -> User:
    """Someone holding `role` (confirmed) in the alliance, the earliest appointed first: the factories' default
    actor when a test does not name one."""
    query = (select(User).join(Membership, Membership.user_id == User.id)
             .where(Membership.role == role, Membership.alliance_id == alliance_id,
                    Membership.confirmed_at.is_not(None)).order_by(Membership.id).limit(1))
    if other_than is not None:
        query = query.where(User.id != other_than.id)
    person = db.session.scalar(query)
    assert person is not None, f"{db.session.get(Alliance, alliance_id).name} has no {role}"
    return person


class IsolatedClient(FlaskClient):
    """A test client whose every request starts with an empty `flask.g`, as in production.

    The `app` fixture keeps one app context pushed for the whole test and Flask reuses it for each
    request, so without this `g` would carry the logged-in user, the chosen language, the unread
    count and the login-failure flag over from one request (or one client) to the next.
    """

    def open(self, *args, **kwargs):
        if not has_app_context():  # (a thread of the test's) the request pushes an app context of its own
            return super().open(*args, **kwargs)
        saved = dict(vars(g))
        vars(g).clear()
        try:
            return super().open(*args, **kwargs)
        finally:
            vars(g).clear()
            vars(g).update(saved)


def field_errors(response, field: str) -> list[str]:
    """The messages shown under one form field (by its id), as the reader sees them; [] when there are none."""
    page = response.get_data(as_text=True)
    help_text = re.search(rf'<div id="{re.escape(field)}-help" class="field-help">(.*?)</div>', page, re.S)
    return [html.unescape(error) for error in re.findall(r'<p class="error">(.*?)</p>', help_text.group(1))] \
        if help_text else []


def flashed_errors(response) -> list[str]:
    """The error messages flashed at the top of the page, as the reader sees them."""
    return [html.unescape(message) for message in
            re.findall(r'<p class="flash flash-error">(.*?)</p>', response.get_data(as_text=True), re.S)]


def first_screen(response) -> str:
    """The "where it stands" card that opens an object page (state, why, this person's next step), as HTML."""
    page = response.get_data(as_text=True)
    start = page.index('data-testid="standing"')
    return page[start:page.index("</section>", start)]
