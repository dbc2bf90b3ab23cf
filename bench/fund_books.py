"""The fund's open books at the size the issue names: 100,000 ledger entries, 91 shops, 200 projects.

Fills a fresh database (SQLite in a temporary directory; PostgreSQL with --postgres) with bulk inserts,
logs in through the real login form as a shop owner (a member: what most page views are) and as the
treasurer, and times the pages of the books through the test client: the fund overview, the entry list
(filtered and paginated, unfiltered, a deep page), the monthly statement of a busy month, contributions
by shop, expenses, pledges, and the CSV export (reported, not held to the target). Each response must be
200 and show the figures the database itself gives. The same is run at a small size too, and the
number of SQL queries each page issues is compared between the two sizes (DESIGN.md: it must not grow
with the data).

    PYTHONPATH=. .venv/bin/python bench/fund_books.py [--runs 30] [--entries 100000] [--small 1000]
        [--postgres [URL]] [--explain] [--no-check] [--create-all]

Each page is requested --runs times per role, except that a page slower than about 0.7 s gets fewer
runs (at least 5; the n column says how many), so that the bench ends in minutes. The schema is built
by the migrations, as in production (--create-all: db.create_all(), for models not migrated yet), and
SQLite gets no ANALYZE, as in production. Wall time is what the verdicts use; the CPU time of this
process is shown beside it, as other work on a shared machine only inflates the wall time (on
PostgreSQL the server's own work is in the wall time only).

The exit status is 1 when a page's median misses the target or its query count grows (--no-check: 0).
With --explain, every page over the target shows its slowest statements and the plan of the slowest.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, insert, text  # noqa: E402

from bench.common import Timing, database, postgres_url
from bench.common import login as common_login  # noqa: E402
from bench.district import (  # noqa: E402 - the same kinds of money, shops and payees as the district
    CONTRACTORS,
    KIND_WEIGHTS,
    REVERSAL_RATE,
    SHOP_WORDS,
    SPONSORS,
    YUAN_RANGES,
)
from config import DevelopmentConfig  # noqa: E402
from merchant_alliance import create_app  # noqa: E402
from merchant_alliance.accounts.models import Alliance, Membership, Role, Street, User  # noqa: E402
from merchant_alliance.accounts.services import hash_password  # noqa: E402
from merchant_alliance.extensions import db  # noqa: E402
from merchant_alliance.funds.models import (  # noqa: E402
    EntryKind,
    ExpenseRequest,
    ExpenseState,
    Fund,
    LedgerEntry,
    PaymentMethod,
    Pledge,
    ProjectBudget,
    Reservation,
    ReservationReason,
    recount_after_bulk_load,
)
from merchant_alliance.funds.spending_views import PLEDGE_PAGE_SIZE  # noqa: E402
from merchant_alliance.funds.views import CSV_BATCH  # noqa: E402
from merchant_alliance.money import format_fen  # noqa: E402
from merchant_alliance.projects.models import Project, ProjectState  # noqa: E402
from merchant_alliance.shops.models import Shop, Signboard, SignType  # noqa: E402
from merchant_alliance.timeutil import local_day_start_utc, utcnow  # noqa: E402

TARGET_MS = 100.0  # median of each page, at the full size
SHOPS = 91
PROJECTS = 200
PASSWORD = "Bench-Horse-9"  # noqa: S105 - the bench's own throwaway users
BATCH = 5_000
PAGE_SECONDS = 20  # at most about this long timing one page for one role (but at least 5 runs)
SHANGHAI_OFFSET = timedelta(hours=8)  # no daylight saving in Shanghai

# --- filling ------------------------------------------------------------------------------------


@dataclass
class Books:
    """What was put in the database, and the few figures the pages must show."""

    entries: int
    alliance_id: int = 1
    fund_id: int = 1
    owner_shop_id: int = 1
    owner_phone: str = "13900000001"
    treasurer_phone: str = "13900000002"
    busy_month: str = ""  # "2025-03": the month with the most entries
    busy_month_entries: int = 0
    pledges: int = 0
    expense_requests: int = 0
    reversals: int = 0
    filled_seconds: float = 0.0


def _rows(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        db.session.execute(insert(model), rows[start:start + BATCH])


def _local_month(moment: datetime) -> str:
    return (moment + SHANGHAI_OFFSET).strftime("%Y-%m")


def fill(entries: int, seed: int = 2026) -> Books:
    """Bulk-insert a street's alliance with `entries` ledger entries over the last three years."""
    started = time.perf_counter()
    rng = random.Random(seed)
    books = Books(entries=entries)
    now = utcnow().replace(microsecond=0)
    end = now - timedelta(minutes=5)
    begin = end - timedelta(days=3 * 365)

    _rows(Street, [{"id": 1, "name": "静安寺街道", "district": "静安区", "created_at": begin}])
    _rows(Alliance, [{"id": 1, "street_id": 1, "name": "愚园路商家联盟", "road": "愚园路", "created_at": begin}])
    _rows(Shop, [
        {"id": i, "alliance_id": 1, "name": f"愚园{SHOP_WORDS[i % len(SHOP_WORDS)]}{i}",
         "house_number": str(1000 + 2 * i), "facade_width_m": Decimal("6.50"), "business_type": "零售",
         "contact_phone": f"139{i:08d}",
         "licence_number": "", "active": i % 30 != 0, "created_at": begin, "updated_at": begin}
        for i in range(1, SHOPS + 1)
    ])
    password_hash = hash_password(PASSWORD)
    people = [("店主王", books.owner_phone), ("财务李", books.treasurer_phone), ("会长张", "13900000003"),
              ("副会长陈", "13900000004")]
    _rows(User, [
        {"id": i, "name": name, "phone": phone, "email": f"bench{i}@example.com", "password_hash": password_hash,
         "locale": None, "active": True, "created_at": begin, "last_login_at": None}
        for i, (name, phone) in enumerate(people, start=1)
    ])
    owner, treasurer, lead, second_lead = 1, 2, 3, 4
    _rows(Membership, [
        {"id": 1, "user_id": owner, "role": Role.SHOP_OWNER, "shop_id": books.owner_shop_id, "alliance_id": None,
         "street_id": None, "created_at": begin, "granted_by_id": None, "confirmed_at": begin},
        {"id": 2, "user_id": treasurer, "role": Role.TREASURER, "shop_id": None, "alliance_id": 1,
         "street_id": None, "created_at": begin, "granted_by_id": None, "confirmed_at": begin},
        {"id": 3, "user_id": lead, "role": Role.ALLIANCE_LEAD, "shop_id": None, "alliance_id": 1,
         "street_id": None, "created_at": begin, "granted_by_id": None, "confirmed_at": begin},
        {"id": 4, "user_id": second_lead, "role": Role.ALLIANCE_LEAD, "shop_id": None, "alliance_id": 1,
         "street_id": None, "created_at": begin, "granted_by_id": None, "confirmed_at": begin},
    ])
    _rows(Fund, [{"id": 1, "alliance_id": 1, "name": "资金池", "is_default": True, "created_at": begin,
                  "fund_percent": Decimal(30), "fund_cap_fen": 300_000, "two_approvals_above_fen": 500_000,
                  "shop_share_cover": "pledged"}])

    # Projects: one signboard each, spread over the shops (the owner's shop has a few).
    project_shop = {p: 1 + (p - 1) % SHOPS for p in range(1, PROJECTS + 1)}
    states = list(ProjectState)
    _rows(Signboard, [
        {"id": p, "shop_id": project_shop[p], "alliance_id": 1, "street_id": 1, "position": "正门上方",
         "sign_type": SignType.WALL_PARALLEL,
         "width_m": Decimal("4.00"), "height_m": Decimal("0.80"), "projection_m": Decimal("0"), "clearance_m": None,
         "material": "铝板", "illuminated": False, "install_year": 2010, "condition": "worn",
         "created_at": begin, "updated_at": begin}
        for p in range(1, PROJECTS + 1)
    ])
    project_state = {p: states[rng.randrange(len(states))] for p in range(1, PROJECTS + 1)}
    _rows(Project, [
        {"id": p, "alliance_id": 1, "shop_id": project_shop[p], "signboard_id": p,
         "title": f"{1000 + 2 * project_shop[p]}号店招改造 #{p}", "description": "", "state": project_state[p],
         "created_by_id": owner, "created_at": begin,
         "updated_at": begin + timedelta(days=p)}
        for p in range(1, PROJECTS + 1)
    ])
    budgets = []
    for p in range(1, PROJECTS + 1):
        budget = rng.randrange(5_000, 50_000) * 100
        fund_share = min(budget * 30 // 100, 300_000)
        subsidy = budget * rng.choice((0, 10, 20)) // 100
        budgets.append({"project_id": p, "fund_id": 1, "budget_fen": budget, "shop_fen": budget - fund_share - subsidy,
                        "fund_fen": fund_share, "subsidy_fen": subsidy, "subsidy_source": "街道补贴" if subsidy else "",
                        "set_by_id": treasurer, "set_at": begin})
    _rows(ProjectBudget, budgets)
    funded = {ProjectState.FUNDED, ProjectState.CONTRACTED, ProjectState.IN_PROGRESS}
    _rows(Reservation, [
        {"fund_id": 1, "project_id": b["project_id"], "amount_fen": b["fund_fen"], "reason": ReservationReason.RESERVE,
         "ledger_entry_id": None, "created_by_id": treasurer, "created_at": begin}
        for b in budgets if project_state[b["project_id"]] in funded and b["fund_fen"]
    ])

    # Pledges: what shops promised. Most are paid in one or two contributions that name them, some
    # only in part, some not at all (the arrears).
    books.pledges = max(30, entries // 250)
    pledges, shop_pledges, instalments = [], defaultdict(list), {}
    shop_projects = defaultdict(list)
    for p, shop in project_shop.items():
        shop_projects[shop].append(p)
    for i in range(1, books.pledges + 1):
        shop = rng.randrange(1, SHOPS + 1)
        created = begin + timedelta(seconds=rng.uniform(0, (end - begin).total_seconds()))
        project = rng.choice(shop_projects[shop]) if shop_projects[shop] and rng.random() < 0.6 else None
        pledges.append({"id": i, "fund_id": 1, "shop_id": shop, "project_id": project,
                        "amount_fen": rng.randrange(10, 200) * 10_000,
                        "due_on": (created + SHANGHAI_OFFSET).date() + timedelta(days=rng.randrange(14, 120)),
                        "note": "", "created_by_id": treasurer, "created_at": created,
                        "cancelled_at": created + timedelta(days=3) if rng.random() < 0.05 else None})
        amount, half = pledges[-1]["amount_fen"], pledges[-1]["amount_fen"] // 200 * 100
        instalments[i] = rng.choices([[amount], [half, amount - half], [half], []], [50, 20, 15, 15])[0]
        if pledges[-1]["cancelled_at"] is None and instalments[i]:
            shop_pledges[shop].append(pledges[-1])
    _rows(Pledge, pledges)

    # The ledger, oldest first: ids follow the dates, money out never exceeds the balance.
    span = (end - begin).total_seconds()
    moments = sorted(begin + timedelta(seconds=rng.uniform(0, span)) for _ in range(entries))
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    methods = list(PaymentMethod)
    rows: list[dict] = []
    balance = 0
    reversed_ids: set[int] = set()
    for number, moment in enumerate(moments, start=1):
        row = {"id": number, "fund_id": 1, "occurred_on": moment, "method": None, "reference": "",
               "counterparty": "", "purpose": "", "shop_id": None, "project_id": None, "receipt_photo_id": None,
               "pledge_id": None, "reverses_id": None, "idempotency_key": f"{rng.getrandbits(128):032x}",
               "entered_by_id": treasurer, "entered_at": moment + timedelta(minutes=rng.randrange(1, 600))}
        original = None
        if number > 200 and rng.random() < REVERSAL_RATE:
            candidate = rows[rng.randrange(max(0, number - 400), number - 1)]
            if (candidate["kind"] != EntryKind.REVERSAL and candidate["id"] not in reversed_ids
                    and balance - candidate["amount_fen"] >= 0):
                original = candidate
        if original is not None:
            reversed_ids.add(original["id"])
            row.update(kind=EntryKind.REVERSAL, amount_fen=-original["amount_fen"], reverses_id=original["id"],
                       shop_id=original["shop_id"], project_id=original["project_id"],
                       pledge_id=original["pledge_id"], counterparty=original["counterparty"],
                       purpose="录入有误，冲正")
        else:
            kind = rng.choices(kinds, weights)[0]
            low, high = YUAN_RANGES[kind]
            amount = rng.randrange(low, high) * 100
            if not kind.is_income and amount > balance:
                low, high = YUAN_RANGES[EntryKind.CONTRIBUTION]
                kind, amount = EntryKind.CONTRIBUTION, rng.randrange(low, high) * 100
            row.update(kind=kind, amount_fen=amount if kind.is_income else -amount, method=rng.choice(methods))
            if kind in (EntryKind.CONTRIBUTION, EntryKind.REFUND):
                shop = rng.randrange(1, SHOPS + 1)
                row.update(shop_id=shop, purpose=f"{_local_month(moment)} 会费" if kind == EntryKind.CONTRIBUTION
                           else "多缴退还")
                due = [p for p in shop_pledges[shop] if p["created_at"] <= moment]
                if kind == EntryKind.CONTRIBUTION and due and rng.random() < 0.3:
                    pledge = due[0]
                    amount = instalments[pledge["id"]].pop(0)
                    if not instalments[pledge["id"]]:
                        shop_pledges[shop].remove(pledge)
                    row.update(pledge_id=pledge["id"], project_id=pledge["project_id"], purpose="认缴款",
                               amount_fen=amount)
            elif kind == EntryKind.EXPENSE:
                row.update(project_id=rng.randrange(1, PROJECTS + 1), counterparty=rng.choice(CONTRACTORS),
                           method=PaymentMethod.BANK_TRANSFER, purpose="店招制作安装", reference=f"INV{number:07d}")
            else:
                row.update(counterparty=rng.choice(SPONSORS), method=PaymentMethod.BANK_TRANSFER,
                           purpose="改造补贴" if kind == EntryKind.SUBSIDY else "社会捐赠",
                           project_id=rng.randrange(1, PROJECTS + 1) if rng.random() < 0.3 else None)
        balance += row["amount_fen"]
        assert balance >= 0
        rows.append(row)
    _rows(LedgerEntry, rows)
    recount_after_bulk_load(db.session.connection(), [1])  # what the app keeps with every entry it writes
    books.reversals = len(reversed_ids)

    # Expense requests: most were paid (each names its own ledger entry), the rest in every other state.
    books.expense_requests = max(20, entries // 330)
    expense_rows = [r for r in rows if r["kind"] == EntryKind.EXPENSE and r["id"] not in reversed_ids]
    paid = rng.sample(expense_rows, min(len(expense_rows), books.expense_requests * 6 // 10))
    open_states = [ExpenseState.DRAFT, ExpenseState.SUBMITTED, ExpenseState.APPROVED, ExpenseState.REJECTED,
                   ExpenseState.CANCELLED]
    requests = []
    for i in range(1, books.expense_requests + 1):
        entry = paid[i - 1] if i <= len(paid) else None
        created = entry["occurred_on"] - timedelta(days=3) if entry else end - timedelta(days=rng.randrange(1, 60))
        requests.append({
            "id": i, "fund_id": 1, "project_id": entry["project_id"] if entry else rng.randrange(1, PROJECTS + 1),
            "payee": entry["counterparty"] if entry else rng.choice(CONTRACTORS), "payee_account": "工商银行 6222…",
            "amount_fen": -entry["amount_fen"] if entry else rng.randrange(500, 8_000) * 100,
            "purpose": "店招制作安装，含拆除旧招牌与高空作业",
            "state": ExpenseState.PAID if entry else rng.choice(open_states),
            "requested_by_id": rng.choice((treasurer, lead, second_lead)), "created_at": created, "updated_at": created,
            "decision_reason": "", "paid_entry_id": entry["id"] if entry else None,
            "idempotency_key": f"{rng.getrandbits(128):032x}",
        })
    _rows(ExpenseRequest, requests)

    if db.engine.dialect.name == "postgresql":
        # Explicit ids leave the sequences behind; anything the app inserts later needs them moved on.
        last = {"streets": 1, "alliances": 1, "shops": SHOPS, "users": len(people), "memberships": 4, "funds": 1,
                "signboards": PROJECTS, "projects": PROJECTS, "pledges": books.pledges, "ledger_entries": entries,
                "expense_requests": books.expense_requests}
        for table, value in last.items():
            db.session.execute(text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value)"),
                               {"table": table, "value": value})
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does soon after a bulk load

    per_month = Counter(_local_month(m) for m in moments)
    this_month = _local_month(now)
    books.busy_month, books.busy_month_entries = max(
        ((month, count) for month, count in per_month.items() if month < this_month), key=lambda item: item[1])
    books.filled_seconds = time.perf_counter() - started
    return books


# --- the pages and what each must show ------------------------------------------------------------


def _scalar(sql: str, **params) -> int:
    return int(db.session.execute(text(sql), params).scalar() or 0)


@dataclass
class Page:
    key: str  # the same page at both sizes (names carry size-dependent figures)
    name: str
    url: str
    roles: tuple[str, ...]
    check: Callable[[bytes], str | None]  # None when the body is right, else what is wrong
    endpoint: str
    held_to_target: bool = True
    runs: int | None = None  # None: --runs
    batched: int | None = None  # rows per query of a download read in batches: its queries grow by design


def _contains(*needles: str) -> Callable[[bytes], str | None]:
    def check(body: bytes) -> str | None:
        page = body.decode("utf-8")
        missing = [needle for needle in needles if needle not in page]
        return f"missing {missing[0]!r}" if missing else None
    return check


def _entry_page(where: str, params: dict, page: int) -> tuple[int, str | None]:
    """The number of entries matching `where`, and the amount of the first row of `page` (newest first)."""
    total = _scalar(f"SELECT count(*) FROM ledger_entries WHERE fund_id = 1 {where}", **params)  # noqa: S608
    first = db.session.execute(text(
        f"SELECT amount_fen FROM ledger_entries WHERE fund_id = 1 {where} "  # noqa: S608 - our own fragments
        "ORDER BY occurred_on DESC, id DESC LIMIT 1 OFFSET :offset"), {**params, "offset": (page - 1) * 50}).scalar()
    return total, format_fen(first) if first is not None else None


def _entries_check(total: int, first_amount: str | None) -> Callable[[bytes], str | None]:
    def check(body: bytes) -> str | None:
        page = body.decode("utf-8")
        shown = re.search(r'data-testid="entry-total">([^<]*)<', page)
        if shown is None or str(total) not in shown.group(1).replace(",", ""):
            return f"entry total {total} not shown (got {shown.group(1) if shown else None!r})"
        if first_amount and first_amount not in page:
            return f"first row's amount {first_amount} missing"
        return None
    return check


def pages(books: Books) -> list[Page]:
    """The pages to time, with the figures each must show, read straight from the database."""
    alliance = f"/alliances/{books.alliance_id}/fund"
    balance = _scalar("SELECT coalesce(sum(amount_fen), 0) FROM ledger_entries WHERE fund_id = 1")

    today = (utcnow() + SHANGHAI_OFFSET).date()
    since, until = today - timedelta(days=365), today
    filtered_where = ("AND kind = 'contribution' AND shop_id = :shop AND occurred_on >= :since "
                      "AND occurred_on < :until")
    filtered_params = {"shop": books.owner_shop_id, "since": local_day_start_utc(since),
                       "until": local_day_start_utc(until + timedelta(days=1))}
    filtered_total, _ = _entry_page(filtered_where, filtered_params, 1)
    filtered_page = 2 if filtered_total > 50 else 1
    filtered_total, filtered_first = _entry_page(filtered_where, filtered_params, filtered_page)
    total, first = _entry_page("", {}, 1)
    deep = max(1, min(1000, (total + 49) // 50))
    _, deep_first = _entry_page("", {}, deep)

    year, month = (int(part) for part in books.busy_month.split("-"))
    month_start = local_day_start_utc(date(year, month, 1))
    month_end = local_day_start_utc(date(year + month // 12, month % 12 + 1, 1))
    closing = _scalar("SELECT coalesce(sum(amount_fen), 0) FROM ledger_entries "
                      "WHERE fund_id = 1 AND occurred_on < :end", end=month_end)
    lines = _scalar("SELECT count(*) FROM ledger_entries WHERE fund_id = 1 AND occurred_on >= :start "
                    "AND occurred_on < :end", start=month_start, end=month_end)

    def statement_check(body: bytes) -> str | None:
        page = body.decode("utf-8")
        if f'data-testid="closing">{format_fen(closing)}<' not in page:
            return f"closing balance {format_fen(closing)} missing"
        shown = page.count('data-testid="running"')
        if shown == lines or (0 < shown < lines and (str(lines) in page or f"{lines:,}" in page)):
            return None  # every line, or one page of them that says how many there are
        return f"{shown} statement lines shown, {lines} in the month"

    contributed = _scalar(
        "SELECT coalesce(sum(amount_fen), 0) FROM ledger_entries e WHERE fund_id = 1 AND kind = 'contribution' "
        "AND NOT EXISTS (SELECT 1 FROM ledger_entries r WHERE r.reverses_id = e.id)")

    def shops_check(body: bytes) -> str | None:
        page = body.decode("utf-8")
        if not re.search(rf'data-testid="all-shops-total"[^>]*>{re.escape(format_fen(contributed))}<', page):
            return f"all-shops total {format_fen(contributed)} missing"
        return None if page.count("data-shop=") == SHOPS else f"{page.count('data-shop=')} shop rows, not {SHOPS}"

    newest_payee = db.session.execute(text(
        "SELECT payee FROM expense_requests WHERE fund_id = 1 ORDER BY created_at DESC, id DESC LIMIT 1")).scalar()
    # The page lists the pledges still to be paid, a page of them at a time.
    still_owed = _scalar("SELECT count(*) FROM pledges p WHERE fund_id = 1 AND cancelled_at IS NULL AND amount_fen > "
                         "(SELECT coalesce(sum(amount_fen), 0) FROM ledger_entries e WHERE e.pledge_id = p.id)")
    expected_rows = min(still_owed, PLEDGE_PAGE_SIZE)

    def pledges_check(body: bytes) -> str | None:
        shown = body.decode("utf-8").count('<tr class="pledge-')
        return None if shown == expected_rows else f"{shown} pledge rows shown, {expected_rows} expected"

    def csv_check(body: bytes) -> str | None:
        if not body.startswith(b"\xef\xbb\xbf"):
            return "no UTF-8 byte-order mark"
        count = sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8-sig")))) - 1
        return None if count == total else f"{count} CSV rows, {total} entries"

    member, treasurer = ("member", "treasurer"), ("treasurer",)
    return [
        Page("floor", "trivial route /healthz (floor)", "/healthz", member[:1], _contains('"ok"'), "public.healthz",
             held_to_target=False),
        Page("overview", "fund overview", alliance, member, _contains(f'data-testid="balance">{format_fen(balance)}<'),
             "funds.overview"),
        Page("filtered", f"entries filtered, page {filtered_page}",
             f"{alliance}/entries?kind=contribution&shop={books.owner_shop_id}&from={since}&to={until}"
             f"&page={filtered_page}", member, _entries_check(filtered_total, filtered_first), "funds.entries"),
        Page("entries", "entries, page 1", f"{alliance}/entries", member, _entries_check(total, first),
             "funds.entries"),
        Page("deep", f"entries, page {deep}", f"{alliance}/entries?page={deep}", member,
             _entries_check(total, deep_first), "funds.entries"),
        Page("statement", f"statement {books.busy_month} ({lines:,} lines)",
             f"{alliance}/statement?month={books.busy_month}", member, statement_check, "funds.statement"),
        Page("print", "statement, printable", f"{alliance}/statement/print?month={books.busy_month}", member[:1],
             statement_check, "funds.statement_print", held_to_target=False, runs=10),
        Page("shops", "contributions by shop", f"{alliance}/shops", member, shops_check, "funds.shop_contributions"),
        Page("expenses", "expenses, page 1", f"{alliance}/expenses", member, _contains(newest_payee or "No expense"),
             "funds.expense_list"),
        Page("pledges", "pledges and arrears", f"{alliance}/pledges", treasurer, pledges_check, "funds.pledge_list"),
        Page("csv", f"entries.csv ({total:,} rows)", f"{alliance}/entries.csv", member[:1], csv_check,
             "funds.entries_csv", held_to_target=False, runs=2, batched=CSV_BATCH),
    ]


# --- timing -------------------------------------------------------------------------------------


@dataclass
class Result(Timing):
    page: Page
    role: str
    runs: int = 0
    size: int = 0
    error: str | None = None  # not 200, or not the figures the database holds

    @property
    def missed(self) -> bool:
        return self.page.held_to_target and (self.error is not None or self.median_ms > TARGET_MS)


class QueryLog:
    """Counts and times the statements the engine sends, request by request: those of the thread that made the
    log (the one sending the requests), not a background thread's that happen to run meanwhile."""

    def __init__(self, engine) -> None:
        self.thread = threading.get_ident()
        self.count = 0
        self.seconds = 0.0
        self.statements: list[tuple[float, str, object]] = []
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        self.count, self.seconds, self.statements = 0, 0.0, []

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.get_ident() != self.thread:
            return
        self.count += 1
        self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.get_ident() != self.thread:
            return
        took = time.perf_counter() - self._started
        self.seconds += took
        self.statements.append((took, statement, parameters))


def login(app: Flask, phone: str):
    return common_login(app, phone, PASSWORD)


def measure(app: Flask, books: Books, runs: int) -> tuple[list[Result], list[str]]:
    """Time every available page for every role, interleaved run by run so they share the noise."""
    with app.app_context():
        page_list = pages(books)
        log = QueryLog(db.engine)
    clients = {"member": login(app, books.owner_phone), "treasurer": login(app, books.treasurer_phone)}
    skipped = []
    results = []
    for page in page_list:
        if page.endpoint not in app.view_functions:
            skipped.append(f"{page.name}: not available (no {page.endpoint} route yet)")
            continue
        results.extend(Result(page, role) for role in page.roles)

    def hit(result: Result, record: bool) -> float:
        """One request; its wall time. A wrong answer stops the page's timing and is reported."""
        if result.error:
            return 0.0
        log.reset()
        started, cpu_started = time.perf_counter(), time.process_time()
        response = clients[result.role].get(result.page.url)
        body = response.get_data()  # inside the timing: a streamed download is made while it is read
        took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if response.status_code != 200:
            result.error = f"HTTP {response.status_code}"
        else:
            result.error = result.page.check(body)
        if record and not result.error:
            result.wall.append(took)
            result.cpu.append(cpu)
            result.sql.append(log.seconds)
            result.queries.append(log.count)
            result.size = len(body)
            result.statements = log.statements
        return took

    for result in results:
        # Warm up (templates compiled, caches filled), and give a very slow page fewer runs, so that the
        # bench ends in minutes: its median is far above the target either way.
        slow = hit(result, record=False)
        if result.page.runs is None:
            hit(result, record=False)
        result.runs = min(result.page.runs or runs, max(5, int(PAGE_SECONDS / max(slow, 1e-6))))
    for run in range(runs):
        for result in results:
            if run < result.runs:
                hit(result, record=True)
    return results, skipped


# --- databases ----------------------------------------------------------------------------------


def run_size(entries: int, runs: int, postgres: str | None, workdir: Path, explain: bool, create_all: bool) -> tuple:
    with database(postgres, f"e{entries}", workdir) as url:
        app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=url, STORAGE_LOCAL_ROOT=str(workdir / "files"),
                         MAIL_BACKEND="memory", OUTBOX_THREAD=False)  # no mail thread's work in the timings
        with app.app_context():
            if create_all:
                db.create_all()
            else:
                # The schema production has: SQLite, without statistics, breaks ties between equally
                # good indexes by their order in the schema, which db.create_all() varies run to run.
                upgrade()
            books = fill(entries)
        results, skipped = measure(app, books, runs)
        plans = {}
        if explain:
            with app.app_context():
                for result in results:
                    if result.missed and result.statements and result.page.name not in plans:
                        plans[result.page.name] = slowest_statements(result.statements)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return books, results, skipped, plans


def slowest_statements(statements: list[tuple[float, str, object]]) -> list[str]:
    """The page's three slowest statements with their times, and the plan of the slowest."""
    ranked = sorted(statements, key=lambda item: item[0], reverse=True)
    lines = [f"{seconds * 1000:7.1f} ms  {' '.join(sql.split())[:150]}" for seconds, sql, _ in ranked[:3]]
    return [*lines, "  plan of the slowest:", *query_plan(ranked[0][1], ranked[0][2])]


def query_plan(statement: str, parameters) -> list[str]:
    """The database's plan for a statement the page sent."""
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    if db.engine.dialect.name == "sqlite":
        return [f"{row[0]:>3} {row[1]:>3}  {row[3]}" for row in rows]
    return [row[0] for row in rows]


# --- the report ---------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return f"{'—':>11}"
    return f"{value:>8,.0f} ms" if value >= 1000 else f"{value:>8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page and role")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000, help="the small size the query counts are compared with")
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="run on PostgreSQL (default URL: TEST_POSTGRES_URL)")
    parser.add_argument("--explain", action="store_true", help="show the plan of the slowest query of a slow page")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even when a target is missed")
    parser.add_argument("--create-all", action="store_true",
                        help="build the schema with db.create_all() instead of the migrations")
    args = parser.parse_args()
    postgres = postgres_url(args.postgres) if args.postgres is not None else None

    with tempfile.TemporaryDirectory(prefix="fund-books-") as workdir:
        big, results, skipped, plans = run_size(args.entries, args.runs, postgres, Path(workdir), args.explain,
                                                args.create_all)
        small, small_results, _, _ = run_size(args.small, max(5, args.runs // 3), postgres, Path(workdir), False,
                                              args.create_all)

    backend = ("PostgreSQL" if postgres else "SQLite") + (" (db.create_all)" if args.create_all else " (migrations)")
    print(f"fund books on {backend}: {big.entries:,} ledger entries over 3 years ({big.reversals} reversals), "
          f"{SHOPS} shops, {PROJECTS} projects, {big.pledges} pledges, {big.expense_requests} expense requests; "
          f"filled in {big.filled_seconds:.1f} s. Small size: {small.entries:,} entries "
          f"({small.pledges} pledges, {small.expense_requests} requests), filled in {small.filled_seconds:.1f} s.")
    print(f"Wall time per request through the test client, median and p95 of n interleaved requests; cpu = this "
          f"process's CPU time (median); sql = time in cursor.execute (median; rows fetched later, as the CSV's, are "
          f"not in it); small = median at "
          f"{small.entries:,} entries; queries = SQL statements per request at {big.entries:,} / {small.entries:,}.")
    print(f"  {'page':<38}{'role':<10}{'n':>3}{'median':>11}{'p95':>11}{'cpu':>11}{'sql':>11}{'small':>11}"
          f"{'queries':>9}{'size':>9}   target")
    small_by_key = {(r.page.key, r.role): r for r in small_results}
    failed = False
    for result in results:
        other = small_by_key.get((result.page.key, result.role))
        error = result.error or (other.error and f"at {small.entries:,} entries: {other.error}" if other else None)
        if error or not result.wall:
            failed = True
            print(f"  {result.page.name:<38}{result.role:<10}  WRONG ANSWER: {error}")
            continue
        counts_big, counts_small = set(result.queries), set(other.queries) if other else set()
        grows = other is not None and max(counts_big) != max(counts_small)
        if grows and result.page.batched:  # one more query per batch of rows, and nothing else
            extra = big.entries // result.page.batched - small.entries // result.page.batched
            grows = max(counts_big) - max(counts_small) != extra
        queries = f"{max(counts_big)}/{max(counts_small) if other else '?'}"
        if len(counts_big) > 1 or len(counts_small) > 1:
            queries += "~"  # varied between requests
        if not result.page.held_to_target:
            verdict = "(reported)"
        else:
            verdict = f"≤ {TARGET_MS:.0f} ms {'MISSED' if result.missed else 'ok'}"
        if grows:
            verdict += "; QUERIES GROW"
        failed |= result.missed or grows
        size = f"{result.size / 1024:.0f} KB" if result.size < 1024 * 1024 else f"{result.size / 1024 / 1024:.1f} MB"
        figures = (result.median_ms, result.p95_ms, result.cpu_ms, result.sql_ms, other.median_ms if other else None)
        print(f"  {result.page.name:<38}{result.role:<10}{len(result.wall):>3}{''.join(_ms(f) for f in figures)}"
              f"{queries:>9}{size:>9}   {verdict}")
    for line in skipped:
        print(f"  {line}")
    for name, plan in plans.items():
        print(f"\n{name}: the slowest statements of one request")
        for line in plan:
            print(f"    {line}")
    return 1 if failed and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
