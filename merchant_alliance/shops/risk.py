"""A sign's risk level: how much harm it could do if it fell or burned, from its kind, size, height, age, light and
condition, and the result of its last inspection. The street office re-inspects high-risk signs most often
(safety.models.SafetySettings.interval_for); the level is kept on the sign (Signboard.risk), worked out again
when the sign is edited or inspected, and daily for all signs (they age).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from merchant_alliance.shops.models import Risk, Signboard, SignCondition, SignType
from merchant_alliance.timeutil import local_today

# Points for what makes a sign dangerous; the level is HIGH from HIGH_FROM points, MEDIUM from MEDIUM_FROM: a
# projecting or rooftop sign is high risk on its own, a lit one with one more reason.
KIND_POINTS = {SignType.PROJECTING: 4, SignType.ROOFTOP: 4, SignType.FREE_STANDING: 1, SignType.CANOPY: 1,
               SignType.WALL_PARALLEL: 0}
LARGE_AREA_M2, MEDIUM_AREA_M2 = Decimal("10"), Decimal("4")
HIGH_TOP_M = Decimal("6")  # a sign whose top edge is this high falls hard
OLD_YEARS, AGEING_YEARS = 10, 5
HIGH_FROM, MEDIUM_FROM = 4, 2


@dataclass(frozen=True)
class Factor:
    """One reason the sign scores risk points: `key` names the rule, `value` what was measured."""

    key: str  # kind, area, height, age, lit, failed or worn
    points: int
    value: object = None


def risk_factors(signboard: Signboard, today: date | None = None) -> list[Factor]:
    """Each rule the sign scores points on (see the module's rules), in a fixed order."""
    today = today or local_today()
    found = []
    kind = SignType(signboard.sign_type)
    if points := KIND_POINTS.get(kind, 0):
        found.append(Factor("kind", points, kind))
    area = (signboard.width_m or 0) * (signboard.height_m or 0)
    if points := 2 if area >= LARGE_AREA_M2 else 1 if area >= MEDIUM_AREA_M2 else 0:
        found.append(Factor("area", points, area))
    if signboard.clearance_m is not None and (top := signboard.clearance_m + (signboard.height_m or 0)) >= HIGH_TOP_M:
        found.append(Factor("height", 1, top))
    if signboard.install_year:
        age = today.year - signboard.install_year
        if points := 2 if age >= OLD_YEARS else 1 if age >= AGEING_YEARS else 0:
            found.append(Factor("age", points, age))
    if signboard.illuminated:
        found.append(Factor("lit", 2))  # wiring: fire and shock
    if signboard.last_passed is False:
        found.append(Factor("failed", 2))
    if signboard.condition == SignCondition.WORN:
        found.append(Factor("worn", 1))
    return found


def risk_points(signboard: Signboard, today: date | None = None) -> int:
    """How many risk points the sign has."""
    return sum(factor.points for factor in risk_factors(signboard, today))


def risk_of(signboard: Signboard, today: date | None = None) -> Risk:
    """The sign's risk level: a sign found hazardous is high whatever its points."""
    if signboard.condition == SignCondition.HAZARDOUS:
        return Risk.HIGH
    points = risk_points(signboard, today)
    return Risk.HIGH if points >= HIGH_FROM else Risk.MEDIUM if points >= MEDIUM_FROM else Risk.LOW
