"""The audit log: who did what to which object, when, from where.

`record()` adds the event to the current session, so it commits (or rolls back) together with the
action it describes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.local import LocalProxy

from merchant_alliance.extensions import db
from merchant_alliance.timeutil import utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None]
    alliance_id: Mapped[int | None] = mapped_column(ForeignKey("alliances.id"), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    # Set when the event belongs on a project's timeline without being about the project itself
    # (an expense request for it, a budget set on it).
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    ip: Mapped[str] = mapped_column(String(45), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor = relationship("User", lazy="joined")


def record(
    actor: Any,
    action: str,
    obj: Any,
    *,
    alliance_id: int | None = None,
    street_id: int | None = None,
    project_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event for `actor` doing `action` to `obj` (saved with the caller's commit)."""
    if isinstance(obj, LocalProxy):  # e.g. current_user: record the user, not the proxy's type
        obj = obj._get_current_object()
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=getattr(obj, "id", None),
        alliance_id=alliance_id,
        street_id=street_id,
        project_id=project_id,
        ip=(request.remote_addr or "") if has_request_context() else "",
        details={k: v for k, v in details.items() if v is not None},
    )
    db.session.add(event)
    return event


def events_for_object(obj: Any):
    """A select() of the audit events about one object, newest first."""
    return (
        select(AuditEvent)
        .where(AuditEvent.object_type == type(obj).__name__.lower(), AuditEvent.object_id == obj.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )


def events_for_project(project: Any):
    """A select() of the events on a project's timeline: about it, or about something done for it."""
    about_it = (AuditEvent.object_type == "project") & (AuditEvent.object_id == project.id)
    return (
        select(AuditEvent)
        .where(about_it | (AuditEvent.project_id == project.id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )


def events_for_scope(*, alliance_ids: list[int] | None = None, street_id: int | None = None):
    """A select() of audit events visible at a scope, newest first."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if street_id is not None:
        query = query.where(AuditEvent.street_id == street_id)
    elif alliance_ids is not None:
        query = query.where(AuditEvent.alliance_id.in_(alliance_ids))
    return query


ACTION_LABELS = {
    "account_created": _l("Account created"),
    "password_changed": _l("Password changed"),
    "password_reset": _l("Password reset by email link"),
    "logged_out_everywhere": _l("Logged out on every device"),
    "street_created": _l("Street created"),
    "alliance_created": _l("Alliance created"),
    "invitation_created": _l("Invitation created"),
    "invitation_accepted": _l("Invitation accepted"),
    "invitation_revoked": _l("Invitation revoked"),
    "shop_created": _l("Shop added"),
    "shop_updated": _l("Shop details changed"),
    "shop_deactivated": _l("Shop deactivated"),
    "shop_reactivated": _l("Shop reactivated"),
    "shop_member_removed": _l("Member removed from shop"),
    "shops_imported": _l("Shops imported from CSV"),
}


OBJECT_LABELS: dict[str, Any] = {
    "user": _l("Account"),
    "street": _l("Street"),
    "alliance": _l("Alliance"),
    "invitation": _l("Invitation"),
    "shop": _l("Shop"),
}


def register_labels(labels: dict[str, Any], objects: dict[str, Any] | None = None) -> None:
    """Domains name their own actions (and kinds of object) here, so logs and timelines read naturally."""
    ACTION_LABELS.update(labels)
    OBJECT_LABELS.update(objects or {})


def object_label(object_type: str) -> str:
    return str(OBJECT_LABELS.get(object_type, object_type))


def action_label(action: str) -> str:
    """The action's name in the reader's language (the raw name if none is registered)."""
    return str(ACTION_LABELS.get(action, action))
