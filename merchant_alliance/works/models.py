"""The works' records: the alliance's contractors, quotes for a project, the work order with its milestones,
the site log, the punch list, change orders and the payments made from accepted milestones (retention held).

Every record carries its alliance: the alliance's pages are cached under the alliance's scope
(merchant_alliance.pagecache), and the access rules start from it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, ForeignKey, Index, Numeric, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.extensions import db, value_enum
from merchant_alliance.i18n import N_
from merchant_alliance.photos.models import Document, Photo
from merchant_alliance.projects.models import Project
from merchant_alliance.timeutil import utcnow


class Labelled(enum.StrEnum):
    """A state or kind whose label is in the module's LABELS."""

    @property
    def label(self) -> str:
        return str(LABELS[self])


class ContractorKind(Labelled):
    DESIGNER = "designer"
    FABRICATOR = "fabricator"
    INSTALLER = "installer"


class Acceptor(Labelled):
    """Who accepts a milestone as done, as the alliance's rules say."""

    LEAD = "lead"
    OWNER = "owner"  # the owner of the project's shop
    EITHER = "either"


class QuoteState(Labelled):
    INVITED = "invited"
    SUBMITTED = "submitted"
    SELECTED = "selected"
    NOT_SELECTED = "not_selected"
    DECLINED = "declined"  # the contractor will not quote


class OrderState(Labelled):
    CONTRACTED = "contracted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"  # every milestone accepted


class MilestoneKind(Labelled):
    DESIGN = "design"
    REMOVAL = "removal"
    FABRICATION = "fabrication"
    INSTALLATION = "installation"
    CLEANUP = "cleanup"
    OTHER = "other"


class MilestoneState(Labelled):
    PENDING = "pending"
    DONE = "done"  # the contractor says so, with photos; waiting for acceptance
    ACCEPTED = "accepted"
    RETURNED = "returned"  # sent back with a reason; the contractor marks it done again


class PunchState(Labelled):
    OPEN = "open"
    FIXED = "fixed"
    VERIFIED = "verified"
    CLOSED = "closed"


class ChangeState(Labelled):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class PaymentKind(Labelled):
    MILESTONE = "milestone"
    RETENTION = "retention"


class PaymentState(Labelled):
    REQUESTED = "requested"  # an expense request of the fund, on its way through approval
    PAID = "paid"
    VOID = "void"  # the expense request was rejected or cancelled: the milestone may be asked for again


# A default milestone's name is its kind's, kept as a msgid: shown (and told in notices) in each reader's language.
MILESTONE_NAMES = {
    MilestoneKind.DESIGN: N_("Design finalised"),
    MilestoneKind.REMOVAL: N_("Old sign removed"),
    MilestoneKind.FABRICATION: N_("Fabrication done"),
    MilestoneKind.INSTALLATION: N_("Installed"),
    MilestoneKind.CLEANUP: N_("Site cleaned"),
    MilestoneKind.OTHER: N_("Other"),
}

LABELS = {
    ContractorKind.DESIGNER: _l("Designer"),
    ContractorKind.FABRICATOR: _l("Fabricator"),
    ContractorKind.INSTALLER: _l("Installer"),
    Acceptor.LEAD: _l("A lead of the alliance"),
    Acceptor.OWNER: _l("The shop's owner"),
    Acceptor.EITHER: _l("A lead or the shop's owner"),
    QuoteState.INVITED: _l("Invited"),
    QuoteState.SUBMITTED: _l("Quoted"),
    QuoteState.SELECTED: _l("Selected"),
    QuoteState.NOT_SELECTED: _l("Not selected"),
    QuoteState.DECLINED: _l("Declined"),
    OrderState.CONTRACTED: _l("Contracted"),
    OrderState.IN_PROGRESS: _l("In progress"),
    OrderState.COMPLETED: _l("Completed"),
    **{kind: _l(name) for kind, name in MILESTONE_NAMES.items()},
    MilestoneState.PENDING: _l("To do"),
    MilestoneState.DONE: _l("Done, waiting for acceptance"),
    MilestoneState.ACCEPTED: _l("Accepted"),
    MilestoneState.RETURNED: _l("Sent back"),
    PunchState.OPEN: _l("Open"),
    PunchState.FIXED: _l("Fixed, to verify"),
    PunchState.VERIFIED: _l("Verified"),
    PunchState.CLOSED: _l("Closed"),
    ChangeState.PROPOSED: _l("Waiting for approval"),
    ChangeState.APPROVED: _l("Approved"),
    ChangeState.REJECTED: _l("Rejected"),
    ChangeState.WITHDRAWN: _l("Withdrawn"),
    PaymentKind.MILESTONE: _l("Milestone payment"),
    PaymentKind.RETENTION: _l("Retention release"),
    PaymentState.REQUESTED: _l("Waiting for approval and payment"),
    PaymentState.PAID: _l("Paid"),
    PaymentState.VOID: _l("Rejected or cancelled"),
}


class WorksSettings(db.Model):
    """An alliance's rules for works: the retention held from each payment, the warranty before it is released,
    and who accepts a milestone."""

    __tablename__ = "works_settings"

    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), primary_key=True)
    # 质保金: 3% is the legal cap for construction works (住建部 2017); an alliance may hold less.
    retention_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(3))
    warranty_days: Mapped[int] = mapped_column(default=365)
    accepted_by: Mapped[Acceptor] = mapped_column(value_enum(Acceptor, 10), default=Acceptor.LEAD)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


contractor_users = Table(
    "contractor_users",
    db.metadata,
    Column("contractor_id", ForeignKey("contractors.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True, index=True),
)


class Contractor(db.Model):
    """A designer, fabricator or installation team the alliance works with. Deactivated, never deleted."""

    __tablename__ = "contractors"
    __table_args__ = (UniqueConstraint("alliance_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kinds: Mapped[str] = mapped_column(String(60), default="")  # ContractorKind values, separated by commas
    licence_number: Mapped[str] = mapped_column(String(30), default="")
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(20), default="")
    insurance_expires_on: Mapped[date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    alliance: Mapped[Alliance] = relationship()
    users: Mapped[list[User]] = relationship(secondary=contractor_users, order_by=User.id)

    @property
    def kind_list(self) -> list[ContractorKind]:
        return [ContractorKind(k) for k in self.kinds.split(",") if k]

    def insured_on(self, day: date) -> bool:
        return self.insurance_expires_on is None or self.insurance_expires_on >= day


quote_photos = Table(
    "quote_photos",
    db.metadata,
    Column("quote_id", ForeignKey("quotes.id", ondelete="CASCADE"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


quote_documents = Table(
    "quote_documents",
    db.metadata,
    Column("quote_id", ForeignKey("quotes.id", ondelete="CASCADE"), primary_key=True),
    Column("document_id", ForeignKey("documents.id"), primary_key=True),
)


class Quote(db.Model):
    """A contractor's price for one project: invited by a lead, given by the contractor, compared and chosen."""

    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("project_id", "contractor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    state: Mapped[QuoteState] = mapped_column(value_enum(QuoteState, 20), default=QuoteState.INVITED)
    request_note: Mapped[str] = mapped_column(Text, default="")  # what the lead asks for
    amount_fen: Mapped[int | None] = mapped_column(db.BigInteger)
    scope: Mapped[str] = mapped_column(Text, default="")
    duration_days: Mapped[int | None]
    valid_until: Mapped[date | None]
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")  # why selected, or why the contractor declined
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()
    contractor: Mapped[Contractor] = relationship()
    photos = relationship(Photo, secondary=quote_photos, order_by=Photo.id)
    documents = relationship(Document, secondary=quote_documents, order_by=Document.id)


class WorkOrder(db.Model):
    """The contract made by selecting a quote: one per project."""

    __tablename__ = "work_orders"
    __table_args__ = (Index("ix_work_orders_alliance_state", "alliance_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), unique=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), unique=True)
    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    state: Mapped[OrderState] = mapped_column(value_enum(OrderState, 20), default=OrderState.CONTRACTED)
    agreed_fen: Mapped[int] = mapped_column(db.BigInteger)
    changes_fen: Mapped[int] = mapped_column(db.BigInteger, default=0)  # approved change orders, signed
    start_on: Mapped[date]
    due_on: Mapped[date]
    retention_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # the alliance's, when the order was made
    warranty_days: Mapped[int]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    installed_on: Mapped[date | None]  # the installation milestone accepted: the warranty runs from here
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship()
    quote: Mapped[Quote] = relationship()
    contractor: Mapped[Contractor] = relationship()
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="order", order_by="Milestone.position", cascade="all, delete-orphan")

    @property
    def value_fen(self) -> int:
        """What the order is worth now: the agreed amount and every approved change."""
        return self.agreed_fen + self.changes_fen


milestone_photos = Table(
    "milestone_photos",
    db.metadata,
    Column("milestone_id", ForeignKey("milestones.id", ondelete="CASCADE"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


class Milestone(db.Model):
    """One step of a work order, with its due date, its share of the payment and the photos that prove it."""

    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        # The contractor's home and the late-work flags look for milestones not accepted yet by due date.
        Index("ix_milestones_open_due", "alliance_id", "due_on",
              sqlite_where=text("state != 'accepted'"), postgresql_where=text("state != 'accepted'")),
        # The works board picks its page by each order's next open milestone: read from this index alone (it holds
        # every column the board asks of it), without the finished orders' milestones.
        Index("ix_milestones_open_order", "alliance_id", "order_id", "due_on", "state",
              sqlite_where=text("state != 'accepted'"), postgresql_where=text("state != 'accepted'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    position: Mapped[int]
    kind: Mapped[MilestoneKind] = mapped_column(value_enum(MilestoneKind, 20))
    name: Mapped[str] = mapped_column(String(100), default="")  # empty: the kind's label (see `title`)
    due_on: Mapped[date]
    share_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))  # of the order's value; the order's add to 100
    photos_needed: Mapped[int] = mapped_column(default=1)
    state: Mapped[MilestoneState] = mapped_column(value_enum(MilestoneState, 20), default=MilestoneState.PENDING)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[datetime | None]
    done_note: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    return_reason: Mapped[str] = mapped_column(Text, default="")
    late_notified_on: Mapped[date | None]  # when the lead was told it is late (once)
    accepted_late: Mapped[bool] = mapped_column(default=False)  # accepted after its due day (Shanghai's days)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order: Mapped[WorkOrder] = relationship(back_populates="milestones")
    photos = relationship(Photo, secondary=milestone_photos, order_by=Photo.id)
    done_by: Mapped[User | None] = relationship(foreign_keys=[done_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def title(self) -> str:
        """Its own name, or its kind's, in the reader's language (a default milestone keeps no name of its own)."""
        return self.name or self.kind.label

    def late_on(self, day: date) -> bool:
        """Not accepted by its due date."""
        return self.state != MilestoneState.ACCEPTED and self.due_on < day


site_log_photos = Table(
    "site_log_photos",
    db.metadata,
    Column("entry_id", ForeignKey("site_log_entries.id", ondelete="CASCADE"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
)


class SiteLogEntry(db.Model):
    """施工日志: what happened on site on one day."""

    __tablename__ = "site_log_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    day: Mapped[date]
    crew_size: Mapped[int | None]
    work_done: Mapped[str] = mapped_column(Text)
    weather: Mapped[str] = mapped_column(String(30), default="")
    problems: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User] = relationship()
    photos = relationship(Photo, secondary=site_log_photos, order_by=Photo.id)


punch_photos = Table(
    "punch_item_photos",
    db.metadata,
    Column("item_id", ForeignKey("punch_items.id", ondelete="CASCADE"), primary_key=True),
    Column("photo_id", ForeignKey("photos.id"), primary_key=True),
    Column("kind", String(10), nullable=False),  # "found" (the defect) or "fixed" (the repair)
)


class PunchItem(db.Model):
    """A defect found at acceptance (or later): open → fixed (with a photo) → verified → closed."""

    __tablename__ = "punch_items"
    __table_args__ = (UniqueConstraint("order_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    number: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[PunchState] = mapped_column(value_enum(PunchState, 20), default=PunchState.OPEN)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    fixed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    fixed_at: Mapped[datetime | None]
    fix_note: Mapped[str] = mapped_column(Text, default="")
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order: Mapped[WorkOrder] = relationship()
    raised_by: Mapped[User] = relationship(foreign_keys=[raised_by_id])
    fixed_by: Mapped[User | None] = relationship(foreign_keys=[fixed_by_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    found_photos = relationship(Photo, secondary=punch_photos, order_by=Photo.id, viewonly=True,
                                secondaryjoin=lambda: (Photo.id == punch_photos.c.photo_id)
                                & (punch_photos.c.kind == "found"))
    fixed_photos = relationship(Photo, secondary=punch_photos, order_by=Photo.id, viewonly=True,
                                secondaryjoin=lambda: (Photo.id == punch_photos.c.photo_id)
                                & (punch_photos.c.kind == "fixed"))


class ChangeOrder(db.Model):
    """A change to the order's amount or scope: takes effect when a lead approves it, together with the change to
    the project's cost shares when it raises the cost."""

    __tablename__ = "change_orders"
    __table_args__ = (UniqueConstraint("order_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    number: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(db.BigInteger)  # + raises the order's value, − lowers it
    scope: Mapped[str] = mapped_column(Text)  # what changes in the work
    state: Mapped[ChangeState] = mapped_column(value_enum(ChangeState, 20), default=ChangeState.PROPOSED)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    # How a raise is shared, written when it is approved.
    shop_fen: Mapped[int] = mapped_column(db.BigInteger, default=0)
    fund_fen: Mapped[int] = mapped_column(db.BigInteger, default=0)
    subsidy_fen: Mapped[int] = mapped_column(db.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order: Mapped[WorkOrder] = relationship()
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])


_LIVE = text("state != 'void'")
_ASKED_RETENTION = text("state = 'requested' AND kind = 'retention'")


class OrderPayment(db.Model):
    """Money asked for from the fund for the order: an accepted milestone's share minus the retention, or the
    release of the retention. Its expense request carries it through the fund's approvals to the treasurer."""

    __tablename__ = "order_payments"
    __table_args__ = (
        # One live request per milestone, and one release of the retention on its way per order, whatever the
        # timing (a milestone paid after a release holds retention of its own, released by a later one).
        Index("uq_order_payments_milestone", "milestone_id", unique=True,
              sqlite_where=_LIVE, postgresql_where=_LIVE),
        Index("uq_order_payments_retention", "order_id", unique=True,
              sqlite_where=_ASKED_RETENTION, postgresql_where=_ASKED_RETENTION),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    kind: Mapped[PaymentKind] = mapped_column(value_enum(PaymentKind, 20))
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"))
    gross_fen: Mapped[int] = mapped_column(db.BigInteger)  # the milestone's value (the retention, for a release)
    retention_fen: Mapped[int] = mapped_column(db.BigInteger, default=0)  # held back from this payment
    expense_request_id: Mapped[int] = mapped_column(ForeignKey("expense_requests.id"), unique=True)
    state: Mapped[PaymentState] = mapped_column(value_enum(PaymentState, 20), default=PaymentState.REQUESTED)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    milestone: Mapped[Milestone | None] = relationship()

    @property
    def amount_fen(self) -> int:
        """What leaves the fund."""
        return self.gross_fen - self.retention_fen
