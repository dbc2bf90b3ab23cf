"""Requests per second of the main pages, as a share of a trivial route, under gunicorn (DESIGN.md "Pages").

The app runs as in production: gunicorn with 2 sync workers on the Yuyuan Road demo (SQLite, loaded by
`flask demo load`), and ApacheBench sends 8 concurrent connections for a few seconds per page, logged in
as the person who reads that page. The floor is /healthz (one `SELECT 1`, no template) in the same run;
each page's rate is reported as a share of it, against DESIGN.md's 25%.

Needs `ab` (Debian's apache2-utils): installed here when missing and running as root.

    PYTHONPATH=. .venv/bin/python bench/page_throughput.py [--seconds 5] [--no-check]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_SHARE = 0.25
WORKERS, CONNECTIONS = 2, 8
PASSWORD = "Yuyuan2026!"  # noqa: S105 - the documented demo password
OWNER, LEAD = "13800000004", "13800000001"


@dataclass
class Page:
    name: str
    path: str
    login: str | None  # None: anonymous


def ensure_ab() -> str:
    found = shutil.which("ab")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("ApacheBench (ab) is missing: apt-get install -y apache2-utils")
    subprocess.run(["apt-get", "install", "-y", "-q", "apache2-utils"],  # noqa: S607 - Debian's own apt
                   check=True, stdout=subprocess.DEVNULL)
    return shutil.which("ab") or sys.exit("ab still missing after installing apache2-utils")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict, *args: str) -> str:
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,  # noqa: S603
                          capture_output=True, text=True).stdout


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the server at {url} did not come up")


def session_cookie(base: str, login: str) -> str:
    """Log in through the real form (CSRF token included); the session cookie as `name=value`."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "login": login, "password": PASSWORD}).encode()
    opener.open(f"{base}/login", data=data).read()
    cookies = [c for c in jar if c.name == "session"]
    if not cookies:
        sys.exit(f"logging in as {login} failed")
    return f"session={cookies[0].value}"


def requests_per_second(ab: str, url: str, cookie: str | None, seconds: int) -> tuple[float, int]:
    """ab's requests per second over `seconds`, and how many responses were not 2xx."""
    command = [ab, "-q", "-c", str(CONNECTIONS), "-t", str(seconds), "-n", "1000000"]
    if cookie:
        command += ["-C", cookie]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout  # noqa: S603
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", output).group(1))
    failed = re.search(r"Non-2xx responses:\s+(\d+)", output)
    return rate, int(failed.group(1)) if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="load per page")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even when a page is under the target")
    args = parser.parse_args()
    ab = ensure_ab()

    with tempfile.TemporaryDirectory(prefix="throughput-") as workdir:
        env = {**os.environ, "APP_ENV": "development", "INSTANCE_PATH": workdir,
               "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3", "STORAGE_LOCAL_ROOT": f"{workdir}/files",
               "MAIL_BACKEND": "log", "FLASK_DEBUG": "0"}
        flask(env, "db", "upgrade")
        flask(env, "demo", "load")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            [str(BIN / "gunicorn"), "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
             "wsgi:app"], cwd=ROOT, env=env)
        try:
            wait_for(f"{base}/healthz")
            cookies = {login: session_cookie(base, login) for login in (OWNER, LEAD)}
            pages = [
                Page("home (a member's dashboard)", "/", OWNER),
                Page("my shop", "/shops/1", OWNER),
                Page("my renovation projects", "/projects/mine", OWNER),
                Page("a project (3 versions, timeline)", "/projects/3", LEAD),
                Page("shop register (91 shops)", "/alliances/1/shops", LEAD),
                Page("the alliance's projects", "/alliances/1/projects", LEAD),
                Page("fund overview", "/alliances/1/fund", OWNER),
                Page("fund entries", "/alliances/1/fund/entries", OWNER),
                Page("monthly statement", "/alliances/1/fund/statement", OWNER),
                Page("contributions by shop", "/alliances/1/fund/shops", OWNER),
                Page("expenses", "/alliances/1/fund/expenses", OWNER),
                Page("pledges and arrears", "/alliances/1/fund/pledges", LEAD),
            ]
            requests_per_second(ab, f"{base}/healthz", None, 1)  # warm both workers up
            floor, _ = requests_per_second(ab, f"{base}/healthz", None, args.seconds)
            print(f"gunicorn, {WORKERS} sync workers, {CONNECTIONS} connections (ab), {args.seconds} s a page, "
                  f"Yuyuan Road demo on SQLite.")
            print(f"  {'page':<38}{'req/s':>9}{'share':>9}   target")
            print(f"  {'/healthz (floor: SELECT 1, no template)':<38}{floor:>9.0f}{1:>9.0%}")
            missed = False
            for page in pages:
                cookie = cookies.get(page.login) if page.login else None
                requests_per_second(ab, base + page.path, cookie, 1)
                rate, failed = requests_per_second(ab, base + page.path, cookie, args.seconds)
                share = rate / floor
                verdict = f"≥ {TARGET_SHARE:.0%} " + ("ok" if share >= TARGET_SHARE else "MISSED")
                if failed:
                    verdict = f"WRONG ANSWER: {failed} responses were not 2xx"
                missed |= bool(failed) or share < TARGET_SHARE
                print(f"  {page.name:<38}{rate:>9.0f}{share:>9.0%}   {verdict}")
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 1 if missed and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
