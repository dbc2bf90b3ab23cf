"""The alliance's shop register."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Numeric, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merchant_alliance.accounts.models import Alliance
from merchant_alliance.extensions import db, value_enum
from merchant_alliance.pagecache import scopes_via
from merchant_alliance.timeutil import utcnow


class Shop(db.Model):
    __tablename__ = "shops"
    __table_args__ = (db.UniqueConstraint("alliance_id", "house_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The number on the road, as written on the door plate: "1018", "1018-1", "1018弄3号".
    house_number: Mapped[str] = mapped_column(String(30))
    facade_width_m: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    business_type: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    licence_number: Mapped[str] = mapped_column(String(30), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    alliance: Mapped[Alliance] = relationship()

    @property
    def address(self) -> str:
        road = self.alliance.road if self.alliance else ""
        return f"{road}{self.house_number}号" if road else self.house_number

    def __repr__(self) -> str:
        return f"<Shop {self.id} {self.house_number} {self.name}>"


class SignType(enum.StrEnum):
    WALL_PARALLEL = "wall_parallel"
    PROJECTING = "projecting"
    CANOPY = "canopy"
    FREE_STANDING = "free_standing"
    ROOFTOP = "rooftop"

    @property
    def label(self) -> str:
        return str(SIGN_TYPE_LABELS[self])


SIGN_TYPE_LABELS = {
    SignType.WALL_PARALLEL: _l("Wall-parallel"),
    SignType.PROJECTING: _l("Projecting"),
    SignType.CANOPY: _l("Canopy"),
    SignType.FREE_STANDING: _l("Free-standing"),
    SignType.ROOFTOP: _l("Rooftop"),
}


class SignCondition(enum.StrEnum):
    GOOD = "good"
    WORN = "worn"
    HAZARDOUS = "hazardous"
    REMOVED = "removed"  # taken down: kept for its history, its safety tag says so

    @property
    def label(self) -> str:
        return str(CONDITION_LABELS[self])


CONDITION_LABELS = {
    SignCondition.GOOD: _l("Good"),
    SignCondition.WORN: _l("Worn"),
    SignCondition.HAZARDOUS: _l("Hazardous"),
    SignCondition.REMOVED: _l("Removed"),
}


signboard_photos = db.Table(
    "signboard_photos",
    db.Column("signboard_id", ForeignKey("signboards.id", ondelete="CASCADE"), primary_key=True),
    db.Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


class Risk(enum.StrEnum):
    """How much harm the sign could do, which sets how often the street office re-inspects it (rules in
    merchant_alliance.safety.registry)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def label(self) -> str:
        return str(RISK_LABELS[self])


RISK_LABELS = {Risk.HIGH: _l("High risk"), Risk.MEDIUM: _l("Medium risk"), Risk.LOW: _l("Low risk")}


class Signboard(db.Model):
    """A sign on a shop's facade, as it is now, and its line in the street office's registry."""

    __tablename__ = "signboards"
    # The registry reads a street's signs by due date or in order, without joining shops and alliances.
    __table_args__ = (Index("ix_signboards_street_due", "street_id", "next_due_on"),
                      Index("ix_signboards_street_id", "street_id", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    position: Mapped[str] = mapped_column(String(100))
    sign_type: Mapped[SignType] = mapped_column(value_enum(SignType, 20))
    width_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    height_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    projection_m: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("0"))
    clearance_m: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    material: Mapped[str] = mapped_column(String(100), default="")
    illuminated: Mapped[bool] = mapped_column(default=False)
    install_year: Mapped[int | None]
    condition: Mapped[SignCondition] = mapped_column(value_enum(SignCondition, 20), default=SignCondition.GOOD)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Copied from the shop when the sign is registered (shops never change alliance).
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    # The registry's figures, kept by the safety domain in the same transaction as what changes them.
    risk: Mapped[Risk] = mapped_column(value_enum(Risk, 10), default=Risk.MEDIUM)
    last_inspected_on: Mapped[date | None]
    last_passed: Mapped[bool | None]  # the last finished inspection's result; None: never inspected
    next_due_on: Mapped[date | None]  # None: never inspected (due now), or removed
    due_reminded_for: Mapped[date | None]  # the due date the shop was last reminded of
    overdue_notified_for: Mapped[date | None]  # the due date whose lateness was last reported
    open_reports: Mapped[int] = mapped_column(default=0)  # hazard reports from the public not yet closed
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removal_note: Mapped[str] = mapped_column(Text, default="")
    removal_photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id"))

    shop: Mapped[Shop] = relationship()
    cache_scopes = scopes_via("shop")
    photos = relationship("Photo", secondary=signboard_photos, order_by="Photo.id")
    removal_photo = relationship("Photo", foreign_keys=[removal_photo_id])

    @property
    def label(self) -> str:
        return f"{self.position} · {self.sign_type.label}"


@event.listens_for(Signboard, "before_insert")
def _place_of_new_sign(mapper, connection, signboard: Signboard) -> None:
    """A new sign takes its alliance and street from its shop."""
    if signboard.alliance_id is None or signboard.street_id is None:
        shop = signboard.shop
        signboard.alliance_id = shop.alliance_id
        signboard.street_id = shop.alliance.street_id
