"""The login limits hold across processes: two app servers share one Redis, as gunicorn's workers do.

Each server is a separate Python process on a free port, with its own memory; they share a SQLite
file and the Redis store. With counters kept in process memory, guesses spread over both servers
would each stay under the limit.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from limits.storage import RedisStorage

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts.models import User
from merchant_alliance.accounts.services import hash_password
from merchant_alliance.extensions import db
from tests.factories import PASSWORD
from tests.services import redis_url

pytestmark = pytest.mark.redis

PROJECT_DIR = Path(__file__).resolve().parents[2]
SERVER = """
import json, sys
from werkzeug.serving import make_server
from config import TestingConfig
from merchant_alliance import create_app

app = create_app(TestingConfig, **json.loads(sys.argv[1]))
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def shared_settings(tmp_path) -> Iterator[dict]:
    """A SQLite file with one shop owner in it, and a Redis key prefix of this test's own."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "RATELIMIT_STORAGE_URI": redis_url(),
        "RATELIMIT_STORAGE_OPTIONS": {"key_prefix": f"merchant-test-{uuid.uuid4().hex}"},
        "LOGIN_ACCOUNT_LIMIT": "5 per 15 minutes",
        "LOGIN_IP_LIMIT": "8 per 15 minutes",
    }
    app = create_app(TestingConfig, **settings)
    with app.app_context():
        db.create_all()
        db.session.add(User(name="王店主", phone="13800000001", email="wang@yuyuan.example",
                            password_hash=hash_password(PASSWORD)))
        db.session.commit()
        db.engine.dispose()
    yield settings
    prefix = settings["RATELIMIT_STORAGE_OPTIONS"]["key_prefix"]
    RedisStorage(settings["RATELIMIT_STORAGE_URI"], key_prefix=prefix).reset()


@pytest.fixture
def two_servers(shared_settings) -> Iterator[list[int]]:
    """The ports of two separate app processes with the same settings."""
    processes = []
    try:
        for _server in range(2):
            processes.append(subprocess.Popen(  # noqa: S603 - fixed arguments
                [sys.executable, "-c", SERVER, json.dumps(shared_settings)], cwd=PROJECT_DIR,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)},
            ))
        yield [int(process.stdout.readline()) for process in processes]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
            process.stdout.close()


def login(port: int, identifier: str, password: str) -> int:
    """POST the login form to one server; its status (302 in, 200 wrong password, 429 locked)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/login", urlencode({"login": identifier, "password": password}),
                           {"Content-Type": "application/x-www-form-urlencoded"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_failures_spread_over_two_processes_are_counted_together(two_servers):
    """An attacker alternates between two workers: the account's five guesses are five, not 3 + 2."""
    first, second = two_servers
    for port in (first, second, first, second, first):
        assert login(port, "13800000001", "wrong-password-1") == 200

    assert login(second, "13800000001", PASSWORD) == 429
    assert login(first, "wang@yuyuan.example", PASSWORD) == 429

    # The address limit (8 here) is shared too: five failures above, three more on made-up accounts.
    for port, name in ((second, "13900000001"), (first, "13900000002"), (second, "13900000003")):
        assert login(port, name, "wrong-password-1") == 200
    assert login(first, "13900000004", "wrong-password-1") == 429
    assert login(second, "13900000005", "wrong-password-1") == 429
