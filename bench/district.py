"""A whole city district's data, built in minutes with bulk inserts, for the benchmarks at district scale.

The default size is the one the speed issue measured: 20 streets, 200 alliances, 20,000 shops (100 per
alliance), 20,900 renovation projects, 1.05 M ledger entries, about 94,000 photos (rows only: no files)
and 380,000 audit events. Every alliance is filled alike (its own shops, owners, lead, treasurer,
signboards, projects in every state with design versions and photos, budgets, pledges, a ledger that
never goes below zero, expense requests, comments, notifications and audit events), with its own
random seed, so any alliance is a realistic one to measure a page on.

Each step fills one domain's tables for one alliance; a later domain (permits, works, the registry)
adds its step to STEPS and the district has its data too. Every street has an officer (who logs in)
and its checklist; the registry's step gives every sign a varied kind, size, age, light and condition,
about 2.5 inspections over five years (52,000 at the default size: a passed one every interval of the
sign's risk level, failures with their rectification orders and re-inspections, a certificate for
each pass), and fills the sign's registry line as the app keeps it (risk, last inspection and result,
next due date = the certificate in force's, open reports, removal): a few signs never inspected, a
few removed, some overdue (some of those on a day's route), some due within 30 days, some whose last
inspection failed; and about 10,000 hazard reports from the public (0.48 a sign), most resolved or
dismissed, the open ones about places with no other open report on their street. The works' step
gives every alliance five contractors (one with a person who logs in), quotes, and a work order with
five milestones for every project contracted or later, moved as far as the project has gone, with
site logs, punch items, change orders and the milestone payments made from the fund (retention held,
released after the warranty); their photos (a milestone's evidence, a site log's, a defect's) come on
top of the 94,000. Ids are given explicitly and the PostgreSQL sequences are moved past them at the
end, so the app can insert afterwards.

    PYTHONPATH=. .venv/bin/python bench/district.py [--postgres [URL]] [--scale 0.1]

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
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, insert, select, text, update  # noqa: E402

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
    add_to_months,
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
from merchant_alliance.reports.models import HazardReport, ReportEntry, ReportState, Service  # noqa: E402
from merchant_alliance.safety import checklists  # noqa: E402
from merchant_alliance.safety.models import (  # noqa: E402
    Certificate,
    CertificateSequence,
    ChecklistItem,
    Inspection,
    InspectionAnswer,
    InspectionKind,
    InspectionState,
    Outcome,
    RectificationItem,
    RectificationOrder,
    RectificationState,
    Severity,
)
from merchant_alliance.shops.models import (  # noqa: E402
    Risk,
    Shop,
    Signboard,
    SignCondition,
    SignType,
    signboard_photos,
)
from merchant_alliance.shops.risk import risk_of  # noqa: E402
from merchant_alliance.timeutil import local_day_start_utc, local_month, local_today, utcnow  # noqa: E402
from merchant_alliance.works.models import (  # noqa: E402
    Acceptor,
    ChangeOrder,
    ChangeState,
    Contractor,
    Milestone,
    MilestoneKind,
    MilestoneState,
    OrderPayment,
    OrderState,
    PaymentKind,
    PaymentState,
    PunchItem,
    PunchState,
    Quote,
    QuoteState,
    SiteLogEntry,
    WorkOrder,
    WorksSettings,
    contractor_users,
    milestone_photos,
    punch_photos,
    site_log_photos,
)
from merchant_alliance.works.payments import allocate, retention_of  # noqa: E402
from merchant_alliance.works.quotes import DEFAULT_MILESTONES  # noqa: E402

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
# The works: every alliance's register (the ledger's payees and one more) and how often each is chosen; the first
# has the most orders and the person who logs in for it.
WORKS_CONTRACTORS = [(CONTRACTORS[0], "fabricator,installer", 35), (CONTRACTORS[1], "designer", 10),
                     (CONTRACTORS[2], "fabricator", 25), (CONTRACTORS[3], "installer", 20),
                     ("华山灯箱广告厂", "fabricator,installer", 10)]
MILESTONE_NAMES = {MilestoneKind.DESIGN: "设计定稿", MilestoneKind.REMOVAL: "拆除旧招牌",
                   MilestoneKind.FABRICATION: "制作完成", MilestoneKind.INSTALLATION: "安装完成",
                   MilestoneKind.CLEANUP: "现场清理"}
ORDERED = {ProjectState.CONTRACTED, ProjectState.IN_PROGRESS, ProjectState.INSTALLED, ProjectState.COMPLETED}
RETENTION_PERCENT, WARRANTY_DAYS = Decimal(3), 365
SITE_WORK = ["现场勘察，复核尺寸。", "拆除旧招牌，墙面修补。", "钢骨架焊接，防锈处理。", "面板吊装就位，锚栓固定。",
             "接电调试，灯光检查。", "清理现场，旧招牌运走。"]
WEATHER = ["晴", "多云", "阴", "小雨"]
# The registry (one line per sign, safety.registry): what signs look like, where their inspections stand, and the
# public's hazard reports. Its own random numbers (Spec.seed and the alliance): the other steps' data stays the same.
SIGN_WEIGHTS = {SignType.WALL_PARALLEL: 64, SignType.PROJECTING: 15, SignType.CANOPY: 10, SignType.FREE_STANDING: 8,
                SignType.ROOFTOP: 3}
CONDITION_WEIGHTS = {SignCondition.GOOD: 78, SignCondition.WORN: 20, SignCondition.HAZARDOUS: 2}
# Where a sign's inspections stand today (safety.registry.status_of): never inspected, closed as removed, past its
# due date, due within 30 days, or up to date.
STATUS_WEIGHTS = {"never_inspected": 4, "removed": 1, "overdue": 9, "due_soon": 7, "ok": 79}
HISTORY_YEARS = 5  # the oldest inspections in the registry
SIGN_FAIL_RATE = 0.07  # of an inspection before the last passed one: a rectification order, closed by a re-inspection
RECENT_FAIL_RATE = 0.3  # of the signs overdue or due soon: their latest inspection failed, the order still open
PLANNED_RATE = 0.3  # of the overdue signs not failed: a periodic inspection planned on a day of the coming week
REPORT_STATES = {ReportState.NEW: 6, ReportState.ACCEPTED: 5, ReportState.INSPECTING: 3, ReportState.RESOLVED: 56,
                 ReportState.DISMISSED: 30}
REPORT_PLACES = {"sign": 70, "shop": 20, "house": 10}  # chosen from the sign's tag page, the road's shops, or typed
REPORT_WORDS = {Service.LOOSE: "招牌一角松动，刮风时晃得厉害。", Service.CORRODED: "支架锈得很厉害，下面有锈水。",
                Service.ELECTRICAL: "灯箱的电线露在外面，下雨天冒火花。",
                Service.OBSTRUCTING: "招牌太低，路过会碰到头。",
                Service.OTHER: "招牌上的字掉了一个，挂在半空。"}
SERVICE_WEIGHTS = {Service.LOOSE: 35, Service.CORRODED: 30, Service.ELECTRICAL: 15, Service.OBSTRUCTING: 10,
                   Service.OTHER: 10}
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
    inspections_per_sign: float = 2.5  # the registry's inspections (20,900 signs: about 52,000)
    reports_per_sign: float = 0.48  # hazard reports from the public (about 10,000)
    seed: int = 2026
    states: dict[ProjectState, int] | None = None  # the projects' states and their weights; None: STATE_WEIGHTS

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
    project_created: dict[int, datetime] = field(default_factory=dict)
    budget_of: dict[int, int] = field(default_factory=dict)  # project id -> its budget (fen)
    contractor_user_id: int = 0  # logs in for the alliance's busiest contractor
    order_id: int = 0  # an order in progress with the most to show (site log, punch items, payments)
    counts: Counter[str] = field(default_factory=Counter)
    house_of: dict[int, str] = field(default_factory=dict)  # shop id -> its house number
    signboards: list[dict] = field(default_factory=list)  # the rows inserted
    office: StreetOffice | None = None  # the street's officer, checklist and settings (for the registry)

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
    data.house_of = {s: str(2 + 2 * n + (n % 2)) for n, s in enumerate(data.shop_ids)}
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


def _photo_rows(data: AllianceData, count: int, shop_id: int | None, uploaded_by: int,
                rng: random.Random | None = None) -> list[dict]:
    rows = []
    for photo_id in data.ids.take("photos", count):
        sha = f"{(rng or data.rng).getrandbits(256):064x}"
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
    # What the signs are like (the registry's own random numbers: the steps' data stays as it was).
    sign_rng = random.Random(data.spec.seed * 7_919 + data.alliance_id)
    kinds, kind_weights = list(SIGN_WEIGHTS), list(SIGN_WEIGHTS.values())
    conditions, condition_weights = list(CONDITION_WEIGHTS), list(CONDITION_WEIGHTS.values())
    data.signboards = []
    for b, shop in zip(board_ids, board_shop, strict=True):
        kind = sign_rng.choices(kinds, kind_weights)[0]
        data.signboards.append({
            "id": b, "shop_id": shop, "alliance_id": data.alliance_id, "street_id": data.street_id,
            "position": "侧墙" if kind == SignType.PROJECTING else "屋顶" if kind == SignType.ROOFTOP else "正门上方",
            "sign_type": kind, "width_m": Decimal(sign_rng.randrange(150, 900)) / 100,
            "height_m": Decimal(sign_rng.randrange(50, 160)) / 100,
            "projection_m": Decimal("1.20") if kind == SignType.PROJECTING else Decimal("0.20"),
            "clearance_m": Decimal(sign_rng.randrange(250, 600)) / 100, "material": "铝板",
            "illuminated": sign_rng.random() < 0.35, "install_year": sign_rng.randrange(2004, 2025),
            "condition": sign_rng.choices(conditions, condition_weights)[0], "created_at": begin, "updated_at": begin})
    data.rows(Signboard, data.signboards)
    board_photos = _photo_rows(data, boards, None, data.lead_id)
    for row, shop in zip(board_photos, board_shop, strict=True):
        row["shop_id"] = shop
    data.rows(Photo, board_photos)
    data.rows(signboard_photos, [{"signboard_id": b, "photo_id": p["id"]}
                                 for b, p in zip(board_ids, board_photos, strict=True)])

    state_weights = data.spec.states or STATE_WEIGHTS
    states, weights = list(state_weights), list(state_weights.values())
    data.project_ids = list(data.ids.take("projects", projects))
    project_rows, version_rows, photo_rows, link_rows, comment_rows = [], [], [], [], []
    for p, board, shop in zip(data.project_ids, board_ids, board_shop, strict=False):
        state = rng.choices(states, weights)[0]
        owner = data.owner_of[shop]
        created = data.moment()
        data.project_state[p], data.project_shop[p], data.project_created[p] = state, shop, created
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
    data.budget_of = {b["project_id"]: b["budget_fen"] for b in budgets}
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


def _on(data: AllianceData, day: date, hour: int = 9) -> datetime:
    """A moment of the Shanghai working day `day`, as naive UTC, not after the district's end."""
    moment = datetime.combine(day, clock(hour)) - SHANGHAI_OFFSET + timedelta(minutes=data.rng.randrange(0, 480))
    return min(moment, data.end)


def _local_day(moment: datetime) -> date:
    return (moment + SHANGHAI_OFFSET).date()


def _quote(data: AllianceData, project: int, contractor: int, state: QuoteState, invited: datetime,
           amount: int | None, by: int, decided: datetime | None = None) -> dict:
    priced = state not in (QuoteState.INVITED, QuoteState.DECLINED)
    submitted = min(invited + timedelta(days=2), data.end) if state != QuoteState.INVITED else None
    return {"id": data.ids.take("quotes")[0], "project_id": project, "contractor_id": contractor,
            "alliance_id": data.alliance_id, "state": state, "request_note": "拆除旧招牌，按批准设计制作并安装新招牌。",
            "amount_fen": amount if priced else None,
            "scope": "拆旧、制作、安装、接电、清场；质保一年。" if priced else "",
            "duration_days": data.rng.randrange(10, 40) if priced else None,
            "valid_until": _local_day(invited) + timedelta(days=30) if priced else None,
            "invited_by_id": data.lead_id, "invited_at": invited, "submitted_by_id": by if submitted else None,
            "submitted_at": submitted, "decided_by_id": data.lead_id if decided else None, "decided_at": decided,
            "reason": "报价合理，工期短。" if state == QuoteState.SELECTED else "暂无档期。"
            if state == QuoteState.DECLINED else "", "updated_at": decided or submitted or invited}


def _order_dates(data: AllianceData, state: ProjectState, created: datetime, today: date) -> tuple[date, date]:
    """When the work starts and is due: about now for the orders just signed, part of the way through for those in
    progress, about done for the installed ones, long ago for the finished ones."""
    rng, created_on = data.rng, _local_day(created)
    duration = timedelta(days=rng.randrange(30, 76))
    if state == ProjectState.CONTRACTED:
        start = today + timedelta(days=rng.randrange(-5, 11))
    elif state == ProjectState.IN_PROGRESS:
        start = today - duration * rng.uniform(0.1, 0.95)
    elif state == ProjectState.INSTALLED:
        start = today - duration - timedelta(days=rng.randrange(-10, 20))
    else:
        start = min(created_on + timedelta(days=rng.randrange(15, 60)), today - timedelta(days=120))
    if state != ProjectState.COMPLETED:
        start = max(start, min(created_on + timedelta(days=10), today))
    return start, start + duration


def fill_works(data: AllianceData) -> None:
    """Five contractors (the busiest with a person who logs in), quotes asked for half the funded projects, and for
    every project contracted or later its quotes (one selected) and a work order with the default five milestones,
    moved as far as the project has gone (accepted with photos, done and waiting, sent back, late), with a site log,
    punch items and change orders; accepted milestones paid from the fund minus the retention (a paid expense request
    and its ledger entry), the latest sometimes still asked for, and the retention released after the warranty."""
    rng, a, begin, lead, treasurer = data.rng, data.alliance_id, data.begin, data.lead_id, data.treasurer_id
    today = _local_day(data.end)
    contractor_ids = list(data.ids.take("contractors", len(WORKS_CONTRACTORS)))
    name_of = {c: name for c, (name, _, _) in zip(contractor_ids, WORKS_CONTRACTORS, strict=True)}
    weights = [weight for _, _, weight in WORKS_CONTRACTORS]
    data.rows(Contractor, [
        {"id": c, "alliance_id": a, "name": name, "kinds": kinds, "licence_number": f"沪建安C-{2010 + c % 14}-{c:04d}",
         "contact_name": f"联系人{c}", "contact_phone": f"138{c:08d}",
         "insurance_expires_on": today + timedelta(days=rng.randrange(-30, 400)), "notes": "", "active": True,
         "created_by_id": lead, "created_at": begin, "updated_at": begin}
        for c, (name, kinds, _) in zip(contractor_ids, WORKS_CONTRACTORS, strict=True)])
    data.rows(WorksSettings, [{"alliance_id": a, "retention_percent": RETENTION_PERCENT,
                               "warranty_days": WARRANTY_DAYS, "accepted_by": Acceptor.LEAD, "updated_by_id": None,
                               "updated_at": begin}])
    person = data.contractor_user_id = data.ids.take("users")[0]
    data.rows(User, [{"id": person, "name": f"师傅{person}", "phone": f"150{person:08d}",
                      "email": f"district{person}@example.com", "password_hash": data.password_hash, "locale": None,
                      "active": True, "created_at": begin, "last_login_at": None}])
    data.rows(Membership, [{"id": data.ids.take("memberships")[0], "user_id": person, "role": Role.CONTRACTOR,
                            "shop_id": None, "alliance_id": a, "street_id": None, "created_at": begin,
                            "granted_by_id": None, "confirmed_at": begin}])
    data.rows(contractor_users, [{"contractor_id": contractor_ids[0], "user_id": person}])

    quotes, orders, milestones, photos, milestone_links, logs, log_links = [], [], [], [], [], [], []
    punch, punch_links, changes, requests, payments, entries, raised = [], [], [], [], [], [], []
    most = (-1, -1)  # the kinds of records and their number, of the order in progress shown as data.order_id

    def pay(order: dict, milestone: dict | None, gross: int, retention: int, at: datetime, state: PaymentState) -> None:
        """A payment asked for at `at`: its expense request, and the ledger entry when it is paid."""
        net = gross - retention
        what = milestone["name"] if milestone else "质保金释放"
        entry_id = None
        if state == PaymentState.PAID:
            entry_id = data.ids.take("ledger_entries")[0]
            paid = min(at + timedelta(days=rng.randrange(2, 10)), data.end)
            entries.append({"id": entry_id, "fund_id": data.fund_id, "occurred_on": paid,
                            "method": PaymentMethod.BANK_TRANSFER, "reference": f"WO{order['id']:06d}-{len(entries)}",
                            "counterparty": name_of[order["contractor_id"]], "purpose": f"店招工程款：{what}",
                            "shop_id": None, "project_id": order["project_id"], "receipt_photo_id": None,
                            "pledge_id": None, "reverses_id": None, "idempotency_key": f"{rng.getrandbits(128):032x}",
                            "entered_by_id": treasurer, "entered_at": min(paid + timedelta(minutes=30), data.end),
                            "kind": EntryKind.EXPENSE, "amount_fen": -net})
        request_id = data.ids.take("expense_requests")[0]
        requests.append({
            "id": request_id, "fund_id": data.fund_id, "project_id": order["project_id"],
            "payee": name_of[order["contractor_id"]], "payee_account": "工商银行 6222…", "amount_fen": net,
            "purpose": f"店招改造 #{order['project_id']}：{what}", "requested_by_id": treasurer, "created_at": at,
            "updated_at": at, "state": {PaymentState.PAID: ExpenseState.PAID, PaymentState.REQUESTED:
                                        ExpenseState.SUBMITTED, PaymentState.VOID: ExpenseState.REJECTED}[state],
            "decision_reason": "发票抬头有误，请重开。" if state == PaymentState.VOID else "",
            "paid_entry_id": entry_id, "idempotency_key": f"{rng.getrandbits(128):032x}"})
        payments.append({"id": data.ids.take("order_payments")[0], "order_id": order["id"], "alliance_id": a,
                         "kind": PaymentKind.MILESTONE if milestone else PaymentKind.RETENTION,
                         "milestone_id": milestone["id"] if milestone else None, "gross_fen": gross,
                         "retention_fen": retention, "expense_request_id": request_id, "state": state,
                         "created_by_id": treasurer, "created_at": at})

    for p in data.project_ids:
        state, shop = data.project_state[p], data.project_shop[p]
        if state == ProjectState.FUNDED and rng.random() < 0.5:  # quotes asked for; the contractors answering
            invited = _on(data, today - timedelta(days=rng.randrange(1, 30)))
            for c in rng.sample(contractor_ids, rng.randrange(2, 4)):
                answer = rng.choices([QuoteState.INVITED, QuoteState.SUBMITTED, QuoteState.DECLINED], [5, 4, 1])[0]
                quotes.append(_quote(data, p, c, answer, invited, data.budget_of[p] * rng.randrange(85, 120) // 100,
                                     person if c == contractor_ids[0] else lead))
            continue
        if state not in ORDERED:
            continue
        start, due = _order_dates(data, state, data.project_created[p], today)
        chosen = rng.choices(contractor_ids, weights)[0]
        worker = person if chosen == contractor_ids[0] else lead
        agreed = data.budget_of[p] * rng.randrange(85, 101) // 10_000 * 100
        invited = _on(data, start - timedelta(days=rng.randrange(15, 30)))
        decided = _on(data, start - timedelta(days=3))
        for c in [chosen, *rng.sample([c for c in contractor_ids if c != chosen], rng.randrange(1, 3))]:
            answer = QuoteState.SELECTED if c == chosen else rng.choice([QuoteState.NOT_SELECTED] * 4
                                                                        + [QuoteState.DECLINED])
            quotes.append(_quote(data, p, c, answer, invited, agreed if c == chosen else
                                 agreed * rng.randrange(102, 125) // 100, person if c == contractor_ids[0] else lead,
                                 decided if answer != QuoteState.DECLINED else None))
            if c == chosen:
                quote_id = quotes[-1]["id"]
        order = {"id": data.ids.take("work_orders")[0], "project_id": p, "quote_id": quote_id, "contractor_id": chosen,
                 "alliance_id": a, "state": OrderState.CONTRACTED, "agreed_fen": agreed, "changes_fen": 0,
                 "start_on": start, "due_on": due, "retention_percent": RETENTION_PERCENT,
                 "warranty_days": WARRANTY_DAYS, "created_by_id": lead, "created_at": decided, "installed_on": None,
                 "completed_at": None, "updated_at": decided}
        orders.append(order)

        # How far the work has gone: the first `accepted` milestones, then the next one done, sent back or to do.
        days = max((due - start).days, 1)
        dues = [start + timedelta(days=int((days * part).to_integral_value())) for *_, part in DEFAULT_MILESTONES]
        if state == ProjectState.CONTRACTED:
            accepted = 0
        elif state == ProjectState.IN_PROGRESS:
            accepted = 0
            while accepted < 3 and dues[accepted] <= today + timedelta(days=2) and rng.random() < 0.85:
                accepted += 1
        else:
            accepted = 5 if state == ProjectState.COMPLETED or rng.random() < 0.4 else 4
        last = start
        rows = []
        for n, (kind, share, needed, _) in enumerate(DEFAULT_MILESTONES):
            row = {"id": data.ids.take("milestones")[0], "order_id": order["id"], "alliance_id": a, "position": n + 1,
                   "kind": kind, "name": MILESTONE_NAMES[kind], "due_on": dues[n], "share_percent": share,
                   "photos_needed": needed, "state": MilestoneState.PENDING, "done_by_id": None, "done_at": None,
                   "done_note": "", "decided_by_id": None, "decided_at": None, "return_reason": "",
                   "late_notified_on": None, "accepted_late": False, "updated_at": decided}
            if n < accepted:
                last = max(last, min(today, dues[n] + timedelta(days=rng.randrange(-3, 4))))
                done = _on(data, last)
                row.update(state=MilestoneState.ACCEPTED, done_by_id=worker, done_at=done,
                           done_note="已完成，照片见附件。", decided_by_id=lead,
                           decided_at=min(done + timedelta(hours=rng.randrange(2, 48)), data.end))
                row.update(updated_at=row["decided_at"], accepted_late=_local_day(row["decided_at"]) > dues[n])
            elif n == accepted and state != ProjectState.CONTRACTED:
                step = rng.choices([MilestoneState.DONE, MilestoneState.RETURNED, MilestoneState.PENDING], [3, 1, 6])[0]
                if step != MilestoneState.PENDING:
                    done = _on(data, max(last, today - timedelta(days=rng.randrange(0, 4))))
                    row.update(state=step, done_by_id=worker, done_at=done, done_note="已完成，请验收。",
                               updated_at=done)
                    if step == MilestoneState.RETURNED:
                        row.update(decided_by_id=lead, decided_at=min(done + timedelta(hours=4), data.end),
                                   return_reason="照片不清楚，请补拍安装细节。")
            if row["state"] != MilestoneState.ACCEPTED and row["due_on"] < today and rng.random() < 0.7:
                row["late_notified_on"] = row["due_on"] + timedelta(days=1)
            if row["done_at"] is not None:
                shots = _photo_rows(data, needed, shop, worker)
                photos.extend(shots)
                milestone_links.extend({"milestone_id": row["id"], "photo_id": shot["id"]} for shot in shots)
            rows.append(row)
        milestones.extend(rows)
        if state != ProjectState.CONTRACTED:
            order["state"] = OrderState.COMPLETED if accepted == 5 else OrderState.IN_PROGRESS
        if accepted >= 4:
            order["installed_on"] = _local_day(rows[3]["decided_at"])
        if accepted == 5:
            order["completed_at"] = order["updated_at"] = rows[4]["decided_at"]
        records: Counter[str] = Counter()
        if order["state"] == OrderState.CONTRACTED:
            continue

        # The site log, punch items found at the installation, now and then a change order.
        worked_until = min(today, dues[-1])
        for day in sorted(start + timedelta(days=rng.randrange(0, max(1, (worked_until - start).days)))
                          for _ in range(rng.randrange(1, 5))):
            log_id = data.ids.take("site_log_entries")[0]
            logs.append({"id": log_id, "order_id": order["id"], "alliance_id": a, "day": day,
                         "crew_size": rng.randrange(2, 6), "work_done": rng.choice(SITE_WORK),
                         "weather": rng.choice(WEATHER), "problems": "" if rng.random() < 0.8 else "临时停电半天。",
                         "created_by_id": worker, "created_at": _on(data, day, 17)})
            shot = _photo_rows(data, 1, shop, worker)
            photos.extend(shot)
            log_links.append({"entry_id": log_id, "photo_id": shot[0]["id"]})
            records["log"] += 1
        if accepted >= 4 and rng.random() < 0.25:
            found = rows[3]["decided_at"]
            for number in range(1, rng.randrange(2, 4)):
                step = PunchState.CLOSED if accepted == 5 else rng.choice(list(PunchState))
                moved = [min(found + timedelta(days=k), data.end) if k <= list(PunchState).index(step) else None
                         for k in (1, 2, 3)]  # fixed, verified, closed
                item_id = data.ids.take("punch_items")[0]
                punch.append({"id": item_id, "order_id": order["id"], "alliance_id": a, "number": number,
                              "description": "面板与墙面有约5毫米缝隙，需打胶封边。", "state": step,
                              "raised_by_id": lead,
                              "raised_at": found, "fixed_by_id": worker if moved[0] else None, "fixed_at": moved[0],
                              "fix_note": "已用耐候硅酮胶封边。" if moved[0] else "",
                              "verified_by_id": lead if moved[1] else None, "verified_at": moved[1],
                              "closed_by_id": lead if moved[2] else None, "closed_at": moved[2],
                              "updated_at": next((m for m in reversed(moved) if m), found)})
                for kind in ("found", "fixed") if moved[0] else ("found",):
                    shot = _photo_rows(data, 1, shop, lead if kind == "found" else worker)
                    photos.extend(shot)
                    punch_links.append({"item_id": item_id, "photo_id": shot[0]["id"], "kind": kind})
                records["punch"] += 1
        if rng.random() < 0.12:
            amount = rng.randrange(2, 30) * 10_000 * (-1 if rng.random() < 0.2 else 1)
            step = rng.choices(list(ChangeState), [15, 75, 7, 3])[0]  # proposed, approved, rejected, withdrawn
            if step == ChangeState.PROPOSED and order["state"] == OrderState.COMPLETED:
                step = ChangeState.WITHDRAWN
            proposed = _on(data, start + timedelta(days=rng.randrange(0, max(1, (worked_until - start).days))))
            settled = min(proposed + timedelta(days=1), data.end) if step != ChangeState.PROPOSED else None
            approved = step == ChangeState.APPROVED
            changes.append({"id": data.ids.take("change_orders")[0], "order_id": order["id"], "alliance_id": a,
                            "number": 1, "amount_fen": amount, "scope": "加装不锈钢防坠落保险绳两根。", "state": step,
                            "proposed_by_id": worker, "proposed_at": proposed,
                            "decided_by_id": lead if step in (ChangeState.APPROVED, ChangeState.REJECTED) else None,
                            "decided_at": settled if step != ChangeState.WITHDRAWN else None,
                            "decision_reason": "安全措施，由店铺承担。" if approved else "",
                            "shop_fen": amount if approved and amount > 0 else 0, "fund_fen": 0, "subsidy_fen": 0,
                            "updated_at": settled or proposed})
            if approved:
                order["changes_fen"] = amount
                if amount > 0:  # a raise takes effect with the project's shares raised to match (the shop's)
                    raised.append({"b_project": p, "b_amount": amount})
            records["change"] += 1

        # The money: every accepted milestone paid minus the retention (the latest perhaps still asked for).
        value = order["agreed_fen"] + order["changes_fen"]
        held = 0
        for n, (row, gross) in enumerate(zip(rows, allocate(value, [r["share_percent"] for r in rows]), strict=True)):
            if n >= accepted:
                break
            asked = min(row["decided_at"] + timedelta(days=rng.randrange(1, 8)), data.end)
            latest = n == accepted - 1 and accepted < 5
            outcome = rng.choices([PaymentState.PAID, PaymentState.REQUESTED, None], [5, 3, 2])[0] if latest \
                else PaymentState.PAID if rng.random() < 0.97 else rng.choice([PaymentState.VOID, None])
            if outcome == PaymentState.PAID and asked >= data.end - timedelta(days=2):
                outcome = PaymentState.REQUESTED  # too recent to have been paid
            if outcome is None:
                continue
            retention = retention_of(gross, RETENTION_PERCENT)
            pay(order, row, gross, retention, asked, outcome)
            held += retention if outcome == PaymentState.PAID else 0
            records["payment"] += 1
        warranty_over = order["installed_on"] and order["installed_on"] + timedelta(days=WARRANTY_DAYS) < today
        if state == ProjectState.COMPLETED and warranty_over and held and rng.random() < 0.8:
            asked = _on(data, order["installed_on"] + timedelta(days=WARRANTY_DAYS + rng.randrange(1, 30)))
            pay(order, None, held, 0, asked, PaymentState.PAID if asked < data.end - timedelta(days=10)
                else PaymentState.REQUESTED)
        if order["state"] == OrderState.IN_PROGRESS and (len(records), records.total()) > most:
            most, data.order_id = (len(records), records.total()), order["id"]

    data.rows(Quote, quotes)
    data.rows(WorkOrder, orders)
    data.rows(Photo, photos)
    data.rows(Milestone, milestones)
    data.rows(milestone_photos, milestone_links)
    data.rows(SiteLogEntry, logs)
    data.rows(site_log_photos, log_links)
    data.rows(PunchItem, punch)
    data.rows(punch_photos, punch_links)
    data.rows(ChangeOrder, changes)
    data.rows(LedgerEntry, entries)
    data.rows(ExpenseRequest, requests)
    data.rows(OrderPayment, payments)
    data.counts["work_orders (active)"] += sum(o["state"] != OrderState.COMPLETED for o in orders)
    if raised:
        budgets = ProjectBudget.__table__
        db.session.connection().execute(
            update(budgets).where(budgets.c.project_id == bindparam("b_project"))
            .values(budget_fen=budgets.c.budget_fen + bindparam("b_amount"),
                    shop_fen=budgets.c.shop_fen + bindparam("b_amount")), raised)
    if entries:  # the payments' ledger entries in the fund's monthly sums too, as the app adds them
        months: dict[date, list[int]] = defaultdict(lambda: [0, 0])  # month -> spent, entries
        for entry in entries:
            month = months[local_month(entry["occurred_on"])]
            month[0] -= entry["amount_fen"]
            month[1] += 1
        add_to_months(db.session.connection(), [
            {"fund_id": data.fund_id, "month": month, "kind": EntryKind.EXPENSE.value, "income_fen": 0,
             "spending_fen": spent, "entries": count} for month, (spent, count) in months.items()])
        data.counts["ledger_months"] = db.session.scalar(
            select(func.count()).where(LedgerMonth.fund_id == data.fund_id))


@dataclass
class StreetOffice:
    """A street's safety office, for the registry step of its alliances: its officer, checklist and settings, the
    serial numbers issued per year and the places with a hazard report open."""

    street_id: int
    officer_id: int
    officer_phone: str
    template_id: int
    items: list[ChecklistItem]
    code: str
    intervals: dict[Risk, int]  # days from a passed inspection to the next, by risk level
    fix_days: dict[Severity, int]
    sequence: Counter[int] = field(default_factory=Counter)  # year -> the last serial number issued
    open_places: set[str] = field(default_factory=set)


def open_street_office(street_id: int, ids: Ids, begin: datetime, password_hash: str) -> StreetOffice:
    """The street's officer (a person who logs in), and its checklist and settings made through the app."""
    officer_id = ids.take("users")[0]
    phone = f"150{officer_id:08d}"
    db.session.execute(insert(User), [{
        "id": officer_id, "name": f"安全员{street_id}", "phone": phone, "email": f"district{officer_id}@example.com",
        "password_hash": password_hash, "locale": None, "active": True, "created_at": begin, "last_login_at": None}])
    db.session.execute(insert(Membership), [{
        "id": ids.take("memberships")[0], "user_id": officer_id, "role": Role.STREET_OFFICER, "shop_id": None,
        "alliance_id": None, "street_id": street_id, "created_at": begin, "granted_by_id": None,
        "confirmed_at": begin}])
    template = checklists.current_template(street_id)
    settings = checklists.settings_for(street_id)
    db.session.flush()
    return StreetOffice(street_id=street_id, officer_id=officer_id, officer_phone=phone, template_id=template.id,
                        items=[i for i in template.items if i.severity != Severity.MINOR], code=settings.code,
                        intervals={risk: settings.interval_for(risk) for risk in Risk},
                        fix_days={severity: settings.days_for(severity) for severity in Severity})


def _registry_moment(rng: random.Random, day: date, end: datetime) -> datetime:
    """A moment of the Shanghai working day `day`, as naive UTC, not after the district's end."""
    return min(local_day_start_utc(day) + timedelta(hours=9, minutes=rng.randrange(0, 8 * 60)), end)


def fill_registry(data: AllianceData) -> None:
    """Every sign's line in the street's registry and the records behind it: up to HISTORY_YEARS of inspections (about
    Spec.inspections_per_sign a sign, a passed one every interval of the sign's risk level, a failed one followed by
    its rectification order and the re-inspection that closed it), a certificate for each passed one (the newest in
    force, due when the sign's next inspection is), a few signs never inspected, a few closed as removed, some
    overdue (a few of those on a day's route), some due within 30 days, some whose latest inspection failed; and the
    public's hazard reports (Spec.reports_per_sign a sign: most resolved or dismissed, those still open about places
    with no other open report, as the app keeps them), with each sign's count of open reports."""
    office = data.office
    if office is None or not data.signboards:
        return
    rng = random.Random(data.spec.seed * 7_927 + data.alliance_id)
    today, end, a = local_today(), data.end, data.alliance_id
    statuses, status_weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    earliest = today - timedelta(days=365 * HISTORY_YEARS)
    signs = data.signboards
    total = round(len(signs) * data.spec.inspections_per_sign)
    status_of = {sign["id"]: rng.choices(statuses, status_weights)[0] for sign in signs}
    inspected = [sign for sign in signs if status_of[sign["id"]] != "never_inspected"]
    per_sign, extra = divmod(total, max(1, len(inspected)))
    inspections, answers, orders, certificates, lines = [], [], [], [], []
    reinspected: list[dict] = []  # {"b_id": re-inspection, "b_order": the order it re-checks}
    history: dict[int, list[dict]] = defaultdict(list)  # sign id -> its finished inspections, oldest first
    under_way: dict[int, dict] = {}  # sign id -> its open inspection
    order_of: dict[int, dict] = {}  # sign id -> its order not closed

    def inspection(sign: dict, kind: InspectionKind, state: InspectionState, started: datetime) -> dict:
        done = state != InspectionState.OPEN
        row = {"id": data.ids.take("inspections")[0], "signboard_id": sign["id"], "shop_id": sign["shop_id"],
               "alliance_id": a, "street_id": data.street_id, "project_id": None, "template_id": office.template_id,
               "rectification_id": None, "kind": kind, "state": state, "sign_type": sign["sign_type"],
               "illuminated": sign["illuminated"], "exception_reason": "", "summary": "", "planned_on": None,
               "started_by_id": office.officer_id, "started_at": started,
               "completed_by_id": office.officer_id if done else None,
               "completed_at": min(started + timedelta(minutes=rng.randrange(20, 90)), end) if done else None,
               "updated_at": started}
        inspections.append(row)
        if done:
            history[sign["id"]].append(row)
        else:
            under_way[sign["id"]] = row
        return row

    def fail(sign: dict, row: dict, day: date) -> dict:
        """The failed answers of a failed inspection, and its rectification order (open) with their items."""
        applicable = [i for i in office.items if i.applies(sign["sign_type"], sign["illuminated"])]
        failed = rng.sample(applicable, min(len(applicable), rng.choice((1, 1, 1, 2))))
        order = {"id": data.ids.take("rectification_orders")[0], "inspection_id": row["id"], "signboard_id": sign["id"],
                 "shop_id": sign["shop_id"], "alliance_id": a, "street_id": data.street_id, "project_id": None,
                 "state": RectificationState.OPEN,
                 "deadline": day + timedelta(days=min(office.fix_days[i.severity] for i in failed)),
                 "overdue_notified_at": None, "created_at": row["completed_at"], "closed_at": None, "items": []}
        orders.append(order)
        for item in failed:
            answer_id = data.ids.take("inspection_answers")[0]
            answers.append({"id": answer_id, "inspection_id": row["id"], "alliance_id": a, "item_id": item.id,
                            "condition_id": None, "code": item.code, "outcome": Outcome.FAIL,
                            "note": "锚栓松动，需紧固。", "revision": 1, "answered_by_id": office.officer_id,
                            "answered_at": row["started_at"]})
            order["items"].append({
                "id": data.ids.take("rectification_items")[0], "order_id": order["id"], "alliance_id": a,
                "answer_id": answer_id, "code": item.code, "severity": item.severity,
                "deadline": day + timedelta(days=office.fix_days[item.severity]), "fixed_note": "",
                "fixed_by_id": None, "fixed_at": None})
        return order

    def fixed(order: dict, at: datetime) -> None:
        for item in order["items"]:
            item.update(fixed_note="已紧固并复查。", fixed_by_id=data.owner_of[order["shop_id"]], fixed_at=at)

    for n, sign in enumerate(inspected):
        status = status_of[sign["id"]]
        count = max(1, per_sign + (1 if n < extra else 0))
        passed_risk = risk_of(SimpleNamespace(**sign, last_passed=True), today)
        interval = office.intervals[passed_risk]
        # The next due date its status asks for, the passed inspection it follows from, and perhaps a failed one since.
        due = today - timedelta(days=rng.randrange(1, 240)) if status == "overdue" else \
            today + timedelta(days=rng.randrange(0, 31)) if status == "due_soon" else \
            today + timedelta(days=rng.randrange(31, interval))
        last_pass = due - timedelta(days=interval)
        events: list[tuple[date, InspectionKind, bool]] = []  # newest first: day, kind, passed
        if status in ("overdue", "due_soon") and count > 1 and rng.random() < RECENT_FAIL_RATE:
            first = max(last_pass + timedelta(days=1), due - timedelta(days=30), today - timedelta(days=120))
            if first < today:
                events.append((first + timedelta(days=rng.randrange(0, (today - first).days)), InspectionKind.PERIODIC,
                               False))
        day, kind = last_pass, InspectionKind.PERIODIC
        while len(events) < count:
            events.append((day, kind, True))
            left = count - len(events)
            if not left:
                break
            if left >= 2 and rng.random() < SIGN_FAIL_RATE:  # it had failed: the re-inspection passed it
                events[-1] = (day, InspectionKind.REINSPECTION, True)
                day -= timedelta(days=rng.choice(list(office.fix_days.values())[:2]) + rng.randrange(1, 8))
                events.append((day, InspectionKind.PERIODIC, False))
                left -= 1
            spread = (day - earliest).days // left
            day -= timedelta(days=max(30, min(round(interval * rng.uniform(0.85, 1.0)), spread)))
            kind = InspectionKind.PERIODIC
        order, current = None, None
        for day, kind, passed in reversed(events):
            row = inspection(sign, kind, InspectionState.PASSED if passed else InspectionState.FAILED,
                             _registry_moment(rng, day, end))
            if order is not None:  # the re-inspection of the failure before it
                reinspected.append({"b_id": row["id"], "b_order": order["id"]})
                order.update(state=RectificationState.CLOSED, closed_at=row["completed_at"])
                fixed(order, row["started_at"] - timedelta(days=1))
                order = None
            if not passed:
                order = fail(sign, row, day)
                continue
            certificate = {
                "id": 0, "serial": "", "token": f"{rng.getrandbits(192):048x}", "signboard_id": sign["id"],
                "shop_id": sign["shop_id"], "alliance_id": a, "street_id": data.street_id, "project_id": None,
                "inspection_id": row["id"], "inspector_id": office.officer_id, "issued_on": day,
                "valid_until": day + timedelta(days=interval), "next_due_on": day + timedelta(days=interval),
                "conditions": "", "advisories": "", "revoked_at": None, "revoked_reason": "", "superseded_by_id": None,
                "created_at": row["completed_at"]}
            if current is not None:
                current["superseded_by_id"] = certificate
            certificates.append(certificate)
            current = certificate
        if order is not None:  # the latest failed: the shop is on it, or says it is fixed
            order_of[sign["id"]] = order
            if rng.random() < 0.3:
                order["state"] = RectificationState.FIXED
                fixed(order, min(order["created_at"] + timedelta(days=1), end))
        last = history[sign["id"]][-1]
        sign.update(last_inspected_on=_local_day(last["completed_at"]),
                    last_passed=last["state"] == InspectionState.PASSED,
                    next_due_on=current["next_due_on"] if current else None)
        if status == "removed":
            removed = min(last["completed_at"] + timedelta(days=rng.randrange(1, 400)), end)
            photo = _photo_rows(data, 1, sign["shop_id"], office.officer_id, rng)
            data.rows(Photo, photo)
            sign.update(removed_at=removed, removed_by_id=office.officer_id, removal_note="招牌已拆除，墙面已修补。",
                        removal_photo_id=photo[0]["id"], condition=SignCondition.REMOVED, next_due_on=None)
        elif status == "overdue" and rng.random() < PLANNED_RATE:  # on the route of a day of the coming week
            kind = InspectionKind.REINSPECTION if sign["id"] in order_of else InspectionKind.PERIODIC
            started = _registry_moment(rng, today - timedelta(days=rng.randrange(1, 5)), end)
            planned = inspection(sign, kind, InspectionState.OPEN, started)
            planned["planned_on"] = today + timedelta(days=rng.randrange(0, 7))
            if sign["id"] in order_of:
                reinspected.append({"b_id": planned["id"], "b_order": order_of[sign["id"]]["id"]})

    # The public's reports: most long settled, the open ones about places with no other open report on the street.
    standing = [sign for sign in signs if sign.get("removed_at") is None]
    open_reports: Counter[int] = Counter()
    reports, entries = [], []
    states, state_weights = list(REPORT_STATES), list(REPORT_STATES.values())
    places, place_weights = list(REPORT_PLACES), list(REPORT_PLACES.values())
    services, service_weights = list(SERVICE_WEIGHTS), list(SERVICE_WEIGHTS.values())
    span = (end - data.begin).total_seconds()
    for _ in range(round(len(signs) * data.spec.reports_per_sign)):
        state = rng.choices(states, state_weights)[0]
        place = rng.choices(places, place_weights)[0]
        sign = rng.choice(standing if state in (ReportState.NEW, ReportState.ACCEPTED, ReportState.INSPECTING)
                          else signs)
        if place == "sign":
            key, shop_id, house = f"sign:{sign['id']}", sign["shop_id"], data.house_of[sign["shop_id"]]
        elif place == "shop":
            key, shop_id, house = f"shop:{sign['shop_id']}", sign["shop_id"], data.house_of[sign["shop_id"]]
        else:
            house = f"{data.house_of[sign['shop_id']]}-{rng.randrange(1, 4)}"
            key, shop_id = f"house:{house}", None
        if state.open:
            if key in office.open_places:  # a second report of the place joins the first: settled long ago instead
                state = ReportState.DISMISSED
            else:
                office.open_places.add(key)
        history_of = history.get(sign["id"], [])
        if state == ReportState.RESOLVED and not history_of:
            state = ReportState.DISMISSED
        linked = place == "sign" or state in (ReportState.ACCEPTED, ReportState.INSPECTING, ReportState.RESOLVED)
        inspection_id, closed = None, None
        if state == ReportState.NEW:
            created = end - timedelta(days=rng.uniform(0, 20))
        elif state == ReportState.ACCEPTED:
            created = end - timedelta(days=rng.uniform(2, 60))
        elif state == ReportState.INSPECTING:
            created = end - timedelta(days=rng.uniform(2, 30))
            follow_up = under_way.get(sign["id"]) or inspection(
                sign, InspectionKind.FOLLOW_UP, InspectionState.OPEN, min(created + timedelta(days=1), end))
            inspection_id = follow_up["id"]
        elif state == ReportState.RESOLVED:
            done = rng.choice(history_of)
            created = done["started_at"] - timedelta(days=rng.uniform(2, 30))
            inspection_id, closed = done["id"], done["completed_at"]
        else:
            created = data.begin + timedelta(seconds=rng.uniform(0, span))
            closed = min(created + timedelta(days=rng.uniform(0.5, 5)), end)
        triaged = None if state == ReportState.NEW else min(created + timedelta(hours=rng.uniform(2, 48)), end)
        if closed is not None and triaged is not None:
            triaged = min(triaged, closed)
        service = rng.choices(services, service_weights)[0]
        report_id = data.ids.take("hazard_reports")[0]
        count = rng.choices((1, 2, 3), (85, 10, 5))[0]
        shared = rng.random() < 0.3
        reports.append({
            "id": report_id, "street_id": data.street_id, "alliance_id": a,
            "shop_id": sign["shop_id"] if linked else shop_id, "signboard_id": sign["id"] if linked else None,
            "house_number": house, "place_key": key, "service": service, "description": REPORT_WORDS[service],
            "urgent": rng.random() < (0.15 if service == Service.LOOSE else 0.03), "state": state,
            "latitude": Decimal(f"31.{rng.randrange(215000, 232000)}") if shared else None,
            "longitude": Decimal(f"121.{rng.randrange(430000, 452000)}") if shared else None,
            "entries_count": count, "public_note": "经现场核查，招牌牢固，暂无安全隐患。"
            if state == ReportState.DISMISSED else "已安排检查。" if state != ReportState.NEW else "",
            "inspection_id": inspection_id, "triaged_by_id": office.officer_id if triaged else None,
            "triaged_at": triaged, "closed_at": closed, "created_at": created,
            "updated_at": closed or triaged or created})
        if state.open and linked:
            open_reports[sign["id"]] += 1
        for k in range(count):
            entries.append({
                "id": data.ids.take("report_entries")[0], "report_id": report_id,
                "token": f"{rng.getrandbits(256):064x}",
                "description": REPORT_WORDS[service] if k == 0 else "我也看到了。",
                "reporter_name": "" if rng.random() < 0.6 else "热心市民",
                "reporter_contact": "" if rng.random() < 0.7 else f"138{rng.randrange(10**8):08d}",
                "client": f"{rng.getrandbits(256):064x}", "api_key_id": None,
                "created_at": min(created + timedelta(days=k * rng.uniform(0, 2)), closed or end)})

    # Certificates' serial numbers per street and year, in the order this road's were issued.
    certificates.sort(key=lambda row: (row["issued_on"], row["inspection_id"]))
    for row, certificate_id in zip(certificates, data.ids.take("certificates", len(certificates)), strict=True):
        year = row["issued_on"].year
        office.sequence[year] += 1
        row.update(id=certificate_id, serial=f"{office.code}-{year}-{office.sequence[year]:05d}")
    for row in certificates:
        if isinstance(row["superseded_by_id"], dict):
            row["superseded_by_id"] = row["superseded_by_id"]["id"]
    for sign in signs:
        lines.append({"b_id": sign["id"], "b_risk": risk_of(SimpleNamespace(**{"last_passed": None, **sign}), today),
                      "b_inspected": sign.get("last_inspected_on"), "b_passed": sign.get("last_passed"),
                      "b_due": sign.get("next_due_on"), "b_reports": open_reports[sign["id"]],
                      "b_removed": sign.get("removed_at"), "b_removed_by": sign.get("removed_by_id"),
                      "b_note": sign.get("removal_note", ""), "b_photo": sign.get("removal_photo_id"),
                      "b_condition": sign["condition"]})
        data.counts[f"signs {status_of[sign['id']].replace('_', ' ')}"] += 1
    data.rows(Inspection, inspections)
    data.rows(InspectionAnswer, answers)
    data.rows(RectificationOrder, [{k: v for k, v in row.items() if k != "items"} for row in orders])
    data.rows(RectificationItem, [item for row in orders for item in row["items"]])
    table = Inspection.__table__
    if reinspected:  # a re-inspection names the order it re-checks (the order names its inspection: two steps)
        db.session.connection().execute(
            update(table).where(table.c.id == bindparam("b_id")).values(rectification_id=bindparam("b_order")),
            reinspected)
    data.rows(Certificate, sorted(certificates, key=lambda row: row["id"], reverse=True))  # the newer one first
    data.rows(HazardReport, reports)
    data.rows(ReportEntry, entries)
    boards = Signboard.__table__
    db.session.connection().execute(
        update(boards).where(boards.c.id == bindparam("b_id")).values(
            risk=bindparam("b_risk"), last_inspected_on=bindparam("b_inspected"), last_passed=bindparam("b_passed"),
            next_due_on=bindparam("b_due"), open_reports=bindparam("b_reports"), removed_at=bindparam("b_removed"),
            removed_by_id=bindparam("b_removed_by"), removal_note=bindparam("b_note"),
            removal_photo_id=bindparam("b_photo"), condition=bindparam("b_condition")), lines)
    data.counts["reports open"] += sum(r["state"].open for r in reports)
    data.counts["inspections open"] += len(under_way)


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
    fill_people_and_shops, fill_signboards_and_projects, fill_registry, fill_fund, fill_works, fill_photos_to_share,
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
    contractor_phone: str = ""  # a person of the alliance's busiest contractor
    order_id: int = 0  # a work order in progress, with a site log, payments and often more
    officers: dict[int, str] = field(default_factory=dict)  # street id -> its officer's phone


def build(spec: Spec, *, progress: Callable[[str], None] = lambda line: None, ids: Ids | None = None) -> District:
    """Fill the (empty, migrated) database of the current app context with a district of `spec`'s size (`ids`: go on
    from another build's ids, to add alliances of another size to the same database)."""
    started = time.perf_counter()
    ids, counts = ids or Ids(), Counter()
    end = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    begin = end - timedelta(days=3 * 365)
    password_hash = hash_password(PASSWORD)
    district = District(spec=spec, counts=counts, seconds=0.0)
    for s in range(spec.streets):
        street_id = ids.take("streets")[0]
        db.session.execute(insert(Street), [{"id": street_id, "name": f"第{street_id}街道", "district": "静安区",
                                             "created_at": begin}])
        counts["streets"] += 1
        office = open_street_office(street_id, ids, begin, password_hash)
        district.officers[street_id] = office.officer_phone
        counts["users"] += 1
        for n in range(spec.alliances_per_street):
            alliance_id = ids.take("alliances")[0]
            db.session.execute(insert(Alliance), [{"id": alliance_id, "street_id": street_id,
                                                   "name": f"{ROADS[n % len(ROADS)]}商家联盟{alliance_id}",
                                                   "road": ROADS[n % len(ROADS)], "created_at": begin}])
            counts["alliances"] += 1
            data = AllianceData(spec=spec, ids=ids, rng=random.Random(spec.seed * 100_003 + alliance_id),
                                street_id=street_id, alliance_id=alliance_id, index=counts["alliances"] - 1,
                                begin=begin, end=end, password_hash=password_hash, office=office)
            for step in STEPS:
                step(data)
            counts.update(data.counts)
            if counts["alliances"] == 1:
                district.first_alliance_id = alliance_id
                district.contractor_phone = f"150{data.contractor_user_id:08d}"
                district.order_id = data.order_id
                district.lead_phone = f"150{data.lead_id:08d}"
                district.treasurer_phone = f"150{data.treasurer_id:08d}"
                district.owner_shop_id = data.shop_ids[0]
                district.owner_phone = f"150{data.owner_of[data.shop_ids[0]]:08d}"
                district.project_id = next(p for p in data.project_ids if data.project_shop[p] == data.shop_ids[0])
            db.session.commit()
        db.session.execute(insert(CertificateSequence), [{"street_id": street_id, "year": year, "last": last}
                                                         for year, last in sorted(office.sequence.items())])
        db.session.commit()
        progress(f"street {s + 1}/{spec.streets}: {counts['ledger_entries']:,} entries, "
                 f"{counts['work_orders']:,} work orders, {time.perf_counter() - started:.0f} s")
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
    counts = district.counts
    print(f"Works: {counts['contractors']:,} contractors, {counts['quotes']:,} quotes, {counts['work_orders']:,} work "
          f"orders ({counts['work_orders (active)']:,} active), {counts['milestones']:,} milestones, "
          f"{counts['site_log_entries']:,} site log entries, {counts['punch_items']:,} punch items, "
          f"{counts['change_orders']:,} change orders, {counts['order_payments']:,} payments")
    return 0


if __name__ == "__main__":
    sys.exit(main())
