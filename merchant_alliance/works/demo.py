"""The demo's works (run after the fund's demo, before the street office's inspections):

- five contractors: a designer, two fabricators, two installers; the demo contractor account acts for one;
- the bookshop's renovation (funded by the fund's demo): three quotes compared, one selected with a reason; the site
  log with photos; every milestone up to the installation done and accepted; the design milestone paid minus the
  retention and the old sign's removal asked for; a punch item found at acceptance and fixed; a change order approved
  with its shares. It is installed, so the street office inspects it next (safety's demo);
- the tea shop's proposal taken through design review, a denied then granted permit and funding, then contracted and
  installed the same way, its order complete: the street office certifies it on the first visit;
- more orders at other stages: one just contracted, one in progress with an overdue milestone.

Loaded once: nothing is added when the alliance already has a contractor.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.demo import DemoContext
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, expenses, pledges
from merchant_alliance.funds import services as funds
from merchant_alliance.funds.demo import draw_receipt
from merchant_alliance.funds.models import PaymentMethod
from merchant_alliance.funds.shares import Shares
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.demo import draw_photo, owner_for
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import permits
from merchant_alliance.shops.models import Shop, SignCondition, SignType
from merchant_alliance.shops.services import register_signboard
from merchant_alliance.timeutil import local_today
from merchant_alliance.workflow import Attempt
from merchant_alliance.works import contractors, orders, payments, quotes
from merchant_alliance.works.models import Contractor, Milestone, MilestoneKind, WorkOrder

CONTRACTORS = [
    {"name": "梧桐设计工作室", "kinds": ["designer"], "licence_number": "沪设计乙-2019-0412",
     "contact_name": "周设计", "contact_phone": "13916620412", "insurance_days": 300},
    {"name": "愚园路广告装饰工程队", "kinds": ["fabricator", "installer"], "licence_number": "沪建安C-2016-1187",
     "contact_name": "刘师傅", "contact_phone": "13800000005", "insurance_days": 200},
    {"name": "静安标识制作有限公司", "kinds": ["fabricator"], "licence_number": "91310106MA1FL3K2X7",
     "contact_name": "孙经理", "contact_phone": "13701234567", "insurance_days": 120},
    {"name": "长宁高空安装队", "kinds": ["installer"], "licence_number": "沪高处作业-2021-0098",
     "contact_name": "钱队长", "contact_phone": "13601239876", "insurance_days": -20},  # insurance lapsed
    {"name": "华山灯箱广告厂", "kinds": ["fabricator", "installer"], "licence_number": "沪建安C-2018-2290",
     "contact_name": "吴厂长", "contact_phone": "13501112233", "insurance_days": 400},
]
TEA_SHOP_INDEX = 6  # in house-number order; the projects' demo uses the first six
MORE_SHOPS = (7, 8)  # one order just contracted, one in progress with a late milestone


def _key() -> str:
    return uuid.uuid4().hex


def load(context: DemoContext) -> int:
    """Returns how many work orders were made (none the second time)."""
    alliance = context.alliance
    if db.session.scalar(select(Contractor.id).where(Contractor.alliance_id == alliance.id).limit(1)):
        return 0
    lead, co_lead = context.users[Role.ALLIANCE_LEAD], context.co_lead
    today = local_today()
    register = []
    for spec in CONTRACTORS:
        values = {k: v for k, v in spec.items() if k != "insurance_days"}
        values["insurance_expires_on"] = today + timedelta(days=spec["insurance_days"])
        register.append(contractors.add_contractor(lead, alliance, values))
    designer, team, signs, climbers, lightbox = register
    contractors.add_person(lead, team, context.users[Role.CONTRACTOR].id)

    made = 0
    bookshop = db.session.scalar(select(Project).where(Project.alliance_id == alliance.id,
                                                       Project.state == ProjectState.FUNDED).limit(1))
    if bookshop is not None:
        order = _contract(bookshop, lead, [team, signs, lightbox], team, context, offset=0)
        _work_to_installed(order, context, lead, punch=True)
        _pay(order, MilestoneKind.DESIGN, context)
        payments.request_milestone_payment(  # waiting for the leads' approval
            context.users[Role.TREASURER], _milestone(order, MilestoneKind.REMOVAL), [draw_receipt(410 + order.id)],
            idempotency_key=_key(), payee_account="中国工商银行静安支行 6222 0210 0100 8888")
        made += 1
    tea = _funded_project(context, TEA_SHOP_INDEX, "茶铺木质招牌换新", deny_first=True)
    if tea is not None:
        order = _contract(tea, lead, [signs, lightbox], signs, context, offset=1)
        _work_to_installed(order, context, lead, punch=False)
        _done_and_accepted(order, MilestoneKind.CLEANUP, context, lead)  # every step accepted: the order is complete
        made += 1
    for n, index in enumerate(MORE_SHOPS):
        project = _funded_project(context, index, "店招更新", deny_first=False)
        if project is None:
            continue
        order = _contract(project, co_lead if n else lead, [lightbox, team], lightbox if n else team, context,
                          offset=2 + n)
        if n:  # in progress: two steps done, the fabrication late
            _log(order, context, days_ago=6, text="拆除旧招牌，清理墙面，检查原有预埋件。")
            for kind in (MilestoneKind.DESIGN, MilestoneKind.REMOVAL):
                _done_and_accepted(order, kind, context, lead)
            _backdate(order, MilestoneKind.FABRICATION, days_late=3)
        made += 1
    return made


def _people(contractor: Contractor) -> User:
    return contractor.users[0] if contractor.users else None


def _contract(project: Project, lead: User, asked: list[Contractor], chosen: Contractor, context: DemoContext,
              offset: int) -> WorkOrder:
    quotes.invite(lead, project, asked, "拆除旧招牌，按批准设计制作并安装新招牌，含电气接线与现场清理。")
    budget = budgets.budget_of(project).budget_fen
    picked = None
    for n, quote in enumerate(quotes.quotes_of(project.id)):
        amount = budget - 50_000 * (n + offset % 2) if quote.contractor_id == chosen.id else budget - 20_000 * n
        who = _people(quote.contractor) or lead
        quotes.submit(who, quote, quotes.Offer(min(amount, budget), "拆旧、制作、安装、接电、清场；质保一年。",
                                               12 + 3 * n, local_today() + timedelta(days=30)),
                      [draw_receipt(300 + offset * 10 + n)])
        if quote.contractor_id == chosen.id:
            picked = quote
    return quotes.select_quote(lead, picked, "报价合理，工期短，曾在愚园路完成多块招牌，无返工记录。",
                               start_on=local_today() - timedelta(days=10))


def _milestone(order: WorkOrder, kind: MilestoneKind) -> Milestone:
    return next(m for m in order.milestones if m.kind == kind)


def _log(order: WorkOrder, context: DemoContext, *, days_ago: int, text: str) -> None:
    who = _people(order.contractor) or context.users[Role.ALLIANCE_LEAD]
    orders.add_log_entry(who, order, day=local_today() - timedelta(days=days_ago), work_done=text, crew_size=3,
                         weather="晴", photos=[draw_photo(500 + order.id * 10 + days_ago, mockup=days_ago < 4)])


def _done_and_accepted(order: WorkOrder, kind: MilestoneKind, context: DemoContext, lead: User) -> None:
    milestone = _milestone(order, kind)
    who = _people(order.contractor) or lead
    photos = [draw_photo(600 + milestone.id * 3 + n, mockup=kind != MilestoneKind.REMOVAL)
              for n in range(milestone.photos_needed)]
    orders.mark_done(who, milestone, "已完成，照片见附件。", photos)
    orders.accept(lead, milestone)


def _work_to_installed(order: WorkOrder, context: DemoContext, lead: User, *, punch: bool) -> None:
    _log(order, context, days_ago=8, text="现场勘察，复核尺寸；确认锚固点位于混凝土圈梁。")
    _log(order, context, days_ago=5, text="拆除旧招牌，墙面修补；旧招牌运走处理。")
    for kind in (MilestoneKind.DESIGN, MilestoneKind.REMOVAL, MilestoneKind.FABRICATION):
        _done_and_accepted(order, kind, context, lead)
    _log(order, context, days_ago=2, text="新招牌吊装就位，化学锚栓固定，接电调试。")
    if punch:
        item = orders.raise_punch(lead, order, "右下角面板与墙面有约5毫米缝隙，需打胶封边。",
                                  [draw_photo(650 + order.id, mockup=True)])
        orders.fix_punch(_people(order.contractor) or lead, item, "已用耐候硅酮胶封边。",
                         [draw_photo(660 + order.id, mockup=True)])
        orders.decide_punch(lead, item, "verify")
        orders.decide_punch(lead, item, "close")
        change = orders.propose_change(_people(order.contractor) or lead, order, 60_000,
                                       "加装不锈钢防坠落保险绳两根（结构许可条件建议）。")
        fund_share = 60_000 if funds.available_fen(funds.default_fund(order.project.alliance).id) > 60_000 else 0
        orders.approve_change(lead, change, Shares(60_000 - fund_share, fund_share, 0), "安全措施，由联盟基金承担。")
    _done_and_accepted(order, MilestoneKind.INSTALLATION, context, lead)


def _pay(order: WorkOrder, kind: MilestoneKind, context: DemoContext) -> None:
    """A milestone paid as the fund's rules say: asked with the invoice, approved (twice if large), paid."""
    treasurer = context.users[Role.TREASURER]
    payment = payments.request_milestone_payment(treasurer, _milestone(order, kind), [draw_receipt(400 + order.id)],
                                                 idempotency_key=_key())
    request = db.session.get(expenses.ExpenseRequest, payment.expense_request_id)
    for lead in [context.users[Role.ALLIANCE_LEAD], context.co_lead][:expenses.approvals_needed(request)]:
        expenses.approve(lead, request)
    expenses.pay(treasurer, request, method=PaymentMethod.BANK_TRANSFER, idempotency_key=_key(),
                 reference=f"BT{order.id:04d}{kind.value[:3].upper()}")


def _backdate(order: WorkOrder, kind: MilestoneKind, *, days_late: int) -> None:
    milestone = _milestone(order, kind)
    db.session.execute(update(Milestone).where(Milestone.id == milestone.id)
                       .values(due_on=local_today() - timedelta(days=days_late))
                       .execution_options(synchronize_session=False, cache_scopes=scopes_of(milestone)))
    db.session.commit()


def _funded_project(context: DemoContext, index: int, title: str, *, deny_first: bool) -> Project | None:
    """A proposal of the shop at `index` (house-number order) taken through the design review, the structural permit
    (denied once first, when `deny_first`) and funding."""
    shops = sorted(db.session.scalars(select(Shop).where(Shop.alliance_id == context.alliance.id)),
                   key=lambda s: (len(s.house_number), s.house_number))
    if len(shops) <= index or projects.signboards_exist(shops[index]):
        return None
    shop = shops[index]
    owner = owner_for(shop, index, context.password)
    lead, officer = context.users[Role.ALLIANCE_LEAD], context.users[Role.STREET_OFFICER]
    width = (Decimal(shop.facade_width_m or 6) * Decimal("0.8")).quantize(Decimal("0.01"))  # within the guideline
    signboard = register_signboard(owner, shop, {
        "position": "正门上方", "sign_type": SignType.WALL_PARALLEL, "width_m": width,
        "height_m": Decimal("0.90"), "projection_m": Decimal("0.30"), "clearance_m": Decimal("2.90"),
        "material": "木板", "illuminated": False, "install_year": 2012, "condition": SignCondition.WORN,
    }, [draw_photo(index * 10, mockup=False)])
    project = projects.propose_renovation(owner, signboard, f"{shop.name}{title}" if not deny_first else title,
                                          "旧招牌开裂褪色，申请更换为铝板烤漆招牌。")
    projects.add_design_version(owner, project, {
        "sign_type": SignType.WALL_PARALLEL, "width_m": width, "height_m": Decimal("0.80"),
        "projection_m": Decimal("0.20"), "clearance_m": Decimal("3.10"), "materials": "铝板烤漆，镀锌钢骨架",
        "illuminated": False, "lighting": "", "fixing_method": "M10膨胀螺栓，每米两处",
        "estimated_cost_fen": 980_000, "notes": "",
    }, mockups=[draw_photo(index * 10 + 1, mockup=True)], current=[draw_photo(index * 10, mockup=False)])
    projects.move(owner, project, "submit")
    projects.move(context.co_lead, project, "approve_design", Attempt())
    plan = {**permits.plan_from_design(project), "host_wall": "清水砖墙，局部风化", "weight_kg": Decimal("38.0")}
    permit = permits.request_permit(owner, project, plan, [draw_photo(910 + index, mockup=True)])
    if deny_first:
        permits.deny(officer, permit, "清水砖墙局部风化，膨胀螺栓不宜直接锚固于砖墙，请改为穿墙螺栓加背板。")
        plan = {**plan, "fixing_method": "M12穿墙螺栓，室内加钢背板，每侧三处"}
        permits.request_permit(owner, project, plan, [draw_photo(920 + index, mockup=True)])
    permits.grant(officer, permit)
    fund = funds.default_fund(project.alliance)
    budget = budgets.set_budget(lead, project, 980_000, budgets.default_rule(fund))
    if budget.shop_fen:
        pledges.create_pledge(owner, fund, shop, budget.shop_fen, pledges.today() + timedelta(days=30),
                              project=project, note="店招换新自付部分")
    projects.move(lead, project, "fund")
    return project
