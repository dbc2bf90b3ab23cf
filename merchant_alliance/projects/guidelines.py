"""Checking a design against the street's guidelines. Violations are flagged, never silently accepted."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from flask_babel import gettext as _
from sqlalchemy import select

from merchant_alliance.extensions import db
from merchant_alliance.projects.models import DesignGuideline
from merchant_alliance.shops.models import SignType

OK, VIOLATION, UNKNOWN = "ok", "violation", "unknown"
GUIDELINE_FIELDS = ("max_width_share", "max_height_m", "max_projection_wall_m", "max_projection_projecting_m",
                    "min_clearance_m", "lighting_allowed", "notes")


class SignSpec(Protocol):
    sign_type: SignType
    width_m: Decimal
    height_m: Decimal
    projection_m: Decimal
    clearance_m: Decimal | None
    illuminated: bool


@dataclass(frozen=True)
class Finding:
    code: str
    status: str  # ok, violation or unknown (not enough data to check)
    message: str

    @property
    def ok(self) -> bool:
        return self.status == OK


def guideline_for(street_id: int) -> DesignGuideline:
    """The street's guidelines, or the defaults (unsaved) when the street office has not set any."""
    saved = db.session.scalar(select(DesignGuideline).where(DesignGuideline.street_id == street_id))
    if saved is not None:
        return saved
    defaults = {c.name: c.default.arg for c in DesignGuideline.__table__.columns if c.default is not None
                and not callable(c.default.arg)}
    return DesignGuideline(street_id=street_id, **defaults)


def _m(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def check(spec: SignSpec, facade_width_m: Decimal | None, rules: DesignGuideline) -> list[Finding]:
    """Each guideline applied to one design, in the reader's language."""
    findings = []
    width, height = Decimal(spec.width_m), Decimal(spec.height_m)
    if facade_width_m:
        limit = (Decimal(facade_width_m) * Decimal(rules.max_width_share)).quantize(Decimal("0.01"))
        ok = width <= limit
        findings.append(Finding("width", OK if ok else VIOLATION, _(
            "Width %(width)s m; at most %(limit)s m (%(share)s%% of the %(facade)s m facade).",
            width=_m(width), limit=_m(limit), share=int(Decimal(rules.max_width_share) * 100),
            facade=_m(facade_width_m))))
    else:
        findings.append(Finding("width", UNKNOWN, _(
            "Width %(width)s m; the shop's facade width is not recorded, so the width cannot be checked.",
            width=_m(width))))

    ok = height <= Decimal(rules.max_height_m)
    findings.append(Finding("height", OK if ok else VIOLATION, _(
        "Height %(height)s m; at most %(limit)s m.", height=_m(height), limit=_m(rules.max_height_m))))

    projection = Decimal(spec.projection_m or 0)
    if spec.sign_type != SignType.FREE_STANDING:
        limit = rules.max_projection_projecting_m if spec.sign_type == SignType.PROJECTING \
            else rules.max_projection_wall_m
        ok = projection <= Decimal(limit)
        findings.append(Finding("projection", OK if ok else VIOLATION, _(
            "Projection from the wall %(projection)s m; at most %(limit)s m for this type of sign.",
            projection=_m(projection), limit=_m(limit))))

    if spec.sign_type in (SignType.PROJECTING, SignType.CANOPY):
        if spec.clearance_m is None:
            findings.append(Finding("clearance", UNKNOWN, _(
                "Clear height above the pavement is missing; at least %(limit)s m is required.",
                limit=_m(rules.min_clearance_m))))
        else:
            ok = Decimal(spec.clearance_m) >= Decimal(rules.min_clearance_m)
            findings.append(Finding("clearance", OK if ok else VIOLATION, _(
                "Clear height above the pavement %(clearance)s m; at least %(limit)s m.",
                clearance=_m(spec.clearance_m), limit=_m(rules.min_clearance_m))))

    if spec.illuminated:
        findings.append(Finding("lighting", OK if rules.lighting_allowed else VIOLATION,
                                _("Illuminated sign: allowed on this street.") if rules.lighting_allowed
                                else _("Illuminated sign: this street does not allow illuminated signs.")))
    return findings


def violations(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == VIOLATION]
