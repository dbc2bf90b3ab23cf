"""The demo's hazard reports (run after the registry's demo), as passers-by would send them:

- an urgent one: a projecting sign seen hanging loose, waiting for triage;
- one reported twice by two people: the second joined the first's case, which the officer accepted;
- one dismissed with the reason the public reads (the sign had been re-fixed);
- one being inspected: the officer opened a follow-up inspection from it.

Loaded once: nothing is added when the street already has a report.
"""

from __future__ import annotations

from sqlalchemy import select

from merchant_alliance.accounts.models import Role
from merchant_alliance.demo import DemoContext
from merchant_alliance.extensions import db
from merchant_alliance.projects.demo import draw_photo
from merchant_alliance.reports import services
from merchant_alliance.reports.models import HazardReport, Service
from merchant_alliance.shops.models import Signboard, SignType


def load(context: DemoContext) -> int:
    """Returns how many entries were received (none the second time)."""
    alliance = context.alliance
    street = alliance.street
    if db.session.scalar(select(HazardReport.id).where(HazardReport.street_id == street.id).limit(1)):
        return 0
    officer = context.users[Role.STREET_OFFICER]
    signs = list(db.session.scalars(select(Signboard).where(
        Signboard.alliance_id == alliance.id, Signboard.removed_at.is_(None)).order_by(Signboard.id)))
    projecting = [sign for sign in signs if sign.sign_type == SignType.PROJECTING]
    loose, twice, being_inspected = projecting[0], signs[-3], signs[-5]

    def report(sign: Signboard | None, service: Service, text: str, seed: int, **more):
        return services.submit(street, alliance_id=alliance.id, service=service, description=text,
                               photos=[draw_photo(seed, mockup=False)], signboard_id=sign.id if sign else None,
                               client=services.client_key(f"demo-{seed}"), **more)

    report(loose, Service.LOOSE, "伸出式灯箱一侧挂钩脱落，风一吹就晃，下面是公交站。", 951, urgent=True,
           reporter_name="路过的居民")
    first = report(twice, Service.CORRODED, "招牌铁架锈得很厉害，有铁锈往下掉。", 952)
    report(twice, Service.CORRODED, "门头招牌支架生锈，下雨时锈水滴到人行道上。", 953,
           reporter_contact="13900001111")
    services.accept(officer, db.session.get(HazardReport, first.report_id))
    dismissed = report(None, Service.LOOSE, "好像有块牌子歪了。", 954,
                       house_number=_free_number(alliance.id))
    services.dismiss(officer, db.session.get(HazardReport, dismissed.report_id),
                     "现场核查：该处为临时展架，非固定招牌，已提醒店家收回。")
    inspected = report(being_inspected, Service.ELECTRICAL, "晚上灯箱一闪一闪，底下有根电线露在外面。", 955)
    services.inspect(officer, db.session.get(HazardReport, inspected.report_id))
    return 5


def _free_number(alliance_id: int) -> str:
    """A house number on the road where no registered shop is (a passer-by's guess)."""
    from merchant_alliance.shops.models import Shop

    numbers = set(db.session.scalars(select(Shop.house_number).where(Shop.alliance_id == alliance_id)))
    number = 1001
    while str(number) in numbers:
        number += 2
    return str(number)
