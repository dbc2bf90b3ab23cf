"""What the benchmarks share: a database of their own, on SQLite or PostgreSQL, and a page's timings."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def database(postgres: str | None, name: str, workdir: Path) -> Iterator[str]:
    """A fresh, empty database of the bench's own: a SQLite file, or a private PostgreSQL database."""
    if postgres is None:
        yield f"sqlite:///{workdir / (name + '.sqlite3')}"
        return
    from tests.services import private_postgres_database

    with private_postgres_database(postgres, f"merchant_bench_{name}_{os.getpid()}") as url:
        yield url


def postgres_url(given: str) -> str:
    """--postgres URL, else TEST_POSTGRES_URL from the environment or instance/test-services.env."""
    if given:
        return given
    if os.environ.get("TEST_POSTGRES_URL"):
        return os.environ["TEST_POSTGRES_URL"]
    env_file = ROOT / "instance" / "test-services.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "TEST_POSTGRES_URL" and value.strip():
                return value.strip()
    raise SystemExit("--postgres: give a URL, set TEST_POSTGRES_URL, or run `make test` once to start PostgreSQL")


def login(app, phone: str, password: str):
    """A test client of the app, logged in through the real form (its CSRF token and all)."""
    import re

    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
    data = {"login": phone, "password": password}
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post("/login", data=data)
    if response.status_code != 302:
        raise SystemExit(f"logging in as {phone} failed: HTTP {response.status_code}")
    return client


@dataclass(kw_only=True)
class Timing:
    """The timings of one page over several requests: wall and CPU time, time in the database, queries."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this process's CPU time
    sql: list[float] = field(default_factory=list)  # time in cursor.execute
    queries: list[int] = field(default_factory=list)
    statements: list[tuple[float, str, object]] = field(default_factory=list)  # of the last request

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall) * 1000

    @property
    def p95_ms(self) -> float:
        if len(self.wall) < 2:
            return self.median_ms
        return statistics.quantiles(self.wall, n=20, method="inclusive")[-1] * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000

    @property
    def sql_ms(self) -> float:
        return statistics.median(self.sql) * 1000
