"""In-app notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from merchant_alliance.extensions import db
from merchant_alliance.pagecache import user_scope
from merchant_alliance.timeutil import utcnow


class Notification(db.Model):
    """One message to one user. The text is stored as an untranslated message and its parameters,
    and translated when shown, so it follows the reader's language."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The page it points to: an endpoint and its arguments (made into a URL when opened). `link` is the
    # URL stored by notifications made before 2026-12.
    endpoint: Mapped[str] = mapped_column(String(80), default="", server_default="")
    endpoint_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    link: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None]

    def cache_scopes(self) -> set[str]:  # shown to its reader only
        return {user_scope(self.user_id)}
