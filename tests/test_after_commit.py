"""Once an action is saved, the answer never says otherwise.

A database restarting between the commit and the response once turned a saved donation into an error
page, inviting the treasurer to record it again. Nothing after the commit talks to the database now,
and if something after the commit fails anyway, the answer says the action was saved.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.models import LedgerEntry
from tests.helpers import login_as


def donation(key: str) -> dict[str, str]:
    return {"kind": "donation", "amount": "1,000", "counterparty": "愚园路居委会", "method": "bank_transfer",
            "idempotency_key": key}


@pytest.fixture
def fund(world):
    fund = services.default_fund(world.a.alliance)
    db.session.commit()
    return fund


def entries() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(LedgerEntry))


def test_recording_money_runs_no_sql_between_the_commit_and_the_answer(app, world, fund):
    browser = login_as(world.a.treasurer)
    happened: list[str] = []

    def on_commit(session) -> None:
        happened.append("COMMIT")

    def on_sql(conn, cursor, statement, *args) -> None:
        happened.append(statement)

    event.listen(db.session, "after_commit", on_commit)
    event.listen(db.engine, "before_cursor_execute", on_sql)
    try:
        response = browser.post(f"/alliances/{world.a.alliance.id}/fund/record", data=donation("k1"))
    finally:
        event.remove(db.session, "after_commit", on_commit)
        event.remove(db.engine, "before_cursor_execute", on_sql)
    assert response.status_code == 302 and "COMMIT" in happened
    last_commit = len(happened) - happened[::-1].index("COMMIT")
    assert any(statement.startswith("INSERT INTO ledger_entries") for statement in happened[:last_commit])
    assert happened[last_commit:] == []
    assert entries() == 1


def test_a_failure_after_the_commit_tells_the_treasurer_the_money_was_recorded(app, world, fund, monkeypatch):
    from merchant_alliance.funds import spending_views

    def database_gone(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    browser = login_as(world.a.treasurer)
    url = f"/alliances/{world.a.alliance.id}/fund/record"
    monkeypatch.setattr(spending_views, "format_fen", database_gone)  # runs after the commit
    response = browser.post(url, data=donation("k2"), headers={"Referer": f"http://localhost{url}"})
    assert response.status_code == 303
    assert response.location == url
    assert entries() == 1
    monkeypatch.undo()
    page = browser.get(url).get_data(as_text=True)
    assert "Your change was saved" in page and "do not send it again" in page


def test_a_failure_before_anything_was_saved_is_still_an_error_page(app, world, fund, monkeypatch):
    from merchant_alliance.funds import spending_views

    def broken(*args, **kwargs):
        raise RuntimeError("a bug before the commit")

    monkeypatch.setattr(spending_views.services, "record_entry", broken)
    browser = login_as(world.a.treasurer)
    response = browser.post(f"/alliances/{world.a.alliance.id}/fund/record", data=donation("k3"))
    assert response.status_code == 500
    assert entries() == 0
