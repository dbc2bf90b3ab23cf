"""Requests per second and latency of the main pages under gunicorn, at demo size and at district scale.

The app runs as in production: gunicorn with 2 sync workers, and ApacheBench sends 8 concurrent
connections for a few seconds per page, logged in as the person who reads that page. The floor is
/healthz (one `SELECT 1`, no template) in the same run; each page's rate is reported as a share of it.

Targets (DESIGN.md "Pages", the speed issue): at demo size (the Yuyuan Road demo, `flask demo load`)
every page reaches 25% of the floor; at district scale (bench/district.py: 200 alliances, 20,000
shops, 1.05 M ledger entries) every page's p95 is at most 150 ms and its median at most twice its
demo-size median.

Needs `ab` (Debian's apache2-utils): installed here when missing and running as root.

    PYTHONPATH=. .venv/bin/python bench/page_throughput.py [--seconds 3] [--rounds 3] [--postgres [URL]]
        [--district SCALE | --no-district] [--no-check]
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET_SHARE = 0.25
TARGET_P95_MS = 150.0
TARGET_GROWTH = 2.0  # district median / demo median
WORKERS, CONNECTIONS = 2, 8


@dataclass
class Scene:
    """Whose pages are measured, and on which alliance."""

    name: str
    password: str
    owner: str
    lead: str
    alliance: int
    shop: int
    project: int

    def pages(self) -> list[Page]:
        a, owner, lead = self.alliance, self.owner, self.lead
        return [
            Page("home (a member's dashboard)", "/", owner),
            Page("my shop", f"/shops/{self.shop}", owner),
            Page("my renovation projects", "/projects/mine", owner),
            Page("a project (versions, timeline)", f"/projects/{self.project}", lead),
            Page("notifications", "/notifications", lead),
            Page("shop register", f"/alliances/{a}/shops", lead),
            Page("the alliance's projects", f"/alliances/{a}/projects", lead),
            Page("audit log", f"/alliances/{a}/audit", lead),
            Page("fund overview", f"/alliances/{a}/fund", owner),
            Page("fund entries", f"/alliances/{a}/fund/entries", owner),
            Page("monthly statement", f"/alliances/{a}/fund/statement", owner),
            Page("contributions by shop", f"/alliances/{a}/fund/shops", owner),
            Page("expenses", f"/alliances/{a}/fund/expenses", owner),
            Page("pledges and arrears", f"/alliances/{a}/fund/pledges", lead),
        ]


@dataclass
class Page:
    name: str
    path: str
    login: str | None  # None: anonymous


@dataclass
class Load:
    rate: float  # requests per second
    p50: float  # ms
    p95: float  # ms
    failed: int  # responses that were not 2xx


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


def session_cookie(base: str, login: str, password: str) -> str:
    """Log in through the real form (CSRF token included); the session cookie as `name=value`."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "login": login, "password": password}).encode()
    opener.open(f"{base}/login", data=data).read()
    cookies = [c for c in jar if c.name == "session"]
    if not cookies:
        sys.exit(f"logging in as {login} failed")
    return f"session={cookies[0].value}"


def load(ab: str, url: str, cookie: str | None, seconds: int) -> Load:
    """What ab measured over `seconds` at CONNECTIONS concurrent connections."""
    command = [ab, "-q", "-c", str(CONNECTIONS), "-t", str(seconds), "-n", "1000000"]
    if cookie:
        command += ["-C", cookie]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout  # noqa: S603
    failed = re.search(r"Non-2xx responses:\s+(\d+)", output)

    def percentile(share: int) -> float:
        return float(re.search(rf"^\s+{share}%\s+(\d+)", output, re.MULTILINE).group(1))

    return Load(rate=float(re.search(r"Requests per second:\s+([\d.]+)", output).group(1)),
                p50=percentile(50), p95=percentile(95), failed=int(failed.group(1)) if failed else 0)


def demo_scene(env: dict) -> Scene:
    from merchant_alliance.demo import DEMO_PASSWORD

    flask(env, "demo", "load")
    return Scene("the Yuyuan Road demo", DEMO_PASSWORD, owner="13800000004", lead="13800000001", alliance=1, shop=1,
                 project=3)


def district_scene(env: dict, scale: float) -> Scene:
    """Fill the database with a district (in this process, through the app's own models)."""
    from bench import district
    from config import DevelopmentConfig
    from merchant_alliance import create_app
    from merchant_alliance.extensions import db

    app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=env["DATABASE_URL"],
                     STORAGE_LOCAL_ROOT=env["STORAGE_LOCAL_ROOT"], MAIL_BACKEND="memory")
    spec = district.Spec.scaled(scale) if scale != 1 else district.Spec()
    with app.app_context():
        built = district.build(spec)
        db.session.remove()
        db.engine.dispose()
    print(f"  (district built in {built.seconds:.0f} s: {built.counts['alliances']} alliances, "
          f"{built.counts['shops']:,} shops, {built.counts['projects']:,} projects, "
          f"{built.counts['ledger_entries']:,} ledger entries, {built.counts['photos']:,} photos, "
          f"{built.counts['audit_events']:,} audit events)")
    return Scene(f"a district ×{scale:g}", district.PASSWORD, owner=built.owner_phone, lead=built.lead_phone,
                 alliance=built.first_alliance_id, shop=built.owner_shop_id, project=built.project_id)


@contextlib.contextmanager
def served(env: dict) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [str(BIN / "gunicorn"), "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "wsgi:app"], cwd=ROOT, env=env)
    try:
        wait_for(f"{base}/healthz")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@dataclass
class Measured:
    """A page over several rounds: its load in each, and its share of the floor measured in the same round."""

    loads: list[Load]
    shares: list[float]

    @property
    def rate(self) -> float:
        return statistics.median(x.rate for x in self.loads)

    @property
    def p50(self) -> float:
        return statistics.median(x.p50 for x in self.loads)

    @property
    def p95(self) -> float:
        return statistics.median(x.p95 for x in self.loads)

    @property
    def share(self) -> float:
        return statistics.median(self.shares)

    @property
    def failed(self) -> int:
        return sum(x.failed for x in self.loads)


def measure(ab: str, env: dict, scene: Scene, seconds: int, rounds: int) -> tuple[Measured, dict[str, Measured]]:
    """Each round loads the floor, then every page; a page's share is taken against its own round's floor, and
    each figure is the median over the rounds (the machine's own drift between rounds cancels out)."""
    floors: list[Load] = []
    results = {page.name: Measured([], []) for page in scene.pages()}
    with served(env) as base:
        cookies = {login: session_cookie(base, login, scene.password) for login in (scene.owner, scene.lead)}
        load(ab, f"{base}/healthz", None, 1)  # warm both workers up
        for page in scene.pages():
            load(ab, base + page.path, cookies.get(page.login) if page.login else None, 1)
        for _ in range(rounds):
            floor = load(ab, f"{base}/healthz", None, seconds)
            floors.append(floor)
            for page in scene.pages():
                result = load(ab, base + page.path, cookies.get(page.login) if page.login else None, seconds)
                results[page.name].loads.append(result)
                results[page.name].shares.append(result.rate / floor.rate)
    return Measured(floors, [1.0] * rounds), results


@contextlib.contextmanager
def environment(workdir: Path, name: str, postgres: str | None) -> Iterator[dict]:
    from bench.common import database

    with database(postgres, name, workdir) as url:
        env = {**os.environ, "APP_ENV": "development", "INSTANCE_PATH": str(workdir), "DATABASE_URL": url,
               "STORAGE_LOCAL_ROOT": str(workdir / f"files-{name}"), "MAIL_BACKEND": "log", "FLASK_DEBUG": "0",
               "PYTHONPATH": str(ROOT)}
        flask(env, "db", "upgrade")
        yield env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="load per page in each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the floor and every page")
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="run on PostgreSQL (default URL: TEST_POSTGRES_URL)")
    parser.add_argument("--district", type=float, default=1.0, metavar="SCALE",
                        help="the district's size as a share of the full one (default 1)")
    parser.add_argument("--no-district", action="store_true", help="measure the demo only")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even when a target is missed")
    args = parser.parse_args()
    ab = ensure_ab()
    from bench.common import postgres_url

    postgres = postgres_url(args.postgres) if args.postgres is not None else None
    engine = "PostgreSQL" if postgres else "SQLite"
    missed = False
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        workdir = Path(tmp)
        with environment(workdir, "demo", postgres) as env:
            demo = demo_scene(env)
            floor, at_demo = measure(ab, env, demo, args.seconds, args.rounds)
        print(f"gunicorn, {WORKERS} sync workers, {CONNECTIONS} connections (ab), {args.seconds} s a page, "
              f"{engine}, {demo.name}; medians of {args.rounds} rounds, each page against its round's floor.")
        print(f"  {'page':<34}{'req/s':>8}{'share':>8}{'p50':>8}{'p95':>8}   target ≥ {TARGET_SHARE:.0%} of the floor")
        print(f"  {'/healthz (floor: SELECT 1)':<34}{floor.rate:>8.0f}{1:>8.0%}{floor.p50:>6.0f}ms{floor.p95:>6.0f}ms")
        for name, result in at_demo.items():
            share = result.share
            verdict = "ok" if share >= TARGET_SHARE else "MISSED"
            if result.failed:
                verdict = f"WRONG ANSWER: {result.failed} responses were not 2xx"
            missed |= verdict != "ok"
            print(f"  {name:<34}{result.rate:>8.0f}{share:>8.0%}{result.p50:>6.0f}ms{result.p95:>6.0f}ms   {verdict}")
        if args.no_district:
            return 1 if missed and not args.no_check else 0
        with environment(workdir, "district", postgres) as env:
            started = time.perf_counter()
            district = district_scene(env, args.district)
            _, at_district = measure(ab, env, district, args.seconds, args.rounds)
        print(f"\n{district.name} on {engine} ({time.perf_counter() - started:.0f} s with the build).")
        print(f"  {'page':<34}{'req/s':>8}{'p50':>8}{'p95':>8}{'×demo':>8}   target p95 ≤ {TARGET_P95_MS:.0f} ms, "
              f"median ≤ {TARGET_GROWTH:g}× demo")
        for name, result in at_district.items():
            growth = result.p50 / max(at_demo[name].p50, 1.0)
            verdict = "ok" if result.p95 <= TARGET_P95_MS and growth <= TARGET_GROWTH else "MISSED"
            if result.failed:
                verdict = f"WRONG ANSWER: {result.failed} responses were not 2xx"
            missed |= verdict != "ok"
            print(f"  {name:<34}{result.rate:>8.0f}{result.p50:>6.0f}ms{result.p95:>6.0f}ms{growth:>7.1f}×   {verdict}")
    return 1 if missed and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
