"""Server-side sessions: a login is a row, and ending the row ends every cookie that carries it.

Flask-Login keeps the session's random token (not the user id) in the session cookie and in the
remember-me cookie, and the loader opens only a live, unexpired session of an active user. Reading
a session is one SELECT; nothing is written on an ordinary request.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, String, bindparam, cast, delete, func, or_, select, update
from sqlalchemy.orm import joinedload

from merchant_alliance import audit
from merchant_alliance.accounts.models import Membership, User, UserSession
from merchant_alliance.extensions import db
from merchant_alliance.pagecache import ALLIANCE_SCOPE_PREFIX, GLOBAL, USER_SCOPE_PREFIX, CacheVersion
from merchant_alliance.timeutil import utcnow

# Ended and expired rows are kept this long (to answer "was I logged in there?"), then removed at the
# owner's next login, so the table stays small without a cleaning job.
KEEP_ENDED = timedelta(days=30)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime(remember: bool) -> timedelta:
    """How long a new session lasts on the server, however long its cookies claim to live."""
    if remember:
        return timedelta(seconds=current_app.config["REMEMBER_COOKIE_DURATION"])
    return timedelta(hours=current_app.config["SESSION_LIFETIME_HOURS"])


def start_session(user: User, *, remember: bool, user_agent: str = "") -> str:
    """Record a new login of `user`; returns its token (also set on `user` for Flask-Login)."""
    now = utcnow()
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.expires_at < now - KEEP_ENDED, UserSession.ended_at < now - KEEP_ENDED),
    ))
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(
        user_id=user.id, token_hash=_hash(token), created_at=now, expires_at=now + lifetime(remember),
        remember=remember, user_agent=(user_agent or "")[:200],
    ))
    db.session.commit()
    user.session_token = token
    return token


# What every page shows beside the user (the bell's unread count, …), registered by the domain that owns it
# and read in the user's own query: name -> a function making a scalar subquery on `users.id`.
_READ_WITH_USER: dict[str, Callable[[], ColumnElement[Any]]] = {}


def read_with_user(name: str, expression: Callable[[], ColumnElement[Any]]) -> None:
    """Have every request's user query also read `expression()`, as `user.read_with[name]`."""
    _READ_WITH_USER[name] = expression
    _user_for_token_statement.cache_clear()


def own_scope_versions() -> ColumnElement[Any]:
    """The page-cache versions of the user's own scopes (see `pagecache.own_scopes`) as one string."""
    scope, version = CacheVersion.scope, CacheVersion.version
    shop = Membership.shop.property.mapper  # the shops domain's model, known here only through the relationship
    alliance_id = func.coalesce(Membership.alliance_id, shop.c.alliance_id)
    alliances = select(ALLIANCE_SCOPE_PREFIX + cast(alliance_id, String)).select_from(Membership) \
        .outerjoin(Membership.shop).where(Membership.user_id == User.id).correlate(User)
    return select(func.aggregate_strings(scope + "=" + cast(version, String), ",")).where(or_(
        scope == GLOBAL, scope == USER_SCOPE_PREFIX + cast(User.id, String), scope.in_(alliances.scalar_subquery()),
    )).correlate(User).scalar_subquery()


@cache
def _user_for_token_statement():
    """Every request runs this: built once per process (its SQL and cache key made once, not per request;
    built on first use, when every model's relationships are known)."""
    extras = [expression().label(name) for name, expression in _READ_WITH_USER.items()]
    return select(User, *extras).join(UserSession, UserSession.user_id == User.id).where(
        UserSession.token_hash == bindparam("token_hash"), UserSession.ended_at.is_(None),
        UserSession.expires_at > bindparam("now"), User.active.is_(True),
    ).options(  # the roles every page asks about, and the places they are held at, in the same query
        joinedload(User.memberships).joinedload(Membership.shop).joinedload(
            Membership.shop.property.mapper.class_.alliance),  # (shops' model, through the relationship)
        joinedload(User.memberships).joinedload(Membership.alliance),
    )


def user_for_token(token: str) -> User | None:
    """The active user of the live, unexpired session with this token, or None."""
    if not token or len(token) > 100:
        return None
    row = db.session.execute(_user_for_token_statement(), {"token_hash": _hash(token), "now": utcnow()}) \
        .unique().first()
    if row is None:
        return None
    user = row[0]
    user.session_token = token
    user.read_with = dict(zip(_READ_WITH_USER, row[1:], strict=True))
    return user


def _end(user: User, reason: str, *, only_token: str | None = None, keep_token: str | None = None) -> int:
    """End `user`'s live sessions (one, or all but one) in the caller's transaction; how many ended."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if only_token is not None:
        query = query.where(UserSession.token_hash == _hash(only_token))
    if keep_token is not None:
        query = query.where(UserSession.token_hash != _hash(keep_token))
    result = db.session.execute(query.values(ended_at=utcnow(), end_reason=reason)
                                .execution_options(synchronize_session=False))
    return result.rowcount


def end_session(user: User) -> None:
    """Log out: the session this request runs in ends, and its cookies open nothing any more."""
    if user.session_token:
        _end(user, "logged_out", only_token=user.session_token)
        db.session.commit()


def end_other_sessions(user: User, reason: str) -> int:
    """End every session of `user` but the current one (after a password change); not committed."""
    return _end(user, reason, keep_token=user.session_token)


def end_all_sessions(user: User, reason: str) -> int:
    """End every session of `user`, the current one included (password reset); not committed."""
    return _end(user, reason)


def log_out_everywhere(user: User) -> int:
    """The user's "log out on every device": all their sessions end, audited; returns how many."""
    ended = end_all_sessions(user, "logged_out_everywhere")
    audit.record(user, "logged_out_everywhere", user, sessions_ended=ended)
    db.session.commit()
    return ended


def live_sessions(user: User) -> list[UserSession]:
    """The user's sessions that still open the site, newest first."""
    return list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None),
                                  UserSession.expires_at > utcnow())
        .order_by(UserSession.created_at.desc())
    ))
