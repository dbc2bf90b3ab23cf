"""A whole city district's data, built in minutes with bulk inserts, for the benchmarks at district scale.

The default size is the one the speed issue measured: 20 streets, 200 alliances, 20,000 shops (100 per
alliance), 20,900 renovation projects, 1.05 M ledger entries, about 94,000 photos (rows only: no files)
and 380,000 audit events. Every alliance is filled alike (its own shops, owners, lead, treasurer,
signboards, projects in every state with design versions and photos, budgets, pledges, a ledger that
never goes below zero, expense requests, comments, notifications and audit events), with its own
random seed, so any alliance is a realistic one to measure a page on.

Each step fills one domain's tables for one alliance; a later domain (permits, works, the registry)
adds its step to STEPS and the district has its data too. Ids are given explicitly and the
PostgreSQL sequences are moved past them at the end, so the app can insert afterwards.

    PYTHONPATH=. .venv/bin/python bench/district.py [--postgres [URL]] [--scale 0.1] [--keep PATH]

Prints the row counts and the time taken. Other benchmarks call `build(spec)` in an app context.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402

from merchant_alliance.accounts.models import Alliance, Membership, Role, Street, User  # noqa: E402
from merchant_alliance.accounts.services import hash_password  # noqa: E402
from merchant_alliance.audit import AuditEvent  # noqa: E402
from merchant_alliance.extensions import db  # noqa: E402
from merchant_alliance.funds.models import (  # noqa: E402
    EntryKind,
    ExpenseRequest,
    ExpenseState,
    Fund,
    LedgerEntry,
    LedgerMonth,
    PaymentMethod,
    Pledge,
    ProjectBudget,
    Reservation,
    ReservationReason,
    recount_after_bulk_load,
)
from merchant_alliance.notifications.models import Notification  # noqa: E402
from merchant_alliance.photos.models import Photo  # noqa: E402
from merchant_alliance.projects.models import (  # noqa: E402
    Comment,
    DesignVersion,
    Project,
    ProjectState,
    design_version_photos,
)
from merchant_alliance.shops.models import Shop, Signboard, SignType, signboard_photos  # noqa: E402
from merchant_alliance.timeutil import utcnow  # noqa: E402

PASSWORD = "District-Bench-9"  # noqa: S105 - the bench's own throwaway users
BATCH = 5_000
SHANGHAI_OFFSET = timedelta(hours=8)

ROADS = ["愚园路", "武定路", "康定路", "新闸路", "北京西路", "延安中路", "南京西路", "常德路", "江宁路", "胶州路",
         "昌平路", "万航渡路", "长寿路", "西康路", "陕西北路", "石门一路", "威海路", "巨鹿路", "富民路", "铜仁路"]
SHOP_WORDS = ["咖啡", "面馆", "花店", "书店", "茶铺", "面包房", "眼镜店", "裁缝铺", "小酒馆", "药房", "理发店",
              "水果店", "文具店", "画廊", "烘焙坊"]
CONTRACTORS = ["上海静安标识工程有限公司", "愚园设计工作室", "申城招牌制作厂", "沪西建筑装饰公司"]
SPONSORS = ["静安寺街道办事处", "社区基金会", "文旅发展中心"]
KIND_WEIGHTS = {EntryKind.CONTRIBUTION: 70, EntryKind.SUBSIDY: 4, EntryKind.DONATION: 4, EntryKind.EXPENSE: 20,
                EntryKind.REFUND: 2}
YUAN_RANGES = {EntryKind.CONTRIBUTION: (200, 5_000), EntryKind.SUBSIDY: (10_000, 100_000),
               EntryKind.DONATION: (2_000, 50_000), EntryKind.EXPENSE: (500, 8_000), EntryKind.REFUND: (100, 1_000)}
REVERSAL_RATE = 0.004
METHODS = list(PaymentMethod)
# Where a district's projects stand: most are finished or under way, a few are new.
STATE_WEIGHTS = {
    ProjectState.DRAFT: 4, ProjectState.SUBMITTED: 6, ProjectState.CHANGES_REQUESTED: 4,
    ProjectState.DESIGN_APPROVED: 6, ProjectState.FUNDED: 8, ProjectState.CONTRACTED: 6, ProjectState.IN_PROGRESS: 8,
    ProjectState.INSTALLED: 4, ProjectState.COMPLETED: 40, ProjectState.WITHDRAWN: 6, ProjectState.REJECTED: 4,
}
BUDGETED = {ProjectState.DESIGN_APPROVED, ProjectState.FUNDED, ProjectState.CONTRACTED, ProjectState.IN_PROGRESS,
            ProjectState.INSTALLED, ProjectState.COMPLETED}
RESERVED = {ProjectState.FUNDED, ProjectState.CONTRACTED, ProjectState.IN_PROGRESS, ProjectState.INSTALLED}
AUDIT_ACTIONS = ["project.submit", "project.approve_design", "project.request_changes", "fund.entry", "shop.updated",
                 "expense.approve", "pledge.created", "signboard.updated", "project.comment", "budget.set"]


@dataclass
class Spec:
    """How big the district is. The defaults are the size the speed issue measured."""

    streets: int = 20
    alliances_per_street: int = 10
    shops_per_alliance: int = 100
    projects: int = 20_900  # spread evenly over the alliances
    entries: int = 1_050_000
    photos: int = 94_000  # about; most come with design versions and signboards
    audit_events: int = 380_000
    seed: int = 2026

    @classmethod
    def scaled(cls, scale: float) -> Spec:
        """The same district with `scale` times the alliances (and everything in them)."""
        base = cls()
        alliances = max(1, round(base.streets * base.alliances_per_street * scale))
        streets = max(1, min(base.streets, round(base.streets * scale)))
        return cls(streets=streets, alliances_per_street=max(1, alliances // streets),
                   projects=round(base.projects * scale), entries=round(base.entries * scale),
                   photos=round(base.photos * scale), audit_events=round(base.audit_events * scale))

    @property
    def alliances(self) -> int:
        return self.streets * self.alliances_per_street


class Ids:
    """The next explicit id of each table (bulk inserts give their own ids)."""

    def __init__(self) -> None:
        self.last: Counter[str] = Counter()

    def take(self, table: str, count: int = 1) -> range:
        start = self.last[table] + 1
        self.last[table] += count
        return range(start, start + count)


@dataclass
class AllianceData:
    """One alliance being filled: what the steps have made so far, for the steps after them."""

    spec: Spec
    ids: Ids
    rng: random.Random
    street_id: int
    alliance_id: int
    index: int  # 0-based, over the district
    begin: datetime
    end: datetime
    password_hash: str
    shop_ids: list[int] = field(default_factory=list)
    owner_of: dict[int, int] = field(default_factory=dict)  # shop id -> owner's user id
    lead_id: int = 0
    treasurer_id: int = 0
    fund_id: int = 0
    project_ids: list[int] = field(default_factory=list)
    project_state: dict[int, ProjectState] = field(default_factory=dict)
    project_shop: dict[int, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def share(self, total: int) -> int:
        """This alliance's part of a district-wide total, spread so that the parts add up to it."""
        alliances = self.spec.alliances
        return total // alliances + (1 if self.index < total % alliances else 0)

    def moment(self) -> datetime:
        return self.begin + timedelta(seconds=self.rng.uniform(0, (self.end - self.begin).total_seconds()))

    def rows(self, model, rows: list[dict]) -> None:
        table = getattr(model, "__table__", model)
        for start in range(0, len(rows), BATCH):
            db.session.execute(insert(table), rows[start:start + BATCH])
        self.counts[table.name] += len(rows)


def fill_people_and_shops(data: AllianceData) -> None:
    rng, a, begin = data.rng, data.alliance_id, data.begin
    data.shop_ids = list(data.ids.take("shops", data.spec.shops_per_alliance))
    data.rows(Shop, [
        {"id": s, "alliance_id": a, "name": f"{SHOP_WORDS[s % len(SHOP_WORDS)]}{s}",
         "house_number": str(2 + 2 * n + (n % 2)), "facade_width_m": Decimal("6.50"), "business_type": "零售",
         "contact_phone": f"139{s:08d}", "licence_number": "", "active": rng.random() > 0.03,
         "created_at": begin, "updated_at": begin}
        for n, s in enumerate(data.shop_ids)
    ])
    user_ids = list(data.ids.take("users", len(data.shop_ids) + 2))
    data.lead_id, data.treasurer_id = user_ids[0], user_ids[1]
    data.owner_of = dict(zip(data.shop_ids, user_ids[2:], strict=True))
    data.rows(User, [
        {"id": u, "name": f"用户{u}", "phone": f"150{u:08d}", "email": f"district{u}@example.com",
         "password_hash": data.password_hash, "locale": None, "active": True, "created_at": begin,
         "last_login_at": None}
        for u in user_ids
    ])
    memberships = [
        {"user_id": data.lead_id, "role": Role.ALLIANCE_LEAD, "shop_id": None, "alliance_id": a, "street_id": None,
         "created_at": begin, "granted_by_id": None, "confirmed_at": begin},
        {"user_id": data.treasurer_id, "role": Role.TREASURER, "shop_id": None, "alliance_id": a, "street_id": None,
         "created_at": begin, "granted_by_id": None, "confirmed_at": begin},
        *({"user_id": owner, "role": Role.SHOP_OWNER, "shop_id": shop, "alliance_id": None, "street_id": None,
           "created_at": begin, "granted_by_id": None, "confirmed_at": begin} for shop, owner in data.owner_of.items()),
    ]
    for row, membership_id in zip(memberships, data.ids.take("memberships", len(memberships)), strict=True):
        row["id"] = membership_id
    data.rows(Membership, memberships)
    data.fund_id = data.ids.take("funds")[0]
    data.rows(Fund, [{"id": data.fund_id, "alliance_id": a, "name": "资金池", "is_default": True, "created_at": begin,
                      "fund_percent": Decimal(30), "fund_cap_fen": 300_000, "two_approvals_above_fen": 500_000,
                      "shop_share_cover": "pledged"}])


def _photo_rows(data: AllianceData, count: int, shop_id: int | None, uploaded_by: int) -> list[dict]:
    rows = []
    for photo_id in data.ids.take("photos", count):
        sha = f"{data.rng.getrandbits(256):064x}"
        rows.append({
            "id": photo_id, "sha256": sha, "backend": "local", "display_key": f"photos/{sha[:2]}/{sha}/d/display.jpg",
            "thumb_key": f"photos/{sha[:2]}/{sha}/d/thumb.jpg", "content_type": "image/jpeg",
            "display_bytes": 180_000, "thumb_bytes": 12_000, "width": 1600, "height": 1200, "thumb_width": 320,
            "thumb_height": 240, "taken_at": None, "original_filename": f"IMG_{photo_id}.jpg",
            "uploaded_by_id": uploaded_by, "alliance_id": data.alliance_id, "shop_id": shop_id, "public": False,
            "created_at": data.begin,
        })
    return rows


def fill_signboards_and_projects(data: AllianceData) -> None:
    """One signboard per shop and one more on a few; one project per signboard until the alliance's share
    of the district's projects is reached (the database allows one open project per signboard)."""
    rng, begin = data.rng, data.begin
    projects = data.share(data.spec.projects)
    boards = max(len(data.shop_ids), projects)
    board_shop = [data.shop_ids[n % len(data.shop_ids)] for n in range(boards)]
    board_ids = list(data.ids.take("signboards", boards))
    kinds = list(SignType)
    data.rows(Signboard, [
        {"id": b, "shop_id": shop, "position": "正门上方", "sign_type": kinds[b % len(kinds)],
         "width_m": Decimal("4.00"), "height_m": Decimal("0.80"), "projection_m": Decimal("0.20"),
         "clearance_m": Decimal("3.20"), "material": "铝板", "illuminated": b % 3 == 0,
         "install_year": 2000 + b % 24, "condition": "worn", "created_at": begin, "updated_at": begin}
        for b, shop in zip(board_ids, board_shop, strict=True)
    ])
    board_photos = _photo_rows(data, boards, None, data.lead_id)
    for row, shop in zip(board_photos, board_shop, strict=True):
        row["shop_id"] = shop
    data.rows(Photo, board_photos)
    data.rows(signboard_photos, [{"signboard_id": b, "photo_id": p["id"]}
                                 for b, p in zip(board_ids, board_photos, strict=True)])

    states, weights = list(STATE_WEIGHTS), list(STATE_WEIGHTS.values())
    data.project_ids = list(data.ids.take("projects", projects))
    project_rows, version_rows, photo_rows, link_rows, comment_rows = [], [], [], [], []
    for p, board, shop in zip(data.project_ids, board_ids, board_shop, strict=False):
        state = rng.choices(states, weights)[0]
        owner = data.owner_of[shop]
        created = data.moment()
        data.project_state[p], data.project_shop[p] = state, shop
        project_rows.append({"id": p, "alliance_id": data.alliance_id, "shop_id": shop, "signboard_id": board,
                             "title": f"店招改造 #{p}", "description": "旧招牌锈蚀，换成木质新招牌。", "state": state,
                             "created_by_id": owner, "created_at": created, "updated_at": created + timedelta(days=9)})
        if state == ProjectState.DRAFT:
            continue
        for number in range(1, 2 + (p % 3 == 0)):
            version = data.ids.take("design_versions")[0]
            version_rows.append({
                "id": version, "project_id": p, "number": number, "sign_type": SignType.WALL_PARALLEL,
                "width_m": Decimal("4.00"), "height_m": Decimal("0.80"), "projection_m": Decimal("0.20"),
                "clearance_m": Decimal("3.20"), "materials": "木质面板，镀锌钢架", "illuminated": False, "lighting": "",
                "fixing_method": "M12 化学锚栓", "estimated_cost_fen": rng.randrange(5_000, 50_000) * 100, "notes": "",
                "created_by_id": owner, "created_at": created + timedelta(days=number)})
            photos = _photo_rows(data, 2, shop, owner)
            photo_rows.extend(photos)
            link_rows += [{"version_id": version, "photo_id": photos[0]["id"], "kind": "current"},
                          {"version_id": version, "photo_id": photos[1]["id"], "kind": "mockup"}]
        for author in rng.sample((owner, data.lead_id), rng.randrange(0, 3)):
            comment_rows.append({"id": data.ids.take("comments")[0], "project_id": p, "author_id": author,
                                 "body": "尺寸请再确认一下。", "created_at": created + timedelta(days=2)})
    data.rows(Project, project_rows)
    data.rows(DesignVersion, version_rows)
    data.rows(Photo, photo_rows)
    data.rows(design_version_photos, link_rows)
    data.rows(Comment, comment_rows)


def fill_fund(data: AllianceData) -> None:
    """Budgets and reservations for the projects past design approval, pledges, a ledger that never goes
    below zero (with a few reversals), and expense requests (most paid, the rest in every other state)."""
    rng, fund, begin = data.rng, data.fund_id, data.begin
    budgets = []
    for p in data.project_ids:
        if data.project_state[p] not in BUDGETED:
            continue
        budget = rng.randrange(5_000, 50_000) * 100
        fund_share, subsidy = min(budget * 30 // 100, 300_000), budget * rng.choice((0, 10, 20)) // 100
        budgets.append({"project_id": p, "fund_id": fund, "budget_fen": budget, "fund_fen": fund_share,
                        "shop_fen": budget - fund_share - subsidy, "subsidy_fen": subsidy,
                        "subsidy_source": "街道补贴" if subsidy else "", "set_by_id": data.lead_id, "set_at": begin})
    data.rows(ProjectBudget, budgets)
    data.rows(Reservation, [
        {"id": data.ids.take("fund_reservations")[0], "fund_id": fund, "project_id": b["project_id"],
         "amount_fen": b["fund_fen"], "reason": ReservationReason.RESERVE, "ledger_entry_id": None,
         "created_by_id": data.treasurer_id, "created_at": begin}
        for b in budgets if data.project_state[b["project_id"]] in RESERVED and b["fund_fen"]
    ])

    entries = data.share(data.spec.entries)
    pledge_rows, open_pledges = [], defaultdict(list)
    for pledge_id in data.ids.take("pledges", max(10, entries // 150)):
        shop = rng.choice(data.shop_ids)
        created = data.moment()
        row = {"id": pledge_id, "fund_id": fund, "shop_id": shop, "project_id": None,
               "amount_fen": rng.randrange(10, 200) * 10_000,
               "due_on": (created + SHANGHAI_OFFSET).date() + timedelta(days=rng.randrange(14, 120)), "note": "",
               "created_by_id": data.treasurer_id, "created_at": created,
               "cancelled_at": created + timedelta(days=3) if rng.random() < 0.05 else None}
        pledge_rows.append(row)
        if row["cancelled_at"] is None and rng.random() < 0.8:
            open_pledges[shop].append(row)
    data.rows(Pledge, pledge_rows)

    moments = sorted(data.moment() for _ in range(entries))
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    entry_ids = data.ids.take("ledger_entries", entries)
    rows: list[dict] = []
    balance, reversed_ids = 0, set()
    for entry_id, moment in zip(entry_ids, moments, strict=True):
        row = {"id": entry_id, "fund_id": fund, "occurred_on": moment, "method": None, "reference": "",
               "counterparty": "", "purpose": "", "shop_id": None, "project_id": None, "receipt_photo_id": None,
               "pledge_id": None, "reverses_id": None, "idempotency_key": f"{rng.getrandbits(128):032x}",
               "entered_by_id": data.treasurer_id, "entered_at": moment + timedelta(minutes=rng.randrange(1, 600))}
        candidate = rows[rng.randrange(max(0, len(rows) - 400), len(rows))] if len(rows) > 50 else None
        if (candidate and rng.random() < REVERSAL_RATE and candidate["kind"] != EntryKind.REVERSAL
                and candidate["id"] not in reversed_ids and balance - candidate["amount_fen"] >= 0):
            reversed_ids.add(candidate["id"])
            row.update(kind=EntryKind.REVERSAL, amount_fen=-candidate["amount_fen"], reverses_id=candidate["id"],
                       shop_id=candidate["shop_id"], project_id=candidate["project_id"],
                       pledge_id=candidate["pledge_id"], purpose="录入有误，冲正")
        else:
            kind = rng.choices(kinds, weights)[0]
            amount = rng.randrange(*YUAN_RANGES[kind]) * 100
            if not kind.is_income and amount > balance:
                kind, amount = EntryKind.CONTRIBUTION, rng.randrange(*YUAN_RANGES[EntryKind.CONTRIBUTION]) * 100
            row.update(kind=kind, amount_fen=amount if kind.is_income else -amount, method=rng.choice(METHODS))
            if kind in (EntryKind.CONTRIBUTION, EntryKind.REFUND):
                shop = rng.choice(data.shop_ids)
                row.update(shop_id=shop, purpose="会费" if kind == EntryKind.CONTRIBUTION else "多缴退还")
                due = [p for p in open_pledges[shop] if p["created_at"] <= moment]
                if kind == EntryKind.CONTRIBUTION and due and rng.random() < 0.5:
                    pledge = due[0]
                    open_pledges[shop].remove(pledge)
                    row.update(pledge_id=pledge["id"], amount_fen=pledge["amount_fen"], purpose="认缴款")
            elif kind == EntryKind.EXPENSE:
                row.update(project_id=rng.choice(data.project_ids), counterparty=rng.choice(CONTRACTORS),
                           method=PaymentMethod.BANK_TRANSFER, purpose="店招制作安装", reference=f"INV{entry_id:08d}")
            else:
                row.update(counterparty=rng.choice(SPONSORS), method=PaymentMethod.BANK_TRANSFER, purpose="改造补贴")
        balance += row["amount_fen"]
        rows.append(row)
    data.rows(LedgerEntry, rows)
    recount_after_bulk_load(db.session.connection(), [fund])  # what the app keeps with every entry it writes
    data.counts["ledger_months"] += db.session.scalar(select(func.count()).where(LedgerMonth.fund_id == fund))

    expenses = [r for r in rows if r["kind"] == EntryKind.EXPENSE and r["id"] not in reversed_ids]
    paid = rng.sample(expenses, min(len(expenses), max(5, entries // 500)))
    open_states = [ExpenseState.DRAFT, ExpenseState.SUBMITTED, ExpenseState.APPROVED, ExpenseState.REJECTED]
    requests = []
    for n, request_id in enumerate(data.ids.take("expense_requests", len(paid) + 6)):
        entry = paid[n] if n < len(paid) else None
        created = entry["occurred_on"] - timedelta(days=3) if entry else data.end - timedelta(days=rng.randrange(1, 60))
        project = entry["project_id"] if entry else rng.choice(data.project_ids)
        requests.append({
            "id": request_id, "fund_id": fund, "project_id": project,
            "payee": entry["counterparty"] if entry else rng.choice(CONTRACTORS), "payee_account": "工商银行 6222…",
            "amount_fen": -entry["amount_fen"] if entry else rng.randrange(500, 8_000) * 100,
            "purpose": "店招制作安装", "state": ExpenseState.PAID if entry else rng.choice(open_states),
            "requested_by_id": data.lead_id, "created_at": created, "updated_at": created, "decision_reason": "",
            "paid_entry_id": entry["id"] if entry else None, "idempotency_key": f"{rng.getrandbits(128):032x}",
        })
    data.rows(ExpenseRequest, requests)


def fill_photos_to_share(data: AllianceData) -> None:
    """Receipts and comment photos, up to the alliance's share of the district's photos."""
    missing = data.share(data.spec.photos) - data.counts["photos"]
    if missing > 0:
        data.rows(Photo, _photo_rows(data, missing, None, data.treasurer_id))


def fill_audit_and_notifications(data: AllianceData) -> None:
    rng = data.rng
    events = data.share(data.spec.audit_events)
    people = [data.lead_id, data.treasurer_id, *rng.sample(list(data.owner_of.values()), 5)]
    data.rows(AuditEvent, [
        {"id": event_id, "at": data.moment(), "actor_id": rng.choice(people), "action": rng.choice(AUDIT_ACTIONS),
         "object_type": "project", "object_id": (project := rng.choice(data.project_ids)),
         "alliance_id": data.alliance_id, "street_id": data.street_id, "project_id": project, "ip": "10.0.0.1",
         "details": {"title": f"店招改造 #{project}"}}
        for event_id in data.ids.take("audit_events", events)
    ])
    notes = []
    for user in people:
        for _ in range(20):
            project = rng.choice(data.project_ids)
            notes.append({"id": data.ids.take("notifications")[0], "user_id": user,
                          "message": "%(name)s commented on “%(title)s”.",
                          "params": {"name": "王店主", "title": f"店招改造 #{project}"},
                          "endpoint": "projects.project", "endpoint_args": {"project_id": project}, "link": "",
                          "created_at": data.moment(), "read_at": None if rng.random() < 0.2 else data.end})
    data.rows(Notification, notes)


# The steps that fill one alliance, in order. A new domain appends its own.
STEPS: list[Callable[[AllianceData], None]] = [
    fill_people_and_shops, fill_signboards_and_projects, fill_fund, fill_photos_to_share,
    fill_audit_and_notifications,
]


@dataclass
class District:
    """What was built: the row counts, and one alliance's people to log in as."""

    spec: Spec
    counts: Counter[str]
    seconds: float
    first_alliance_id: int = 1
    lead_phone: str = ""
    treasurer_phone: str = ""
    owner_phone: str = ""
    owner_shop_id: int = 0
    project_id: int = 0


def build(spec: Spec, *, progress: Callable[[str], None] = lambda line: None) -> District:
    """Fill the (empty, migrated) database of the current app context with a district of `spec`'s size."""
    started = time.perf_counter()
    ids, counts = Ids(), Counter()
    end = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    begin = end - timedelta(days=3 * 365)
    password_hash = hash_password(PASSWORD)
    district = District(spec=spec, counts=counts, seconds=0.0)
    for s in range(spec.streets):
        street_id = ids.take("streets")[0]
        db.session.execute(insert(Street), [{"id": street_id, "name": f"第{street_id}街道", "district": "静安区",
                                             "created_at": begin}])
        counts["streets"] += 1
        for n in range(spec.alliances_per_street):
            alliance_id = ids.take("alliances")[0]
            db.session.execute(insert(Alliance), [{"id": alliance_id, "street_id": street_id,
                                                   "name": f"{ROADS[n % len(ROADS)]}商家联盟{alliance_id}",
                                                   "road": ROADS[n % len(ROADS)], "created_at": begin}])
            counts["alliances"] += 1
            data = AllianceData(spec=spec, ids=ids, rng=random.Random(spec.seed * 100_003 + alliance_id),
                                street_id=street_id, alliance_id=alliance_id, index=alliance_id - 1, begin=begin,
                                end=end, password_hash=password_hash)
            for step in STEPS:
                step(data)
            counts.update(data.counts)
            if alliance_id == 1:
                district.lead_phone = f"150{data.lead_id:08d}"
                district.treasurer_phone = f"150{data.treasurer_id:08d}"
                district.owner_shop_id = data.shop_ids[0]
                district.owner_phone = f"150{data.owner_of[data.shop_ids[0]]:08d}"
                district.project_id = next(p for p in data.project_ids if data.project_shop[p] == data.shop_ids[0])
            db.session.commit()
        progress(f"street {s + 1}/{spec.streets}: {counts['ledger_entries']:,} entries, "
                 f"{time.perf_counter() - started:.0f} s")
    if db.engine.dialect.name == "postgresql":
        # Explicit ids leave the sequences behind; anything the app inserts later needs them moved on.
        for table, last in ids.last.items():
            db.session.execute(text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value)"),
                               {"table": table, "value": last})
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does soon after a bulk load
    district.seconds = time.perf_counter() - started
    return district


def main() -> int:
    from flask_migrate import upgrade

    from bench.common import database, postgres_url
    from config import DevelopmentConfig
    from merchant_alliance import create_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="build on PostgreSQL (default URL: TEST_POSTGRES_URL)")
    parser.add_argument("--scale", type=float, default=1.0, help="a share of the full district, e.g. 0.1")
    args = parser.parse_args()
    spec = Spec.scaled(args.scale) if args.scale != 1.0 else Spec()
    postgres = postgres_url(args.postgres) if args.postgres is not None else None
    with tempfile.TemporaryDirectory() as workdir, database(postgres, "district", Path(workdir)) as url:
        app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=url, STORAGE_LOCAL_ROOT=str(Path(workdir) / "f"),
                         MAIL_BACKEND="memory")
        with app.app_context():
            upgrade()
            district = build(spec, progress=print)
            db.session.remove()
            db.engine.dispose()
    print(f"\nA district on {'PostgreSQL' if postgres else 'SQLite'} in {district.seconds:.0f} s:")
    for table, count in sorted(district.counts.items()):
        print(f"  {table:<24} {count:>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
