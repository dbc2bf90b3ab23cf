"""The street office's safety records: checklist templates, structural permits, inspections and their answers,
rectification orders, certificates with their public tag, and each street's safety settings.

Every record about a sign carries its alliance and street: the alliance's pages are cached under the alliance's
scope (merchant_alliance.pagecache), and the street office finds its work by street.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, Index, Numeric, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merchant_alliance.accounts.models import Alliance, Street, User
from merchant_alliance.extensions import db, value_enum
from merchant_alliance.pagecache import scopes_via
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Risk, Shop, Signboard
from merchant_alliance.timeutil import utcnow


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"

    @property
    def label(self) -> str:
        return str(SEVERITY_LABELS[self])


SEVERITY_LABELS = {Severity.CRITICAL: _l("Critical"), Severity.MAJOR: _l("Major"), Severity.MINOR: _l("Minor")}

# What a checklist item may apply to besides a sign type (shops.models.SignType): lit signs.
ILLUMINATED = "illuminated"


class SafetySettings(db.Model):
    """A street's own figures: how often a sign is re-inspected by its risk level (a certificate is valid until
    then), and the default time to rectify by severity."""

    __tablename__ = "safety_settings"

    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # the street's code in serial numbers
    high_risk_days: Mapped[int] = mapped_column(default=365)  # e.g. projecting and lit signs: every year
    medium_risk_days: Mapped[int] = mapped_column(default=730)
    low_risk_days: Mapped[int] = mapped_column(default=1095)  # small wall signs: every 3 years
    critical_days: Mapped[int] = mapped_column(default=2)  # DOMAIN.md: a found hazard is repaired within 48 h
    major_days: Mapped[int] = mapped_column(default=14)
    minor_days: Mapped[int] = mapped_column(default=30)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    street: Mapped[Street] = relationship()

    def days_for(self, severity: Severity) -> int:
        return {Severity.CRITICAL: self.critical_days, Severity.MAJOR: self.major_days,
                Severity.MINOR: self.minor_days}[severity]

    def interval_for(self, risk: Risk) -> int:
        """Days from a passed inspection to the next one."""
        return {Risk.HIGH: self.high_risk_days, Risk.MEDIUM: self.medium_risk_days,
                Risk.LOW: self.low_risk_days}[risk]


class ChecklistTemplate(db.Model):
    """One version of a street's checklist. Editing makes a new version; an inspection keeps the one it used."""

    __tablename__ = "checklist_templates"
    __table_args__ = (UniqueConstraint("street_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    version: Mapped[int]
    note: Mapped[str] = mapped_column(Text, default="")  # what changed, in the officer's words (≤ 200, checked)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    street: Mapped[Street] = relationship()
    created_by: Mapped[User | None] = relationship()
    items: Mapped[list[ChecklistItem]] = relationship(
        back_populates="template", order_by="ChecklistItem.position", cascade="all, delete-orphan")


class ChecklistItem(db.Model):
    __tablename__ = "checklist_items"
    __table_args__ = (UniqueConstraint("template_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(10))
    text_zh: Mapped[str] = mapped_column(String(200))
    text_en: Mapped[str] = mapped_column(String(200))
    severity: Mapped[Severity] = mapped_column(value_enum(Severity, 10))
    photo_required: Mapped[bool] = mapped_column(default=False)
    # Sign types (SignType values) and ILLUMINATED, separated by commas; empty: every sign.
    applies_to: Mapped[str] = mapped_column(String(120), default="")

    template: Mapped[ChecklistTemplate] = relationship(back_populates="items")

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(kind for kind in self.applies_to.split(",") if kind)

    def applies(self, sign_type: str, illuminated: bool) -> bool:
        """Whether a sign of this type (lit or not) is checked against this item."""
        kinds = self.kinds
        return not kinds or str(sign_type) in kinds or (illuminated and ILLUMINATED in kinds)

    def text(self, locale: str) -> str:
        return self.text_zh if locale.startswith("zh") else self.text_en


class PermitState(enum.StrEnum):
    REQUESTED = "requested"
    GRANTED = "granted"
    DENIED = "denied"
    DISTRICT_REQUIRED = "district_required"  # the district's full permit (常规许可) is needed first

    @property
    def label(self) -> str:
        return str(PERMIT_STATE_LABELS[self])


PERMIT_STATE_LABELS = {
    PermitState.REQUESTED: _l("Waiting for the street office"),
    PermitState.GRANTED: _l("Granted"),
    PermitState.DENIED: _l("Denied"),
    PermitState.DISTRICT_REQUIRED: _l("District permit needed"),
}

permit_photos = Table(
    "permit_photos",
    db.metadata,
    Column("permit_id", ForeignKey("permits.id", ondelete="CASCADE"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
    Column("kind", String(10), nullable=False),  # "plan" (drawings, photos) or "district" (the district's permit)
)


class Permit(db.Model):
    """The structural plan of one project's sign, and the street office's decision on it (one per project:
    a denied plan is revised and sent again; each decision is on the project's timeline)."""

    __tablename__ = "permits"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), unique=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    state: Mapped[PermitState] = mapped_column(value_enum(PermitState, 20), default=PermitState.REQUESTED,
                                               index=True)
    round: Mapped[int] = mapped_column(default=1)  # how many times the plan was sent
    # The plan.
    fixing_method: Mapped[str] = mapped_column(String(200))
    host_wall: Mapped[str] = mapped_column(String(200))
    width_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    height_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    projection_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    clearance_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    top_height_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))  # the sign's top edge above the pavement
    weight_kg: Mapped[Decimal] = mapped_column(Numeric(8, 1))
    illuminated: Mapped[bool] = mapped_column(default=False)
    wiring: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The decision.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")  # why denied, or why the district must decide
    district_number: Mapped[str] = mapped_column(String(60), default="")  # the district permit's number
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()
    alliance: Mapped[Alliance] = relationship()
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    conditions: Mapped[list[PermitCondition]] = relationship(
        back_populates="permit", order_by="PermitCondition.position", cascade="all, delete-orphan")
    plan_photos = relationship(Photo, secondary=permit_photos, order_by=Photo.id, viewonly=True,
                               secondaryjoin=lambda: (Photo.id == permit_photos.c.photo_id)
                               & (permit_photos.c.kind == "plan"))
    district_photos = relationship(Photo, secondary=permit_photos, order_by=Photo.id, viewonly=True,
                                   secondaryjoin=lambda: (Photo.id == permit_photos.c.photo_id)
                                   & (permit_photos.c.kind == "district"))


class PermitCondition(db.Model):
    """A condition the officer grants the permit with; the acceptance inspection checks each one."""

    __tablename__ = "permit_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("permits.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    text: Mapped[str] = mapped_column(String(300))

    permit: Mapped[Permit] = relationship(back_populates="conditions")

    cache_scopes = scopes_via("permit")

    @property
    def code(self) -> str:
        return f"C{self.position}"


class InspectionKind(enum.StrEnum):
    ACCEPTANCE = "acceptance"  # after installation
    PERIODIC = "periodic"
    FOLLOW_UP = "follow_up"  # of a hazard report
    REINSPECTION = "reinspection"  # after rectification

    @property
    def label(self) -> str:
        return str(INSPECTION_KIND_LABELS[self])


INSPECTION_KIND_LABELS = {
    InspectionKind.ACCEPTANCE: _l("Acceptance inspection"),
    InspectionKind.PERIODIC: _l("Periodic inspection"),
    InspectionKind.FOLLOW_UP: _l("Follow-up of a report"),
    InspectionKind.REINSPECTION: _l("Re-inspection"),
}


class InspectionState(enum.StrEnum):
    OPEN = "open"
    PASSED = "passed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return str(INSPECTION_STATE_LABELS[self])


INSPECTION_STATE_LABELS = {
    InspectionState.OPEN: _l("In progress"),
    InspectionState.PASSED: _l("Passed"),
    InspectionState.FAILED: _l("Failed"),
    InspectionState.CANCELLED: _l("Cancelled"),
}


OPEN_INSPECTION = "state = 'open'"


class Inspection(db.Model):
    """One visit to one sign against one version of the street's checklist."""

    __tablename__ = "inspections"
    __table_args__ = (
        Index("ix_inspections_street_state", "street_id", "state"),
        # A sign has at most one inspection under way (two officers starting at once: the second is told).
        Index("uq_inspections_open_sign", "signboard_id", unique=True,
              sqlite_where=text(OPEN_INSPECTION), postgresql_where=text(OPEN_INSPECTION)),
        # A day's route: the street's open inspections planned for that day.
        Index("ix_inspections_planned", "street_id", "planned_on",
              sqlite_where=text(OPEN_INSPECTION), postgresql_where=text(OPEN_INSPECTION)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signboard_id: Mapped[int] = mapped_column(ForeignKey("signboards.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("checklist_templates.id"))
    # The re-inspection of a rectification order re-checks its items.
    # Orders and inspections name each other: this link is checked at the commit, so that a restore (or a
    # clean-up) may write the two tables in either order within one transaction.
    rectification_id: Mapped[int | None] = mapped_column(ForeignKey(
        "rectification_orders.id", use_alter=True, deferrable=True, initially="DEFERRED"))
    kind: Mapped[InspectionKind] = mapped_column(value_enum(InspectionKind, 20))
    state: Mapped[InspectionState] = mapped_column(value_enum(InspectionState, 20), default=InspectionState.OPEN)
    # What the sign is, as inspected (the approved design's, or the registered sign's).
    sign_type: Mapped[str] = mapped_column(String(20))
    illuminated: Mapped[bool] = mapped_column(default=False)
    # Major items may fail without failing the inspection only with the officer's reasons.
    exception_reason: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    planned_on: Mapped[date | None]  # the day it is on the officer's route (periodic inspections started in bulk)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    signboard: Mapped[Signboard] = relationship()
    shop: Mapped[Shop] = relationship()
    alliance: Mapped[Alliance] = relationship()
    project: Mapped[Project | None] = relationship()
    template: Mapped[ChecklistTemplate] = relationship()
    rectification: Mapped[RectificationOrder | None] = relationship(foreign_keys=[rectification_id])
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    answers: Mapped[list[InspectionAnswer]] = relationship(back_populates="inspection", order_by="InspectionAnswer.id")


class Outcome(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        return str(OUTCOME_LABELS[self])


OUTCOME_LABELS = {Outcome.PASS: _l("Pass"), Outcome.FAIL: _l("Fail"), Outcome.NOT_APPLICABLE: _l("Not applicable")}

answer_photos = Table(
    "inspection_answer_photos",
    db.metadata,
    Column("answer_id", ForeignKey("inspection_answers.id", ondelete="CASCADE"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


class InspectionAnswer(db.Model):
    """The answer to one checklist item (or one permit condition) in one inspection, saved as it is given.

    `revision` counts the saves: a save names the revision it was made on, so two officers answering the same
    item at once cannot overwrite each other without being told.
    """

    __tablename__ = "inspection_answers"
    __table_args__ = (UniqueConstraint("inspection_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_items.id"))
    condition_id: Mapped[int | None] = mapped_column(ForeignKey("permit_conditions.id"))
    code: Mapped[str] = mapped_column(String(10))  # the item's code, or C1, C2… for a permit's conditions
    outcome: Mapped[Outcome] = mapped_column(value_enum(Outcome, 20))
    note: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(default=1)
    answered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)

    inspection: Mapped[Inspection] = relationship(back_populates="answers")
    item: Mapped[ChecklistItem | None] = relationship()
    condition: Mapped[PermitCondition | None] = relationship()
    answered_by: Mapped[User] = relationship()
    photos = relationship(Photo, secondary=answer_photos, order_by=Photo.id)


class RectificationState(enum.StrEnum):
    OPEN = "open"
    FIXED = "fixed"  # every item reported fixed: waiting for the re-inspection
    CLOSED = "closed"  # the re-inspection passed

    @property
    def label(self) -> str:
        return str(RECTIFICATION_STATE_LABELS[self])


RECTIFICATION_STATE_LABELS = {
    RectificationState.OPEN: _l("To rectify"),
    RectificationState.FIXED: _l("Reported fixed"),
    RectificationState.CLOSED: _l("Closed"),
}


OPEN_ORDERS = "state != 'closed'"


class RectificationOrder(db.Model):
    """What a failed inspection asks the shop to fix, by when."""

    __tablename__ = "rectification_orders"
    # The officer's home lists a street's orders not yet closed, by deadline: the closed ones, which pile up,
    # are not in this index at all.
    __table_args__ = (Index("ix_rectification_orders_open", "street_id", "deadline",
                            sqlite_where=text(OPEN_ORDERS), postgresql_where=text(OPEN_ORDERS)),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), unique=True)
    signboard_id: Mapped[int] = mapped_column(ForeignKey("signboards.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    state: Mapped[RectificationState] = mapped_column(value_enum(RectificationState, 20),
                                                      default=RectificationState.OPEN)
    deadline: Mapped[date]
    overdue_notified_at: Mapped[datetime | None]  # when the officer and the lead were told it is late
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    inspection: Mapped[Inspection] = relationship(foreign_keys=[inspection_id])
    signboard: Mapped[Signboard] = relationship()
    shop: Mapped[Shop] = relationship()
    project: Mapped[Project | None] = relationship()
    items: Mapped[list[RectificationItem]] = relationship(
        back_populates="order", order_by="RectificationItem.id", cascade="all, delete-orphan")


rectification_photos = Table(
    "rectification_item_photos",
    db.metadata,
    Column("item_id", ForeignKey("rectification_items.id", ondelete="CASCADE"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


class RectificationItem(db.Model):
    """One failed item to fix: what the inspector saw, and the shop's report that it is fixed."""

    __tablename__ = "rectification_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("rectification_orders.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    answer_id: Mapped[int] = mapped_column(ForeignKey("inspection_answers.id"))
    code: Mapped[str] = mapped_column(String(10))
    severity: Mapped[Severity] = mapped_column(value_enum(Severity, 10))
    deadline: Mapped[date]
    fixed_note: Mapped[str] = mapped_column(Text, default="")
    fixed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    fixed_at: Mapped[datetime | None]

    order: Mapped[RectificationOrder] = relationship(back_populates="items")
    answer: Mapped[InspectionAnswer] = relationship()
    fixed_by: Mapped[User | None] = relationship()
    photos = relationship(Photo, secondary=rectification_photos, order_by=Photo.id)


class CertificateSequence(db.Model):
    """The last serial number issued per street and year: numbers are never reused, even if a certificate is
    revoked."""

    __tablename__ = "certificate_sequences"
    __cached__ = False  # no page shows it

    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


CURRENT = "superseded_by_id IS NULL AND revoked_at IS NULL"


class Certificate(db.Model):
    """The street office's sign-off on one sign after a passed inspection; its tag's QR opens the public page."""

    __tablename__ = "certificates"
    # Certificates in force, by due date (the officer's "expiring" list): every superseded one has a past due
    # date too, so without this condition a street's whole history would be read and thrown away.
    __table_args__ = (Index("ix_certificates_current_due", "street_id", "next_due_on",
                            sqlite_where=text(CURRENT), postgresql_where=text(CURRENT)),)

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the public page's unguessable address
    signboard_id: Mapped[int] = mapped_column(ForeignKey("signboards.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), unique=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_on: Mapped[date]
    valid_until: Mapped[date]
    next_due_on: Mapped[date]
    conditions: Mapped[str] = mapped_column(Text, default="")
    advisories: Mapped[str] = mapped_column(Text, default="")  # failed minor items, one per line
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str] = mapped_column(Text, default="")
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    signboard: Mapped[Signboard] = relationship()
    shop: Mapped[Shop] = relationship()
    inspection: Mapped[Inspection] = relationship()
    inspector: Mapped[User] = relationship()
    project: Mapped[Project | None] = relationship()
    superseded_by: Mapped[Certificate | None] = relationship(remote_side=[id])
