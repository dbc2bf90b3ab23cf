"""Notify users in the app. Every domain calls `notify`; the bell and the list read from here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import bindparam, func, select, update

from merchant_alliance.accounts.models import User
from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.pagecache import user_scope
from merchant_alliance.timeutil import utcnow


@dataclass(frozen=True)
class Target:
    """The page a notification opens: an endpoint and its arguments, made into a URL only when read,
    so that services notify without a request (the CLI, background jobs, an API)."""

    endpoint: str
    args: dict[str, Any]


def page(endpoint: str, **args: Any) -> Target:
    """`notify(..., page("projects.project", project_id=7))`."""
    return Target(endpoint, args)


def notify(user_ids: Iterable[int], message: str, target: Target | None = None, **params: Any) -> list[Notification]:
    """Queue a notification for each user (saved with the caller's commit).

    `message` is an untranslated msgid marked with `N_()` at the call site, with `%(name)s` params.
    A param that must be translated too (a role's name) is passed as `translatable(msgid)`.
    """
    endpoint, args = (target.endpoint, target.args) if target else ("", None)
    notes = [Notification(user_id=uid, message=message, params=params, endpoint=endpoint, endpoint_args=args)
             for uid in set(user_ids)]
    db.session.add_all(notes)
    return notes


TRANSLATABLE = "msgid"  # the key marking a param that is itself a message to translate


def translatable(msgid: str) -> dict[str, str]:
    """A notification param that is itself a msgid (marked with `N_()`), translated when shown."""
    return {TRANSLATABLE: msgid}


def render_message(note: Notification) -> str:
    """The notification's text in the current reader's language."""
    params = {
        key: gettext(value[TRANSLATABLE]) if isinstance(value, dict) and TRANSLATABLE in value else value
        for key, value in note.params.items()
    }
    return gettext(note.message, **params)


# The bell on every page asks this: the statement is built once per process.
UNREAD = select(func.count()).where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))


def unread_count_of_user():
    """The unread count as a subquery on the request's user, read in the session loader's one query."""
    return select(func.count()).where(Notification.user_id == User.id, Notification.read_at.is_(None)) \
        .correlate(User).scalar_subquery()


def unread_count(user_id: int) -> int:
    return db.session.scalar(UNREAD, {"user_id": user_id}) or 0


def notifications_for(user_id: int):
    """A select() of a user's notifications, newest first."""
    return (
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )


def mark_read(user_id: int, notification_id: int | None = None) -> int:
    """Mark one (or, with no id, every) unread notification of this user as read. Returns how many."""
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    result = db.session.execute(stmt.values(read_at=utcnow()).execution_options(cache_scopes=[user_scope(user_id)]))
    db.session.commit()
    return result.rowcount
