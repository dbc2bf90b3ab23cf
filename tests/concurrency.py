"""Running services at the same moment, each in a thread with its own session, as two requests would.

`at_once` starts every action together (a barrier); `while_held` makes the interleaving certain: the
first action stops just before its commit, holding whatever it has locked, while the second runs.
These are for PostgreSQL (`@pytest.mark.postgres_only`): SQLite serialises whole writes anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import text

from merchant_alliance import audit
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db

TIMEOUT = 30


def _run(app: Flask, action: Callable[[], Any], results: list, index: int,
         before: Callable[[], None] | None = None) -> None:
    # A request context of the thread's own: its own app context, so its own session and connection.
    with app.test_request_context("/"):
        try:
            if before is not None:
                before()
            results[index] = action()
        except DomainError as error:
            db.session.rollback()
            results[index] = error
        finally:
            db.session.remove()


def at_once(app: Flask, *actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads released together; each one's result, or the DomainError it raised.

    An action loads what it needs by id in its own session (objects of the test's session are not
    shared with threads)."""
    barrier = threading.Barrier(len(actions), timeout=TIMEOUT)
    results: list[Any] = [None] * len(actions)
    threads = [threading.Thread(target=_run, args=(app, action, results, n, barrier.wait))
               for n, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    db.session.expire_all()  # the test's own session reads what the threads committed
    return results


def browsers_at_once(app: Flask, user_ids: list[int], send: Callable[[Any, int], Any]) -> list[Any]:
    """Log in one browser per user id (a user may appear several times), then let every browser send at
    the same instant: `send(browser, index)` posts a form. Each one's response (or what it raised)."""
    from tests.helpers import login_as

    barrier = threading.Barrier(len(user_ids), timeout=TIMEOUT)
    browsers: list[Any] = [None] * len(user_ids)
    results: list[Any] = [None] * len(user_ids)

    def log_in(index: int) -> Callable[[], None]:
        def before() -> None:
            from merchant_alliance.accounts.models import User

            browsers[index] = login_as(db.session.get(User, user_ids[index]))
            db.session.remove()  # give the connection back while waiting
            barrier.wait()
        return before

    def sender(index: int) -> Callable[[], Any]:
        return lambda: send(browsers[index], index)

    threads = [threading.Thread(target=_run, args=(app, sender(n), results, n, log_in(n)))
               for n in range(len(user_ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    db.session.expire_all()
    return results


@dataclass
class Interleaving:
    first: Any
    second: Any
    second_waited: bool  # the second action was still running while the first held its transaction open


def while_held(app: Flask, monkeypatch, first: Callable[[], Any], second: Callable[[], Any]) -> Interleaving:
    """Run `first` until it records its audit event (its writes and locks done, its commit not yet), run
    `second` meanwhile, then let `first` commit. A second action that must wait for the first's lock
    is still running when the first is released; one that does not wait has finished by then."""
    paused, release = threading.Event(), threading.Event()
    record = audit.record

    def record_then_pause(*args, **kwargs):
        event = record(*args, **kwargs)
        if threading.current_thread().name == "first" and not paused.is_set():
            db.session.flush()
            paused.set()
            release.wait(TIMEOUT)
        return event

    monkeypatch.setattr(audit, "record", record_then_pause)
    results: list[Any] = [None, None]
    one = threading.Thread(target=_run, args=(app, first, results, 0), name="first")
    two = threading.Thread(target=_run, args=(app, second, results, 1), name="second")
    one.start()
    assert paused.wait(TIMEOUT), "the first action never reached its audit event"
    two.start()
    second_waited = _waits(two, deadline=time.monotonic() + 1.5)  # long enough for one that does not wait to finish
    release.set()
    one.join(TIMEOUT)
    two.join(TIMEOUT)
    db.session.expire_all()
    return Interleaving(results[0], results[1], second_waited)


def _waits(thread: threading.Thread, deadline: float) -> bool:
    """Whether `thread` waits: seen waiting for a row or table lock in this run's database (pg_stat_activity on
    PostgreSQL), which ends the watch at once, or still running at `deadline`."""
    while thread.is_alive() and time.monotonic() < deadline:
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                if conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND wait_event_type = 'Lock'")):
                    return True
        thread.join(0.02)
    return thread.is_alive()
