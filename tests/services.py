"""What the suite needs from outside Python: PostgreSQL, Redis and Chromium.

Locally a missing service skips the tests that need it; under CI=true it fails them instead,
so a CI run can never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(name: str, value: str | None, how: str) -> str:
    """The service's address or path; skip (locally) or fail (in CI) when it is missing."""
    if value:
        return value
    message = f"{name} is not available: {how}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: tests may not skip for a missing service)", pytrace=False)
    pytest.skip(message)


def postgres_url() -> str:
    return require_service(
        "PostgreSQL", os.environ.get("TEST_POSTGRES_URL"),
        "run `make test` (it starts a local cluster) or set TEST_POSTGRES_URL",
    )


def redis_url() -> str:
    return require_service(
        "Redis", os.environ.get("TEST_REDIS_URL"),
        "run `make test` (it starts a local redis-server) or set TEST_REDIS_URL",
    )


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    return require_service("Chromium", path, "run `make test` as root or apt-get install chromium")


@contextlib.contextmanager
def private_postgres_database(server_url: str, name: str) -> Iterator[str]:
    """Create database `name` on the server of `server_url`, yield its URL, and drop it afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        drop_database(conn, name)
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            drop_database(conn, name)


def drop_database(conn, name: str, attempts: int = 20) -> None:
    """Drop database `name`, closing what is still connected to it.

    `WITH (FORCE)` refuses (InsufficientPrivilege) when an autovacuum worker happens to be in the
    database and the role lacks pg_signal_backend; a plain DROP stops autovacuum workers by itself,
    so that is tried next, and retried while a connection is still closing.
    """
    import time

    import psycopg

    for attempt in range(attempts):
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            pass
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            return
        except psycopg.errors.ObjectInUse:
            if attempt == attempts - 1:
                raise
            time.sleep(0.25)
