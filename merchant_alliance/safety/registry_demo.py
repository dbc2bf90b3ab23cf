"""The demo's registry (run after the demo's inspections): every one of Yuyuan Road's shops has its sign on the
street office's register, in every state the registry knows.

- Signs the renovation projects did not touch are recorded from the street office's paper survey: their kind,
  size, light and age vary along the road; most were last inspected on paper (a date, a result), so they are
  up to date, due within 30 days or overdue; one in ten was never inspected; a few are worn or hazardous.
- One sign is closed as removed, with the photo of the bare facade.
- One periodic inspection fails (a rectification is open), another passes (a new certificate).
- Today's route: periodic inspections planned for today of every sign due by today.

Loaded once: nothing is added when a sign of the alliance was already closed as removed.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from merchant_alliance.accounts.models import Role
from merchant_alliance.demo import DemoContext
from merchant_alliance.extensions import db
from merchant_alliance.projects.demo import draw_photo
from merchant_alliance.safety import checklists, inspections, registry
from merchant_alliance.safety.inspection_demo import _answer
from merchant_alliance.shops.models import Shop, Signboard, SignCondition, SignType
from merchant_alliance.shops.risk import risk_of
from merchant_alliance.timeutil import local_today

POSITIONS = ("正门上方", "二楼外墙", "门侧立柱", "转角外墙")
MATERIALS = ("铝塑板", "不锈钢字", "亚克力灯箱", "木质", "铁皮")


def load(context: DemoContext) -> int:
    """Returns how many signs were added to the register (none the second time)."""
    alliance = context.alliance
    if db.session.scalar(select(Signboard.id).where(Signboard.alliance_id == alliance.id,
                                                    Signboard.removed_at.is_not(None)).limit(1)):
        return 0
    officer, owner = context.users[Role.STREET_OFFICER], context.users[Role.SHOP_OWNER]
    today = local_today()
    settings = checklists.settings_for(alliance.street_id)
    shops = list(db.session.scalars(select(Shop).where(Shop.alliance_id == alliance.id, Shop.active)
                                    .order_by(Shop.id)))
    signed = set(db.session.scalars(select(Signboard.shop_id).where(Signboard.alliance_id == alliance.id)))
    added: list[Signboard] = []
    for n, shop in enumerate(shops):
        if shop.id in signed:
            continue
        kind = (SignType.PROJECTING if n % 5 == 0 else SignType.CANOPY if n % 11 == 0
                else SignType.WALL_PARALLEL)
        sign = Signboard(
            shop=shop, alliance_id=alliance.id, street_id=alliance.street_id, position=POSITIONS[n % len(POSITIONS)],
            sign_type=kind, width_m=Decimal("0.80") if kind == SignType.PROJECTING else Decimal(2 + n % 5),
            height_m=Decimal("1.20") if kind == SignType.PROJECTING else Decimal("0.80"),
            projection_m=Decimal("0.90") if kind == SignType.PROJECTING else Decimal("0.15"),
            clearance_m=Decimal("2.80") + Decimal(n % 4) / 2, material=MATERIALS[n % len(MATERIALS)],
            illuminated=n % 3 == 0, install_year=2010 + n % 15,
            condition=SignCondition.HAZARDOUS if n % 23 == 7 else SignCondition.WORN if n % 4 == 1
            else SignCondition.GOOD)
        _paper_record(sign, n, today, settings)
        db.session.add(sign)
        added.append(sign)
    db.session.commit()

    # One sign taken down (the shop closed its second sign); one periodic inspection failing, one passing.
    registry.remove(owner if _owns(context, added[1]) else officer, added[1], "店铺已将旧灯箱拆除，墙面已修补。",
                    [draw_photo(901, mockup=False)])
    failing, passing = added[2], added[4]
    inspection = inspections.start_for_sign(officer, failing)
    _answer(officer, inspection, failing={"S09": "牌面向外倾斜约5度，上部两处挂件锈断。"})
    inspections.finish(officer, inspection, summary="牌面倾斜，须限期整改后复查。")
    inspection = inspections.start_for_sign(officer, passing)
    _answer(officer, inspection, failing={})
    inspections.finish(officer, inspection, summary="定期检查合格。")
    # Today's route: every sign due by today.
    registry.plan_periodic(officer, alliance, today)
    return len(added)


def _paper_record(sign: Signboard, n: int, today, settings) -> None:
    """The last inspection the street office recorded on paper: one sign in ten never inspected, one overdue,
    one due within 30 days, the others up to date."""
    sign.risk = risk_of(sign, today)
    interval = timedelta(days=settings.interval_for(sign.risk))
    case = n % 10
    if case == 0:
        return  # never inspected
    if case == 1:
        inspected = today - interval - timedelta(days=20 + n)  # overdue
    elif case == 2:
        inspected = today - interval + timedelta(days=5 + n % 20)  # due within 30 days
    else:
        inspected = today - timedelta(days=30 + (n * 37) % max(interval.days - 60, 1))
    sign.last_inspected_on, sign.last_passed = inspected, True
    sign.next_due_on = inspected + interval


def _owns(context: DemoContext, sign: Signboard) -> bool:
    owner = context.users[Role.SHOP_OWNER]
    return any(m.shop_id == sign.shop_id for m in owner.memberships)
