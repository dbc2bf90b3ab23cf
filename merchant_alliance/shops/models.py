"""The alliance's shop register."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merchant_alliance.accounts.models import Alliance
from merchant_alliance.extensions import db
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
