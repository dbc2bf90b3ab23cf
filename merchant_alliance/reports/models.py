"""Hazard reports from the public: what a passer-by saw on a sign, the street office's triage, and the keys a
street issues to city systems that post reports through the Open311 API.

A report is one case about one place (a sign, a shop, or a house number typed by the reporter); every
submission about it is an entry, with its own private link for the person who sent it. A second report of a
place with a case still open adds an entry to that case instead of opening another (a partial unique index
makes that hold when two arrive at once).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, Index, Numeric, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merchant_alliance.accounts.models import Alliance, Street, User
from merchant_alliance.extensions import db, value_enum
from merchant_alliance.photos.models import Photo
from merchant_alliance.safety.models import Inspection
from merchant_alliance.shops.models import Shop, Signboard
from merchant_alliance.timeutil import utcnow


class ReportState(enum.StrEnum):
    NEW = "new"  # waiting for the street office
    ACCEPTED = "accepted"  # linked to a sign, to be inspected
    INSPECTING = "inspecting"  # a follow-up inspection is under way
    RESOLVED = "resolved"  # the follow-up inspection is finished
    DISMISSED = "dismissed"  # with the officer's reason

    @property
    def label(self) -> str:
        return str(REPORT_STATE_LABELS[self])

    @property
    def open(self) -> bool:
        return self in OPEN_STATES


REPORT_STATE_LABELS = {
    ReportState.NEW: _l("Received"),
    ReportState.ACCEPTED: _l("Accepted, to be inspected"),
    ReportState.INSPECTING: _l("Being inspected"),
    ReportState.RESOLVED: _l("Inspected"),
    ReportState.DISMISSED: _l("Dismissed"),
}
OPEN_STATES = frozenset({ReportState.NEW, ReportState.ACCEPTED, ReportState.INSPECTING})
OPEN_REPORT = "state IN ('new', 'accepted', 'inspecting')"


class Service(enum.StrEnum):
    """What kind of danger was seen: the Open311 service codes."""

    LOOSE = "loose"  # loose, tilting, about to fall
    CORRODED = "corroded"  # rust, cracks, broken parts
    ELECTRICAL = "electrical"  # exposed wires, sparks, a broken light
    OBSTRUCTING = "obstructing"  # too low, blocks the pavement or a window
    OTHER = "other"

    @property
    def label(self) -> str:
        return str(SERVICE_LABELS[self][0])

    @property
    def description(self) -> str:
        return str(SERVICE_LABELS[self][1])


SERVICE_LABELS = {
    Service.LOOSE: (_l("Loose or about to fall"), _l("The sign or part of it is loose, tilting or hanging.")),
    Service.CORRODED: (_l("Rusty or broken"), _l("Rust, cracks or broken parts on the sign or its frame.")),
    Service.ELECTRICAL: (_l("Electrical danger"), _l("Exposed wires, sparks, or a broken light on the sign.")),
    Service.OBSTRUCTING: (_l("In the way"), _l("The sign is too low or blocks the pavement, a door or a window.")),
    Service.OTHER: (_l("Something else"), _l("Any other danger from a sign.")),
}


class HazardReport(db.Model):
    """One case: a place on the street someone reported as dangerous, and what the street office did."""

    __tablename__ = "hazard_reports"
    __table_args__ = (
        # One open case per place of a street: a second report of it joins the first.
        Index("uq_hazard_reports_open_place", "street_id", "place_key", unique=True,
              sqlite_where=text(OPEN_REPORT), postgresql_where=text(OPEN_REPORT)),
        Index("ix_hazard_reports_street_state", "street_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)  # the road it is on
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    signboard_id: Mapped[int | None] = mapped_column(ForeignKey("signboards.id"), index=True)
    house_number: Mapped[str] = mapped_column(String(30))  # the shop's, or as the reporter typed it
    place_key: Mapped[str] = mapped_column(String(60))  # "sign:12", "shop:7" or "house:1018-1"
    service: Mapped[Service] = mapped_column(value_enum(Service, 20))
    description: Mapped[str] = mapped_column(Text, default="")  # the first entry's
    urgent: Mapped[bool] = mapped_column(default=False)  # someone may be hurt now
    state: Mapped[ReportState] = mapped_column(value_enum(ReportState, 20), default=ReportState.NEW)
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))  # only if a reporter chose to share it
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    entries_count: Mapped[int] = mapped_column(default=1)
    # The officer checked the photos and the words show no one's face or personal data: the public sees them.
    published: Mapped[bool] = mapped_column(default=False)
    public_note: Mapped[str] = mapped_column(Text, default="")  # what the street office says publicly
    # Closed because the same sign had an open case: its entries (and reporters) moved to that one.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("hazard_reports.id"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), index=True)
    triaged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    triaged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    street: Mapped[Street] = relationship()
    alliance: Mapped[Alliance] = relationship()
    shop: Mapped[Shop | None] = relationship()
    signboard: Mapped[Signboard | None] = relationship()
    inspection: Mapped[Inspection | None] = relationship()
    triaged_by: Mapped[User | None] = relationship()
    entries: Mapped[list[ReportEntry]] = relationship(back_populates="report", order_by="ReportEntry.id")

    @property
    def address(self) -> str:
        road = self.alliance.road if self.alliance else ""
        return f"{road}{self.house_number}号" if road else self.house_number


report_photos = Table(
    "report_entry_photos",
    db.metadata,
    Column("entry_id", ForeignKey("report_entries.id", ondelete="CASCADE"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


class ReportEntry(db.Model):
    """One submission: its photos, what the person saw, how to reach them (private), and their follow link."""

    __tablename__ = "report_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("hazard_reports.id"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the reporter's private follow link
    description: Mapped[str] = mapped_column(Text, default="")
    reporter_name: Mapped[str] = mapped_column(String(50), default="")
    reporter_contact: Mapped[str] = mapped_column(String(100), default="")
    client: Mapped[str] = mapped_column(String(64), default="")  # a keyed hash of the client, for abuse checks
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))  # posted by a city system
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[HazardReport] = relationship(back_populates="entries")
    photos = relationship(Photo, secondary=report_photos, order_by=Photo.id)


class ApiKey(db.Model):
    """A key a street issues to a city system, to post reports through the Open311 API. Only its hash is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))  # who it is for
    prefix: Mapped[str] = mapped_column(String(12))  # shown to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    street: Mapped[Street] = relationship()
    created_by: Mapped[User] = relationship()
