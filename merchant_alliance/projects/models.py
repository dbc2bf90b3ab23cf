"""Renovation projects: a proposal for one signboard, its design versions, comments, and the
street's design guidelines that every version is checked against."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merchant_alliance.accounts.models import Alliance, Street, User
from merchant_alliance.extensions import db, value_enum
from merchant_alliance.pagecache import scopes_via
from merchant_alliance.shops.models import Shop, Signboard, SignType
from merchant_alliance.timeutil import utcnow


class ProjectState(enum.StrEnum):
    """Every state of DESIGN.md's lifecycle. Which moves are possible is the lifecycle table's job."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    DESIGN_APPROVED = "design_approved"
    PERMIT_REQUESTED = "permit_requested"
    PERMIT_GRANTED = "permit_granted"
    PERMIT_DENIED = "permit_denied"
    FUNDED = "funded"
    CONTRACTED = "contracted"
    IN_PROGRESS = "in_progress"
    INSTALLED = "installed"
    INSPECTION = "inspection"
    PASSED = "passed"
    FAILED = "failed"
    RECTIFICATION = "rectification"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self])


STATE_LABELS = {
    ProjectState.DRAFT: _l("Draft"),
    ProjectState.SUBMITTED: _l("Submitted for review"),
    ProjectState.CHANGES_REQUESTED: _l("Changes requested"),
    ProjectState.DESIGN_APPROVED: _l("Design approved"),
    ProjectState.PERMIT_REQUESTED: _l("Waiting for the structural permit"),
    ProjectState.PERMIT_GRANTED: _l("Permit granted"),
    ProjectState.PERMIT_DENIED: _l("Permit denied"),
    ProjectState.FUNDED: _l("Funded"),
    ProjectState.CONTRACTED: _l("Contracted"),
    ProjectState.IN_PROGRESS: _l("In progress"),
    ProjectState.INSTALLED: _l("Installed"),
    ProjectState.INSPECTION: _l("Awaiting inspection"),
    ProjectState.PASSED: _l("Inspection passed"),
    ProjectState.FAILED: _l("Inspection failed"),
    ProjectState.RECTIFICATION: _l("Rectification"),
    ProjectState.COMPLETED: _l("Completed"),
    ProjectState.WITHDRAWN: _l("Withdrawn"),
    ProjectState.REJECTED: _l("Rejected"),
}


# A project in one of these states is over: the signboard may have a new proposal.
ENDED_STATES = (ProjectState.WITHDRAWN, ProjectState.REJECTED, ProjectState.COMPLETED)
_STILL_OPEN = text("state NOT IN ({})".format(", ".join(f"'{state.value}'" for state in ENDED_STATES)))


class Project(db.Model):
    __tablename__ = "projects"
    __table_args__ = (
        # One open proposal per signboard, held by the database whatever the timing of two requests.
        Index("uq_projects_open_per_signboard", "signboard_id", unique=True,
              sqlite_where=_STILL_OPEN, postgresql_where=_STILL_OPEN),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The alliance is the shop's; kept here so alliance-wide lists need no join.
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    signboard_id: Mapped[int] = mapped_column(ForeignKey("signboards.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[ProjectState] = mapped_column(value_enum(ProjectState), default=ProjectState.DRAFT, index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    alliance: Mapped[Alliance] = relationship()
    shop: Mapped[Shop] = relationship()
    signboard: Mapped[Signboard] = relationship()
    created_by: Mapped[User] = relationship()
    versions: Mapped[list[DesignVersion]] = relationship(
        back_populates="project", order_by="DesignVersion.number", cascade="all, delete-orphan"
    )

    @property
    def latest_version(self) -> DesignVersion | None:
        return self.versions[-1] if self.versions else None


design_version_photos = db.Table(
    "design_version_photos",
    db.Column("version_id", ForeignKey("design_versions.id", ondelete="CASCADE"), primary_key=True),
    db.Column("photo_id", ForeignKey("photos.id"), primary_key=True),
    # "mockup" (the proposed design) or "current" (the sign as it is now).
    db.Column("kind", String(10), nullable=False),
)


class DesignVersion(db.Model):
    """One version of the proposed design. Versions are never edited: a change is a new version."""

    __tablename__ = "design_versions"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    number: Mapped[int]
    sign_type: Mapped[SignType] = mapped_column(value_enum(SignType, 20))
    width_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    height_m: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    projection_m: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("0"))
    clearance_m: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    materials: Mapped[str] = mapped_column(String(200), default="")
    illuminated: Mapped[bool] = mapped_column(default=False)
    lighting: Mapped[str] = mapped_column(String(200), default="")
    fixing_method: Mapped[str] = mapped_column(String(200), default="")
    estimated_cost_fen: Mapped[int | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship(back_populates="versions")
    cache_scopes = scopes_via("project")
    created_by: Mapped[User] = relationship()
    mockups = relationship(
        "Photo", secondary=design_version_photos, order_by="Photo.id", viewonly=True,
        secondaryjoin="and_(Photo.id == design_version_photos.c.photo_id, design_version_photos.c.kind == 'mockup')",
    )
    current_photos = relationship(
        "Photo", secondary=design_version_photos, order_by="Photo.id", viewonly=True,
        secondaryjoin="and_(Photo.id == design_version_photos.c.photo_id, design_version_photos.c.kind == 'current')",
    )


comment_photos = db.Table(
    "comment_photos",
    db.Column("comment_id", ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True),
    db.Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


class Comment(db.Model):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship()
    cache_scopes = scopes_via("project")
    author: Mapped[User] = relationship()
    photos = relationship("Photo", secondary=comment_photos, order_by="Photo.id")


class DesignGuideline(db.Model):
    """The street's limits for new signs, edited by the street office. One row per street."""

    __tablename__ = "design_guidelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), unique=True)
    # A sign may be at most this share of the facade's width (1.00 = the whole facade).
    max_width_share: Mapped[Decimal] = mapped_column(Numeric(4, 2), default=Decimal("0.90"))
    max_height_m: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("1.20"))
    max_projection_wall_m: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0.50"))
    max_projection_projecting_m: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("1.50"))
    min_clearance_m: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("3.00"))
    lighting_allowed: Mapped[bool] = mapped_column(default=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    street: Mapped[Street] = relationship()
