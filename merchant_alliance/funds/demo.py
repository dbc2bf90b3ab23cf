"""A year of Yuyuan Road's money: quarterly dues pledged and (mostly) paid, the street office's subsidy,
a sponsor's donation, the alliance's running costs (paid after the leads approved), and the demo bookshop's
renovation funded. All through the services, so the books add up. The works' demo pays its contractor."""

from __future__ import annotations

import io
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select, update
from werkzeug.datastructures import FileStorage

from merchant_alliance.accounts.models import Alliance, Role, User
from merchant_alliance.demo import DemoContext
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, expenses, pledges, services
from merchant_alliance.funds.models import (
    EntryKind,
    ExpenseRequest,
    LedgerEntry,
    PaymentMethod,
    Pledge,
)
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import SHANGHAI

QUARTERLY_DUES_FEN = 300_00
STREET_OFFICE = "静安寺街道办事处"
METHODS = [PaymentMethod.WECHAT_PAY] * 5 + [PaymentMethod.ALIPAY] * 3 + [PaymentMethod.BANK_TRANSFER] * 2 \
    + [PaymentMethod.CASH]

# (days ago, payee, amount in fen, purpose)
RUNNING_COSTS = [
    (330, "上海静安图文快印店", 1_860_00, "联盟成立宣传折页与海报印刷"),
    (290, "愚园路社区活动中心", 2_000_00, "商家联盟季度大会场地租用"),
    (240, "梧桐设计工作室", 8_000_00, "愚园路店招风貌导则设计咨询"),
    (150, "静安照明维修部", 3_600_00, "公共区域夜间照明检修"),
    (60, "愚园路社区活动中心", 2_000_00, "商家联盟季度大会场地租用"),
]


def _key() -> str:
    return uuid.uuid4().hex


def _at(day: date, hour: int = 10) -> datetime:
    """A Shanghai moment on `day`, as the naive UTC the database stores."""
    return datetime.combine(day, time(hour, 0), SHANGHAI).astimezone(UTC).replace(tzinfo=None)


def draw_receipt(seed: int) -> FileStorage:
    """A small picture of a paper receipt (nothing downloaded)."""
    rng = random.Random(seed)
    img = Image.new("RGB", (480, 640), (250, 248, 240))
    d = ImageDraw.Draw(img)
    d.rectangle((30, 30, 450, 90), fill=(180, 40, 40))
    for row in range(8):
        y = 130 + row * 50
        d.rectangle((40, y, 40 + rng.randrange(180, 400), y + 14), fill=(90, 90, 90))
    d.ellipse((320, 480, 440, 600), outline=(200, 30, 30), width=6)  # the company seal
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=80)
    buffer.seek(0)
    return FileStorage(stream=buffer, filename=f"receipt-{seed}.jpg", content_type="image/jpeg")


def _paid_expense(treasurer: User, leads: list[User], fund, day: date, payee: str, amount_fen: int, purpose: str,
                  seed: int, project: Project | None = None) -> None:
    """An expense as it really happens: requested with its invoice, approved (twice if large), paid."""
    request = expenses.create_request(treasurer, fund, payee=payee, amount_fen=amount_fen, purpose=purpose,
                                      project=project, receipts=[draw_receipt(seed)], idempotency_key=_key(),
                                      payee_account="中国工商银行静安支行 6222 0210 0100 8888")
    for lead in leads[:expenses.approvals_needed(request)]:
        expenses.approve(lead, request)
    expenses.pay(treasurer, request, method=PaymentMethod.BANK_TRANSFER, idempotency_key=_key(),
                 reference=f"BT{seed:06d}", occurred_on=_at(day, 15))
    db.session.execute(update(ExpenseRequest).where(ExpenseRequest.id == request.id)
                       .values(created_at=_at(day - timedelta(days=3)), updated_at=_at(day, 15))
                       .execution_options(cache_scopes=scopes_of(request)))
    db.session.commit()


def load_demo_money(alliance: Alliance, treasurer: User, leads: list[User], today: date | None = None) -> int:
    """Create the demo year once (nothing if the fund already has entries); returns the entries added."""
    fund = services.default_fund(alliance)
    db.session.commit()
    if db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.fund_id == fund.id).limit(1)):
        return 0
    today = today or pledges.today()
    rng = random.Random(2026)
    shops = list(db.session.scalars(select(Shop).where(Shop.alliance_id == alliance.id).order_by(Shop.id)))
    late_payers = set(rng.sample([s.id for s in shops], 7))

    def income(kind: EntryKind, day: date, amount_fen: int, **fields) -> LedgerEntry:
        # insert_entry, not record_entry: the same checks of the money, but one commit per batch.
        details = services.EntryDetails(kind, amount_fen, occurred_on=_at(day, rng.randrange(9, 20)), **fields)
        return services.insert_entry(treasurer, fund, details, idempotency_key=_key())

    start = today - timedelta(days=360)
    income(EntryKind.SUBSIDY, start + timedelta(days=5), 50_000_00, counterparty=STREET_OFFICE,
           method=PaymentMethod.BANK_TRANSFER, reference="JA-2025-店招-001", purpose="店招店牌改造专项补贴（第一批）")
    income(EntryKind.DONATION, start + timedelta(days=40), 10_000_00, counterparty="愚园路文化发展有限公司",
           method=PaymentMethod.BANK_TRANSFER, purpose="支持愚园路街区风貌提升")

    # Quarterly dues: pledged at the start of each quarter, due a month later; most shops pay on time.
    for quarter in range(4):
        opened = start + timedelta(days=91 * quarter)
        due = opened + timedelta(days=30)
        for shop in shops:
            pledge = Pledge(fund_id=fund.id, shop_id=shop.id, amount_fen=QUARTERLY_DUES_FEN, due_on=due,
                            note=f"第{quarter + 1}季度会费", created_by_id=treasurer.id, created_at=_at(opened))
            db.session.add(pledge)
            db.session.flush()
            if shop.id in late_payers and quarter >= 2:
                continue  # still owed: the arrears page has something to show
            paid_on = opened + timedelta(days=rng.randrange(1, 45))
            if paid_on >= today:
                continue
            income(EntryKind.CONTRIBUTION, paid_on, QUARTERLY_DUES_FEN, pledge=pledge, shop=shop,
                   method=rng.choice(METHODS), reference=f"{rng.randrange(10**9, 10**10)}", purpose="季度会费")
        db.session.commit()

    income(EntryKind.SUBSIDY, start + timedelta(days=210), 30_000_00, counterparty=STREET_OFFICE,
           method=PaymentMethod.BANK_TRANSFER, reference="JA-2025-店招-002", purpose="店招店牌改造专项补贴（第二批）")
    db.session.commit()
    mistake = income(EntryKind.CONTRIBUTION, start + timedelta(days=220), 3_000_00, shop=shops[10],
                     method=PaymentMethod.WECHAT_PAY, purpose="误录：应为300元")
    db.session.commit()
    services.reverse_entry(treasurer, mistake, "金额录入错误，多录一个零；已按300元重新登记。", idempotency_key=_key())
    income(EntryKind.CONTRIBUTION, start + timedelta(days=220), 300_00, shop=shops[10],
           method=PaymentMethod.WECHAT_PAY, purpose="自愿捐助")
    db.session.commit()

    for seed, (days_ago, payee, amount, purpose) in enumerate(RUNNING_COSTS):
        _paid_expense(treasurer, leads, fund, today - timedelta(days=days_ago), payee, amount, purpose, seed)

    _fund_the_bookshop(fund, treasurer, leads, today)
    return db.session.scalar(select(db.func.count(LedgerEntry.id)).where(LedgerEntry.fund_id == fund.id))


def _fund_the_bookshop(fund, treasurer: User, leads: list[User], today: date) -> None:
    """The demo project whose structural permit was granted: budget, the shop's pledge and first instalment, funded."""
    project = db.session.scalar(select(Project).where(Project.alliance_id == fund.alliance_id,
                                                      Project.state == ProjectState.PERMIT_GRANTED).limit(1))
    if project is None:
        return
    lead = leads[0]
    budget = budgets.set_budget(lead, project, project.latest_version.estimated_cost_fen or 1_500_000,
                                budgets.default_rule(fund))
    owner = db.session.get(User, project.created_by_id)  # the shop owner who proposed it
    pledge = pledges.create_pledge(owner, fund, project.shop, budget.shop_fen, today + timedelta(days=30),
                                   project=project, note="店招翻新自付部分")
    services.record_entry(treasurer, fund, services.EntryDetails(
        EntryKind.CONTRIBUTION, budget.shop_fen // 2, pledge=pledge, method=PaymentMethod.WECHAT_PAY,
        reference="4200002026112600001", purpose="店招翻新自付部分（首期）", occurred_on=_at(today - timedelta(days=2)),
    ), idempotency_key=_key())
    projects.move(lead, project, "fund")  # the contractor is paid by milestone (the works' demo)


def load(context: DemoContext) -> int:
    """The fund's part of the demo (see merchant_alliance.demo.add_loader)."""
    return load_demo_money(context.alliance, context.users[Role.TREASURER],
                           [context.users[Role.ALLIANCE_LEAD], context.co_lead])
