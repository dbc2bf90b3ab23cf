"""The demo's inspections (run after the fund's demo, which funds the bookshop's project):

- the bookshop's new sign is installed; its acceptance inspection fails a critical item (the bolts), the shop
  fixes it with a photo, the re-inspection passes: the project is completed and certified;
- the tea shop's proposal goes the whole way: design approved, structural plan denied (the anchors) and sent
  again, granted, funded, installed, inspected and certified on the first visit.

So the officer's home, an inspection, a rectification, two certificates and their public tags all have
something to show. Loaded once: nothing is added when the alliance already has an inspection.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.demo import DemoContext
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets, pledges
from merchant_alliance.funds import services as funds
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.demo import draw_photo, owner_for
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import checklists, inspections, permits, rectifications
from merchant_alliance.safety.models import Inspection, Outcome, RectificationOrder
from merchant_alliance.shops.models import Shop, SignCondition, SignType
from merchant_alliance.shops.services import register_signboard
from merchant_alliance.workflow import Attempt

TEA_SHOP_INDEX = 6  # in house-number order; the projects' demo uses the first six
STREET_CODE = "JAS"  # 静安寺街道


def load(context: DemoContext) -> int:
    """Returns how many inspections were made (none the second time)."""
    if db.session.scalar(select(Inspection.id).where(Inspection.alliance_id == context.alliance.id).limit(1)):
        return 0
    officer, lead = context.users[Role.STREET_OFFICER], context.users[Role.ALLIANCE_LEAD]
    settings = checklists.settings_for(context.alliance.street_id)
    if settings.code == checklists.default_code(context.alliance.street_id):
        settings.code = STREET_CODE  # the street office's own code in its certificates' serial numbers
        db.session.commit()
    made = 0
    bookshop = db.session.scalar(select(Project).where(Project.alliance_id == context.alliance.id,
                                                       Project.state == ProjectState.FUNDED).limit(1))
    if bookshop is not None:
        made += _failed_then_rectified(bookshop, officer, lead)
    tea = _tea_shop_project(context)
    if tea is not None:
        projects.move(lead, tea, "mark_installed")
        inspection = inspections.start_for_project(officer, tea)
        _answer(officer, inspection, failing={})
        inspections.finish(officer, inspection, summary="新招牌安装牢固，电气规范，验收合格。")
        made += 1
    return made


def _failed_then_rectified(project: Project, officer: User, lead: User) -> int:
    owner = db.session.get(User, project.created_by_id)
    projects.move(lead, project, "mark_installed")
    inspection = inspections.start_for_project(officer, project)
    _answer(officer, inspection, failing={"S05": "右侧两处M12锚栓扭矩不足，用手可晃动牌面。"})
    inspections.finish(officer, inspection, summary="连接螺栓松动，须48小时内紧固并复查。")
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    for item in order.items:
        rectifications.report_fixed(owner, item, "已由施工队按设计扭矩重新紧固，并加装防松垫片。",
                                    [draw_photo(700 + item.id, mockup=True)])
    again = inspections.start_for_project(officer, project)
    _answer(officer, again, failing={}, only_required=True)
    inspections.finish(officer, again, summary="复查合格：锚栓已紧固。")
    return 2


def _answer(officer: User, inspection: Inspection, *, failing: dict[str, str], only_required: bool = False) -> None:
    for n, question in enumerate(inspections.questions(inspection)):
        if only_required and not question.required:
            continue
        outcome = Outcome.FAIL if question.code in failing else Outcome.PASS
        photos = [draw_photo(800 + inspection.id * 20 + n, mockup=True)] \
            if question.photo_required or question.code in failing else []
        inspections.save_answer(officer, inspection, question.code, outcome, failing.get(question.code, ""), photos)


def _tea_shop_project(context: DemoContext) -> Project | None:
    """A proposal taken through the design review, a denied and a granted permit, and funding."""
    shops = sorted(db.session.scalars(select(Shop).where(Shop.alliance_id == context.alliance.id)),
                   key=lambda s: (len(s.house_number), s.house_number))
    if len(shops) <= TEA_SHOP_INDEX or projects.signboards_exist(shops[TEA_SHOP_INDEX]):
        return None
    shop = shops[TEA_SHOP_INDEX]
    owner = owner_for(shop, TEA_SHOP_INDEX, context.password)
    lead, officer = context.users[Role.ALLIANCE_LEAD], context.users[Role.STREET_OFFICER]
    width = (Decimal(shop.facade_width_m or 6) * Decimal("0.8")).quantize(Decimal("0.01"))  # within the guideline
    signboard = register_signboard(owner, shop, {
        "position": "正门上方", "sign_type": SignType.WALL_PARALLEL, "width_m": width,
        "height_m": Decimal("0.90"), "projection_m": Decimal("0.30"), "clearance_m": Decimal("2.90"),
        "material": "木板", "illuminated": False, "install_year": 2012, "condition": SignCondition.WORN,
    }, [draw_photo(TEA_SHOP_INDEX * 10, mockup=False)])
    project = projects.propose_renovation(owner, signboard, "茶铺木质招牌换新",
                                          "旧木招牌开裂，申请更换为铝板烤漆招牌。")
    projects.add_design_version(owner, project, {
        "sign_type": SignType.WALL_PARALLEL, "width_m": width, "height_m": Decimal("0.80"),
        "projection_m": Decimal("0.20"), "clearance_m": Decimal("3.10"), "materials": "铝板烤漆，镀锌钢骨架",
        "illuminated": False, "lighting": "", "fixing_method": "M10膨胀螺栓，每米两处",
        "estimated_cost_fen": 980_000, "notes": "",
    }, mockups=[draw_photo(TEA_SHOP_INDEX * 10 + 1, mockup=True)],
        current=[draw_photo(TEA_SHOP_INDEX * 10, mockup=False)])
    projects.move(owner, project, "submit")
    projects.move(context.co_lead, project, "approve_design", Attempt())
    plan = {**permits.plan_from_design(project), "host_wall": "清水砖墙，局部风化", "weight_kg": Decimal("38.0")}
    permit = permits.request_permit(owner, project, plan, [draw_photo(910, mockup=True)])
    permits.deny(officer, permit, "清水砖墙局部风化，膨胀螺栓不宜直接锚固于砖墙，请改为穿墙螺栓加背板。")
    plan = {**plan, "fixing_method": "M12穿墙螺栓，室内加钢背板，每侧三处"}
    permits.request_permit(owner, project, plan, [draw_photo(911, mockup=True)])
    permits.grant(officer, permit)
    fund = funds.default_fund(project.alliance)
    budget = budgets.set_budget(lead, project, 980_000, budgets.default_rule(fund))
    if budget.shop_fen:
        pledges.create_pledge(owner, fund, shop, budget.shop_fen, pledges.today() + timedelta(days=30),
                              project=project, note="店招换新自付部分")
    projects.move(lead, project, "fund")
    return project
