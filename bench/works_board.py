"""The lead's works board (GET /alliances/<id>/works) at the size the works issue names: an alliance with 2,000 active
work orders and 20,000 milestones answers in at most 100 ms (median).

Builds a fresh database with the district generator (bench/district.py, bulk inserts, every domain's step): first one
alliance where most projects have reached the works, about 2,300 orders under way (contracted or in progress) and as
many completed, some 22,000 milestones, with their quotes, site logs, punch items, change orders and payments; then
--district SCALE of an ordinary district around it (default 0.1: 20 alliances of their own, so that every table also
holds other alliances' rows). It logs in through the real login form and times --runs rounds of three requests through
the test client, interleaved so that they share the noise:

- the works board as the alliance's lead (its first page: the active orders, the next due first);
- the home ("/") of the person who logs in for the contractor with the most orders (its open orders, milestones due
  this week, punch items to fix, requests for quotes);
- the page of one work order in progress (milestones, site log, punch list, changes, payments), as the lead.

Each response must be 200, and the board and the contractor's open orders must list the orders the data says, in the
board's order (next due date, then id; worked out here without the app's query). The same is done at a small size (10 %
of the busy alliance, no district around it: every list on the pages still has rows, so that the counts compare), and
the number of SQL queries per request is compared between the two sizes (DESIGN.md: it must not grow with the data).

    PYTHONPATH=. .venv/bin/python bench/works_board.py [--runs 100] [--district 0.1] [--small 0.1]
        [--postgres [URL]] [--explain] [--no-check]

The exit status is 1 when the board's median misses the target, a query count grows, or a page shows the wrong orders
(--no-check: 0). --explain (or a missed target) shows the slowest statements of one board request and the plan of the
slowest. The schema is built by the migrations; SQLite gets no ANALYZE, as in production; PostgreSQL is vacuumed and
analysed after the load, as autovacuum would.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench import district  # noqa: E402
from bench.common import Timing, database, login, postgres_url  # noqa: E402
from bench.fund_books import QueryLog, slowest_statements  # noqa: E402
from config import DevelopmentConfig  # noqa: E402
from merchant_alliance import create_app  # noqa: E402
from merchant_alliance.extensions import db  # noqa: E402
from merchant_alliance.projects.models import ProjectState  # noqa: E402
from merchant_alliance.timeutil import local_today  # noqa: E402
from merchant_alliance.works.models import (  # noqa: E402
    ChangeOrder,
    Milestone,
    MilestoneState,
    OrderPayment,
    OrderState,
    PunchItem,
    PunchState,
    Quote,
    QuoteState,
    SiteLogEntry,
    WorkOrder,
    contractor_users,
)
from merchant_alliance.works.queries import BOARD_PAGE  # noqa: E402

TARGET_MS = 100.0  # the board's median, at the full size
WARM_UP = 5
CONTRACTOR_LIST = 20  # the open orders on a contractor's home (works.queries.contractor_work's limit)
# Where the busy alliance's projects stand: most have reached the works, about half of those are under way.
WORKS_STATES = {
    ProjectState.DRAFT: 1, ProjectState.SUBMITTED: 1, ProjectState.DESIGN_APPROVED: 1, ProjectState.FUNDED: 4,
    ProjectState.CONTRACTED: 18, ProjectState.IN_PROGRESS: 27, ProjectState.INSTALLED: 4, ProjectState.COMPLETED: 42,
    ProjectState.WITHDRAWN: 1, ProjectState.REJECTED: 1,
}
BUSY = district.Spec(streets=1, alliances_per_street=1, shops_per_alliance=1_000, projects=5_000, entries=50_000,
                     photos=0, audit_events=20_000, states=WORKS_STATES)
ACTIVE_AT_LEAST, MILESTONES_AT_LEAST = 2_000, 20_000  # the size


@dataclass
class World:
    """What was built, and what the pages of the busy alliance must show."""

    built: district.District
    seconds: float
    around: district.District | None = None
    active: int = 0
    completed: int = 0
    milestones: int = 0  # the busy alliance's
    all_milestones: int = 0  # every alliance's
    board: list[int] = field(default_factory=list)  # the first page's order ids, in order
    contractor_orders: list[int] = field(default_factory=list)
    contractor: str = ""  # what the contractor's home lists
    order: str = ""  # what the order measured holds
    empty: dict[str, set[str]] = field(default_factory=dict)  # per page, its lists without rows


def build(busy: district.Spec, around: float) -> World:
    """The busy alliance, then `around` of a district (in the current app context), and what the pages must show."""
    started = time.perf_counter()
    ids = district.Ids()
    world = World(built=district.build(busy, ids=ids), seconds=0.0)
    if around > 0:
        world.around = district.build(district.Spec.scaled(around), ids=ids)
    world.seconds = time.perf_counter() - started
    alliance = world.built.first_alliance_id
    # The board's order worked out here: the active orders by their first open milestone's due date (none last), id.
    active = {order_id: contractor for order_id, contractor in db.session.execute(
        select(WorkOrder.id, WorkOrder.contractor_id)
        .where(WorkOrder.alliance_id == alliance, WorkOrder.state != OrderState.COMPLETED))}
    next_due: dict[int, date] = {}
    for order_id, due_on, state in db.session.execute(
            select(Milestone.order_id, Milestone.due_on, Milestone.state).where(Milestone.alliance_id == alliance)):
        world.milestones += 1
        if order_id in active and state != MilestoneState.ACCEPTED:
            next_due[order_id] = min(due_on, next_due.get(order_id, due_on))
    ranked = sorted(active, key=lambda o: (o not in next_due, next_due.get(o, date.min), o))
    world.active, world.board = len(active), ranked[:BOARD_PAGE]
    world.completed = db.session.scalar(select(func.count()).where(WorkOrder.alliance_id == alliance,
                                                                   WorkOrder.state == OrderState.COMPLETED))
    world.all_milestones = db.session.scalar(select(func.count()).select_from(Milestone))
    contractor = db.session.scalar(select(contractor_users.c.contractor_id).join_from(
        contractor_users, WorkOrder, WorkOrder.contractor_id == contractor_users.c.contractor_id)
        .where(WorkOrder.alliance_id == alliance).limit(1))
    theirs = [o for o in ranked if active[o] == contractor]
    world.contractor_orders = theirs[:CONTRACTOR_LIST]
    of_theirs = WorkOrder.contractor_id == contractor
    lists = {
        "requests for quotes": db.session.scalar(select(func.count()).where(
            Quote.contractor_id == contractor, Quote.state == QuoteState.INVITED)),
        "milestones due this week": db.session.scalar(select(func.count()).select_from(Milestone).join(WorkOrder).where(
            of_theirs, Milestone.state.in_((MilestoneState.PENDING, MilestoneState.RETURNED)),
            Milestone.due_on <= local_today() + timedelta(days=7))),
        "punch items to fix": db.session.scalar(select(func.count()).select_from(PunchItem).join(WorkOrder).where(
            of_theirs, PunchItem.state == PunchState.OPEN))}
    world.contractor = f"{len(theirs):,} active orders of theirs, " + ", ".join(f"{n:,} {k}" for k, n in lists.items())
    order = world.built.order_id
    held = {name: db.session.scalar(select(func.count()).where(model.order_id == order)) for name, model in (
        ("log entries", SiteLogEntry), ("punch items", PunchItem), ("changes", ChangeOrder),
        ("payments", OrderPayment))}
    world.order = f"#{order}: 5 milestones, " + ", ".join(f"{n} {k}" for k, n in held.items())
    # A list with no rows costs no eager-loading queries: the counts compare only where the same lists have rows.
    world.empty = {"contractor's home": {k for k, n in lists.items() if not n},
                   "work order page": {k for k, n in held.items() if not n}}
    return world


# --- timing -------------------------------------------------------------------------------------


@dataclass
class PageTiming(Timing):
    errors: list[str] = field(default_factory=list)


def order_links(body: str, testid: str | None = None) -> list[int]:
    """The work orders a page links to, in order (inside the element marked `testid`, if given)."""
    if testid is not None:
        found = re.search(rf'data-testid="{testid}".*?</ul>', body, re.DOTALL)
        body = found.group(0) if found else ""
    return [int(n) for n in re.findall(r'href="/orders/(\d+)"', body)]


@dataclass
class Page:
    name: str
    who: str  # "lead" or "contractor"
    url: str
    check: Callable[[str], str | None]  # None when the page shows what it must
    timing: PageTiming = field(default_factory=PageTiming)
    plan: list[str] = field(default_factory=list)  # the slowest statements of one request, and a plan


def pages(world: World) -> list[Page]:
    def board(body: str) -> str | None:
        shown = order_links(body, "board")
        return None if shown == world.board else f"the board lists {shown[:5]}…, expected {world.board[:5]}…"

    def home(body: str) -> str | None:
        shown = order_links(body, "open-orders")
        return None if shown == world.contractor_orders else \
            f"the contractor's open orders are {shown[:5]}…, expected {world.contractor_orders[:5]}…"

    def order(body: str) -> str | None:
        return None if 'id="milestone-' in body else "no milestones on the order's page"

    return [Page("works board", "lead", f"/alliances/{world.built.first_alliance_id}/works", board),
            Page("contractor's home", "contractor", "/", home),
            Page("work order page", "lead", f"/orders/{world.built.order_id}", order)]


def measure(app: Flask, world: World, runs: int) -> list[Page]:
    with app.app_context():
        log = QueryLog(db.engine)
    clients = {"lead": login(app, world.built.lead_phone, district.PASSWORD),
               "contractor": login(app, world.built.contractor_phone, district.PASSWORD)}
    measured = pages(world)
    for run in range(WARM_UP + runs):
        for page in measured:
            if page.timing.errors:
                continue
            log.reset()
            started, cpu_started = time.perf_counter(), time.process_time()
            response = clients[page.who].get(page.url)
            body = response.get_data(as_text=True)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            error = f"HTTP {response.status_code}" if response.status_code != 200 else page.check(body)
            if error:
                page.timing.errors.append(error)
            elif run >= WARM_UP:
                page.timing.wall.append(took)
                page.timing.cpu.append(cpu)
                page.timing.sql.append(log.seconds)
                page.timing.queries.append(log.count)
                page.timing.statements = log.statements
    return measured


def run_size(busy: district.Spec, around: float, runs: int, postgres: str | None, workdir: Path,
             name: str) -> tuple[World, list[Page]]:
    with database(postgres, name, workdir) as url:
        app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=url, STORAGE_LOCAL_ROOT=str(workdir / "files"),
                         MAIL_BACKEND="memory", OUTBOX_THREAD=False)  # no mail thread's queries in the counts
        with app.app_context():
            upgrade()
            world = build(busy, around)
            db.session.remove()
        measured = measure(app, world, runs)
        with app.app_context():
            board = measured[0]
            if board.timing.statements:
                board.plan = slowest_statements(board.timing.statements)
            db.session.remove()
            db.engine.dispose()
    return world, measured


# --- the report ---------------------------------------------------------------------------------


def queries_of(timing: Timing) -> str:
    counts = sorted(set(timing.queries))
    return "/".join(str(c) for c in counts) + ("~" if len(counts) > 1 else "")


def figures(page: Page, world: World) -> str:
    about = {"works board": f"{world.active:,} active orders, {world.milestones:,} milestones",
             "contractor's home": world.contractor,
             "work order page": world.order}[page.name]
    timing = page.timing
    if not timing.wall:
        return f"{page.name} ({about}): WRONG ANSWER: {timing.errors[0] if timing.errors else 'nothing timed'}"
    return (f"{page.name} ({about}): median {timing.median_ms:.1f} ms, p95 {timing.p95_ms:.1f} ms, "
            f"{queries_of(timing)} queries (cpu {timing.cpu_ms:.1f} ms, sql {timing.sql_ms:.1f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="timed rounds of the three pages at the full size")
    parser.add_argument("--district", type=float, default=0.1, metavar="SCALE",
                        help="the share of bench/district.py's district built around the busy alliance (0: none)")
    parser.add_argument("--small", type=float, default=0.1, help="the share of the busy alliance the query counts "
                        "are compared at (default 10 %%)")
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="run on PostgreSQL (default URL: TEST_POSTGRES_URL)")
    parser.add_argument("--explain", action="store_true", help="show the slowest statements of a board request and "
                        "the plan of the slowest (shown anyway when the target is missed)")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even when the target is missed")
    args = parser.parse_args()
    postgres = postgres_url(args.postgres) if args.postgres is not None else None
    small = replace(BUSY, shops_per_alliance=max(10, round(BUSY.shops_per_alliance * args.small)),
                    projects=max(20, round(BUSY.projects * args.small)), entries=round(BUSY.entries * args.small),
                    audit_events=round(BUSY.audit_events * args.small))
    results = {}
    with tempfile.TemporaryDirectory(prefix="works-board-") as workdir:
        results["full"] = run_size(BUSY, args.district, args.runs, postgres, Path(workdir), "works_full")
        results["small"] = run_size(small, 0, max(20, args.runs // 4), postgres, Path(workdir), "works_small")

    world, full = results["full"]
    small_world, small_pages = results["small"]
    backend = "PostgreSQL" if postgres else "SQLite"
    around = world.around.counts if world.around else None
    print(f"The works board, a contractor's home and a work order on {backend} (migrations).")
    print(f"full size: built in {world.seconds:.0f} s: the busy alliance has {world.active:,} active and "
          f"{world.completed:,} completed work orders, {world.milestones:,} milestones"
          + (f"; around it {around['alliances']} alliances with {around['work_orders']:,} work orders; "
             f"{world.all_milestones:,} milestones in all" if around else ""))
    print(f"small size ({args.small:.0%}): {small_world.active:,} active and {small_world.completed:,} completed "
          f"work orders, {small_world.milestones:,} milestones")
    print(f"\nWall time per request through the test client after {WARM_UP} warm-up rounds; "
          f"{len(full[0].timing.wall)} timed at the full size, {len(small_pages[0].timing.wall)} at the small "
          "size; cpu: this process's CPU time, sql: time in cursor.execute (medians).")
    failed = world.active < ACTIVE_AT_LEAST or world.milestones < MILESTONES_AT_LEAST
    if failed:
        print(f"  TOO SMALL: the issue asks for {ACTIVE_AT_LEAST:,} active orders and {MILESTONES_AT_LEAST:,} "
              "milestones")
    for page in full:
        print(f"  {figures(page, world)}")
        failed |= not page.timing.wall or bool(page.timing.errors)
    print("  small size:")
    for page, little in zip(full, small_pages, strict=True):
        print(f"    {figures(little, small_world)}")
        failed |= not little.timing.wall or bool(little.timing.errors)
        if world.empty.get(page.name) != small_world.empty.get(page.name):
            print(f"    {page.name}: queries not compared, the lists without rows differ: "
                  f"{', '.join(sorted(small_world.empty[page.name])) or 'none'} at the small size, "
                  f"{', '.join(sorted(world.empty[page.name])) or 'none'} at the full size")
        elif page.timing.queries and little.timing.queries:
            grows = max(page.timing.queries) != max(little.timing.queries) or len(set(page.timing.queries)) > 1
            if grows:
                print(f"    {page.name}: QUERIES GROW with the data ({queries_of(little.timing)} → "
                      f"{queries_of(page.timing)})")
            failed |= grows
    board = full[0].timing
    missed = not board.wall or board.median_ms > TARGET_MS
    print(f"  target: the board's median ≤ {TARGET_MS:.0f} ms at the full size: {'MISSED' if missed else 'ok'}")
    failed |= missed
    plan = full[0].plan
    if plan and (args.explain or missed):
        print("\nThe slowest statements of one board request at the full size:")
        for line in plan:
            print(f"    {line}")
    return 1 if failed and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
