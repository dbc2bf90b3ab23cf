"""The street office's sign registry (GET /streets/<id>/registry and its CSV) at the size the registry issue names: a
district of 20 streets, 20,000 signs, 50,000 inspections and 10,000 hazard reports answers its filtered first page in
at most 100 ms (median), and the CSV of one street streams in constant memory.

Builds a fresh database with the district generator (bench/district.py, bulk inserts, every domain's step, the
registry's included: each sign's inspections, certificates, rectification orders, risk level and schedule, and the
public's hazard reports): 20 streets of 10 alliances × 100 shops with one sign each (the ledger, works and audit trail
thinner than the district's, as the registry reads none of them), then a 21st street five times as big (50 alliances,
5,000 signs), for the CSV at two sizes. It checks that every sign's registry line agrees with the records behind it
(last inspection, next due date = the certificate in force's, open reports), logs in through the real login form as
the officer of a street of 1,000 signs and as the officer of the big street, and times --runs rounds of the
registry's first page with a few filter sets, interleaved so that they share the noise. Each response must be 200 and
list the signs the data says, in the registry's order (most urgent first; worked out here without the app's query);
the number of SQL queries must be the same on both streets (DESIGN.md: it must not grow with the data). Then the CSV
of each street is streamed through the test client: its time (median of --csv-runs), and the peak of Python's memory
(tracemalloc) while it is read, which must not grow with the street.

    PYTHONPATH=. .venv/bin/python bench/registry.py [--runs 50] [--csv-runs 5] [--postgres [URL]] [--profile]
        [--no-check]

The exit status is 1 when a median misses the target, a query count differs between the streets, a page lists the
wrong signs, a CSV has the wrong number of lines, or its memory grows with the street (--no-check: 0). --profile (or a
missed target) shows where one request of the slowest page spends its time (cProfile) and its slowest statements. The
schema is built by the migrations; SQLite gets no ANALYZE, as in production; PostgreSQL is vacuumed and analysed after
the load, as autovacuum would.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
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
from merchant_alliance.reports.models import OPEN_STATES, HazardReport  # noqa: E402
from merchant_alliance.safety.models import Certificate, Inspection, InspectionState  # noqa: E402
from merchant_alliance.shops.models import Risk, Signboard  # noqa: E402
from merchant_alliance.timeutil import local_today  # noqa: E402

TARGET_MS = 100.0  # each filtered first page's median
WARM_UP = 5
PAGE_SIZE = 50  # safety.registry_queries.PAGE_SIZE: the first page's lines
MEMORY_GROWTH = 1.5  # the big street's CSV may take at most this much more memory than the small one's
# The district: 20 streets of 10 alliances × 100 shops, one sign each (projects ≤ shops: no second signs); the
# registry's records at the district's rates (2.5 inspections and 0.5 reports a sign); the rest thin.
DISTRICT = district.Spec(streets=20, alliances_per_street=10, shops_per_alliance=100, projects=4_000, entries=40_000,
                         photos=0, audit_events=20_000, inspections_per_sign=2.5, reports_per_sign=0.5)
BIG_STREET = district.Spec(streets=1, alliances_per_street=50, shops_per_alliance=100, projects=1_000, entries=10_000,
                           photos=0, audit_events=5_000, inspections_per_sign=2.5, reports_per_sign=0.5)
# The filter sets timed: the query arguments of the registry's checkboxes (safety.registry_queries.FLAGS).
FILTER_SETS = {"no filter": {}, "overdue": {"overdue": "1"}, "high risk + illuminated": {"high_risk": "1", "lit": "1"},
               "with an open report": {"reported": "1"}}


@dataclass
class Street:
    """One street measured: its officer, its signs' registry lines, and each filter set's expected first page."""

    name: str
    street_id: int
    officer_phone: str
    signs: int = 0  # not removed
    all_signs: int = 0
    expected: dict[str, list[int]] = field(default_factory=dict)  # filter set -> the first page's sign ids
    matching: dict[str, int] = field(default_factory=dict)  # filter set -> how many signs match


@dataclass
class World:
    counts: Counter[str]
    seconds: float
    streets: list[Street]
    disagreements: list[str] = field(default_factory=list)


def _expected(street: Street, today: date) -> None:
    """Each filter set's first page, worked out from the signs' registry lines (not with the app's query): removed
    signs left out; most urgent first: due now (never inspected, or failed without a due date), then by due date."""
    rows = db.session.execute(select(
        Signboard.id, Signboard.risk, Signboard.illuminated, Signboard.last_inspected_on, Signboard.next_due_on,
        Signboard.open_reports, Signboard.removed_at).where(Signboard.street_id == street.street_id)).all()
    street.all_signs = len(rows)
    standing = [r for r in rows if r.removed_at is None]
    street.signs = len(standing)
    tests = {
        "no filter": lambda r: True,
        "overdue": lambda r: (r.next_due_on is not None and r.next_due_on < today)
        or (r.next_due_on is None and r.last_inspected_on is not None),
        "high risk + illuminated": lambda r: r.risk == Risk.HIGH and r.illuminated,
        "with an open report": lambda r: r.open_reports > 0,
    }
    for name, test in tests.items():
        found = sorted((r for r in standing if test(r)),
                       key=lambda r: (r.next_due_on is not None, r.next_due_on or date.min, r.id))
        street.matching[name] = len(found)
        street.expected[name] = [r.id for r in found[:PAGE_SIZE]]


def disagreements() -> list[str]:
    """Where a sign's registry line does not agree with the records behind it (nothing, when all is well)."""
    found = []
    current = dict(db.session.execute(select(Certificate.signboard_id, Certificate.next_due_on).where(
        Certificate.superseded_by_id.is_(None), Certificate.revoked_at.is_(None))).all())
    last = dict(db.session.execute(select(Inspection.signboard_id, func.max(Inspection.completed_at)).where(
        Inspection.state.in_((InspectionState.PASSED, InspectionState.FAILED)))
        .group_by(Inspection.signboard_id)).all())
    reports = dict(db.session.execute(select(HazardReport.signboard_id, func.count()).where(
        HazardReport.state.in_(OPEN_STATES), HazardReport.signboard_id.is_not(None))
        .group_by(HazardReport.signboard_id)).all())
    wrong: Counter[str] = Counter()
    for sign in db.session.execute(select(Signboard.id, Signboard.last_inspected_on, Signboard.next_due_on,
                                          Signboard.open_reports, Signboard.removed_at)):
        done = last.get(sign.id)
        if (done and (done + timedelta(hours=8)).date()) != (sign.last_inspected_on or None):
            wrong["last inspection"] += 1
        if sign.removed_at is None and current.get(sign.id) != sign.next_due_on:
            wrong["next due date"] += 1
        if reports.get(sign.id, 0) != sign.open_reports:
            wrong["open reports"] += 1
    found += [f"{n:,} signs' {what} disagree with their records" for what, n in wrong.items()]
    return found


def sized(spec: district.Spec, share: float) -> district.Spec:
    """The same streets with `share` times the shops (and signs, and records) of each alliance."""
    return replace(spec, shops_per_alliance=max(2, round(spec.shops_per_alliance * share)),
                   projects=round(spec.projects * share), entries=round(spec.entries * share),
                   audit_events=round(spec.audit_events * share))


def build(share: float) -> World:
    """The district, then the big street (in the current app context), and what the pages must show."""
    started = time.perf_counter()
    ids = district.Ids()
    built = district.build(sized(DISTRICT, share), ids=ids)
    big = district.build(sized(BIG_STREET, share), ids=ids)
    seconds = time.perf_counter() - started
    counts = built.counts + big.counts
    first, big_id = next(iter(built.officers)), next(iter(big.officers))
    streets = [Street(f"a street of {DISTRICT.alliances_per_street * DISTRICT.shops_per_alliance * share:,.0f} signs",
                      first, built.officers[first]),
               Street(f"the street of {BIG_STREET.alliances_per_street * BIG_STREET.shops_per_alliance * share:,.0f} "
                      "signs", big_id, big.officers[big_id])]
    today = local_today()
    for street in streets:
        _expected(street, today)
    return World(counts=counts, seconds=seconds, streets=streets, disagreements=disagreements())


# --- timing -------------------------------------------------------------------------------------


@dataclass
class PageTiming(Timing):
    errors: list[str] = field(default_factory=list)


@dataclass
class CsvTiming:
    seconds: list[float] = field(default_factory=list)
    peak_bytes: int = 0
    lines: int = 0
    size: int = 0
    errors: list[str] = field(default_factory=list)


def url_of(street: Street, filters: dict[str, str], csv: bool = False) -> str:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return f"/streets/{street.street_id}/registry{'.csv' if csv else ''}" + (f"?{query}" if query else "")


def page_error(body: str, street: Street, name: str) -> str | None:
    shown = [int(n) for n in re.findall(r'data-signboard="(\d+)"', body)]
    expected = street.expected[name]
    return None if shown == expected else \
        f"{street.name}, {name}: the page lists {len(shown)} signs {shown[:4]}…, " \
        f"expected {len(expected)} {expected[:4]}…"


def measure_pages(app: Flask, world: World, runs: int) -> dict[tuple[str, str], PageTiming]:
    with app.app_context():
        log = QueryLog(db.engine)
    clients = {street.name: login(app, street.officer_phone, district.PASSWORD) for street in world.streets}
    timings = {(street.name, name): PageTiming() for street in world.streets for name in FILTER_SETS}
    for run in range(WARM_UP + runs):
        for street in world.streets:
            for name, filters in FILTER_SETS.items():
                timing = timings[street.name, name]
                if timing.errors:
                    continue
                log.reset()
                started, cpu_started = time.perf_counter(), time.process_time()
                response = clients[street.name].get(url_of(street, filters))
                body = response.get_data(as_text=True)
                took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
                error = f"HTTP {response.status_code}" if response.status_code != 200 else \
                    page_error(body, street, name)
                if error:
                    timing.errors.append(error)
                elif run >= WARM_UP:
                    timing.wall.append(took)
                    timing.cpu.append(cpu)
                    timing.sql.append(log.seconds)
                    timing.queries.append(log.count)
                    timing.statements = log.statements
    return timings


def stream_csv(client, url: str) -> tuple[int, int, str | None]:
    """Read a CSV response piece by piece, as a browser would, keeping none of it: (lines, bytes, error)."""
    response = client.get(url, buffered=False)
    if response.status_code != 200:
        return 0, 0, f"HTTP {response.status_code}"
    lines = size = 0
    first = b""
    try:
        for piece in response.response:
            piece = piece.encode("utf-8") if isinstance(piece, str) else piece
            if not first:
                first = piece[:3]
            lines += piece.count(b"\n")
            size += len(piece)
    finally:
        response.close()
    return lines, size, None if first == b"\xef\xbb\xbf" else "no UTF-8 BOM at the start"


def measure_csv(app: Flask, world: World, runs: int) -> dict[str, CsvTiming]:
    results = {}
    for street in world.streets:
        client = login(app, street.officer_phone, district.PASSWORD)
        url, timing = url_of(street, {}, csv=True), CsvTiming()
        stream_csv(client, url)  # warm up
        for _ in range(runs):
            started = time.perf_counter()
            timing.lines, timing.size, error = stream_csv(client, url)
            timing.seconds.append(time.perf_counter() - started)
            if error:
                timing.errors.append(error)
                break
        if timing.lines != street.signs + 1:  # a header, then one line per sign not removed
            timing.errors.append(f"{timing.lines:,} lines, expected {street.signs + 1:,}")
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            stream_csv(client, url)
            timing.peak_bytes = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        results[street.name] = timing
    return results


def profile(app: Flask, street: Street, filters: dict[str, str], log: QueryLog | None = None) -> list[str]:
    """Where one request of the page spends its time: cProfile's top functions by cumulative time."""
    client = login(app, street.officer_phone, district.PASSWORD)
    client.get(url_of(street, filters))
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url_of(street, filters)).get_data()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.print_title = lambda: None  # the column heads once, below
    out.write("By cumulative time, the app's and its templates' own functions and what they call:\n")
    stats.sort_stats("cumulative").print_stats(r"merchant_alliance|templates/|babel|url_for|routing|sqlalchemy/orm/"
                                               r"(session|query)|engine/base", 30)
    out.write("By time spent in the function itself:\n")
    stats.sort_stats("tottime").print_stats(15)
    return [line for line in out.getvalue().splitlines() if line.strip()]


def run(runs: int, csv_runs: int, postgres: str | None, workdir: Path, want_profile: bool, share: float):
    with database(postgres, "registry", workdir) as url:
        app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=url, STORAGE_LOCAL_ROOT=str(workdir / "files"),
                         MAIL_BACKEND="memory", OUTBOX_THREAD=False)  # no mail thread's queries in the counts
        with app.app_context():
            upgrade()
            world = build(share)
            db.session.remove()
        pages = measure_pages(app, world, runs)
        csvs = measure_csv(app, world, csv_runs)
        slowest = max(pages, key=lambda key: pages[key].median_ms if pages[key].wall else 0)
        report: list[str] = []
        if want_profile or (pages[slowest].wall and pages[slowest].median_ms > TARGET_MS):
            street = next(s for s in world.streets if s.name == slowest[0])
            report = [f"cProfile of one request: {slowest[1]}, {slowest[0]}:"]
            report += profile(app, street, FILTER_SETS[slowest[1]])
            with app.app_context():
                if pages[slowest].statements:
                    report += ["", "Its slowest statements:"] + slowest_statements(pages[slowest].statements)
                db.session.remove()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return world, pages, csvs, report


# --- the report ---------------------------------------------------------------------------------


def queries_of(timing: Timing) -> str:
    counts = sorted(set(timing.queries))
    return "/".join(str(c) for c in counts) + ("~" if len(counts) > 1 else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="timed rounds of the pages (each street, each filter set)")
    parser.add_argument("--csv-runs", type=int, default=5, help="timed downloads of each street's CSV")
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="run on PostgreSQL (default URL: TEST_POSTGRES_URL)")
    parser.add_argument("--profile", action="store_true", help="profile one request of the slowest page (done "
                        "anyway when the target is missed)")
    parser.add_argument("--size", type=float, default=1.0, help="a share of each alliance's shops (a quick try: 0.1)")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even when the target is missed")
    args = parser.parse_args()
    postgres = postgres_url(args.postgres) if args.postgres is not None else None
    with tempfile.TemporaryDirectory(prefix="registry-") as workdir:
        world, pages, csvs, report = run(args.runs, args.csv_runs, postgres, Path(workdir), args.profile,
                                          args.size)

    counts = world.counts
    signs = DISTRICT.alliances * sized(DISTRICT, args.size).shops_per_alliance
    backend = "PostgreSQL" if postgres else "SQLite"
    print(f"The sign registry of a district on {backend} (migrations).")
    print(f"Built in {world.seconds:.0f} s: {counts['streets']} streets, {counts['alliances']} alliances, "
          f"{counts['signboards']:,} signs ({counts['signs removed']:,} removed, {counts['signs never inspected']:,} "
          f"never inspected, {counts['signs overdue']:,} overdue, {counts['signs due soon']:,} due within 30 days), "
          f"{counts['inspections']:,} inspections ({counts['inspections open']:,} under way), "
          f"{counts['certificates']:,} certificates, {counts['rectification_orders']:,} rectification orders, "
          f"{counts['hazard_reports']:,} hazard reports ({counts['reports open']:,} open) with "
          f"{counts['report_entries']:,} entries; of which the {DISTRICT.streets} streets: {signs:,} signs, "
          f"{round(signs * DISTRICT.inspections_per_sign):,} finished inspections, "
          f"{round(signs * DISTRICT.reports_per_sign):,} reports; the rest on the big street.")
    failed = bool(world.disagreements)
    print("Registry lines against their records: " + ("; ".join(world.disagreements) or "they agree"))
    print(f"\nThe registry's first page ({PAGE_SIZE} lines) as the street's officer: wall time per request through the "
          f"test client after {WARM_UP} warm-up rounds, {args.runs} timed; cpu: this process's CPU time, sql: time in "
          "cursor.execute (medians).")
    for street in world.streets:
        print(f"  {street.name} (#{street.street_id}: {street.signs:,} signs, {street.all_signs - street.signs} "
              "removed):")
        for name in FILTER_SETS:
            timing = pages[street.name, name]
            if not timing.wall:
                print(f"    {name}: WRONG ANSWER: {timing.errors[0] if timing.errors else 'nothing timed'}")
                failed = True
                continue
            missed = timing.median_ms > TARGET_MS
            failed |= missed or bool(timing.errors)
            print(f"    {name + ' (' + format(street.matching[name], ',') + ' signs)':<36} median "
                  f"{timing.median_ms:6.1f} ms, p95 {timing.p95_ms:6.1f} ms, {queries_of(timing):>3} queries "
                  f"(cpu {timing.cpu_ms:.1f} ms, sql {timing.sql_ms:.1f} ms){'  MISSED' if missed else ''}")
            for error in timing.errors:
                print(f"      WRONG ANSWER: {error}")
    for name in FILTER_SETS:
        small, big = (pages[street.name, name] for street in world.streets)
        if small.queries and big.queries and (set(small.queries) != set(big.queries) or len(set(big.queries)) > 1):
            print(f"  {name}: QUERIES DIFFER between the streets ({queries_of(small)} and {queries_of(big)})")
            failed = True
    medians = [t.median_ms for t in pages.values() if t.wall]
    print(f"  target: every median ≤ {TARGET_MS:.0f} ms: "
          f"{'ok' if medians and max(medians) <= TARGET_MS else 'MISSED'} (the slowest "
          f"{max(medians) if medians else float('nan'):.1f} ms)")

    print(f"\nThe CSV of a street (no filter), streamed through the test client and read piece by piece: median of "
          f"{args.csv_runs} downloads; peak = the most Python memory (tracemalloc) taken while one is read.")
    peaks = []
    for street in world.streets:
        timing = csvs[street.name]
        if timing.seconds:
            print(f"  {street.name}: {timing.lines - 1:,} signs, {timing.size / 1024:,.0f} KiB in "
                  f"{statistics.median(timing.seconds) * 1000:,.0f} ms, peak {timing.peak_bytes / 1024 / 1024:.2f} MiB")
            peaks.append(timing.peak_bytes)
        for error in timing.errors:
            print(f"    WRONG ANSWER: {error}")
            failed = True
    if len(peaks) == 2:
        grows = peaks[1] > peaks[0] * MEMORY_GROWTH
        print(f"  memory: {'GROWS with the street' if grows else 'constant'} (5× the signs: "
              f"{peaks[1] / max(1, peaks[0]):.2f}× the peak)")
        failed |= grows
    if report:
        print()
        for line in report:
            print(f"    {line}")
    return 1 if failed and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
