"""People and organisation: streets, alliances, users, scoped role memberships, invitations."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merchant_alliance.extensions import db, value_enum
from merchant_alliance.i18n import N_
from merchant_alliance.pagecache import scopes_of_role_scope
from merchant_alliance.timeutil import utcnow


class Role(enum.StrEnum):
    SHOP_OWNER = "shop_owner"
    ALLIANCE_LEAD = "alliance_lead"
    TREASURER = "treasurer"
    STREET_OFFICER = "street_officer"
    CONTRACTOR = "contractor"
    PLATFORM_ADMIN = "platform_admin"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])

    @property
    def scope(self) -> str:
        """Which kind of object a membership in this role is scoped to."""
        return ROLE_SCOPES[self]


# The msgids, for text stored now and translated when read (notifications); labels for everything else.
ROLE_NAMES = {
    Role.SHOP_OWNER: N_("Shop owner"),
    Role.ALLIANCE_LEAD: N_("Alliance lead"),
    Role.TREASURER: N_("Alliance treasurer"),
    Role.STREET_OFFICER: N_("Street safety officer"),
    Role.CONTRACTOR: N_("Contractor"),
    Role.PLATFORM_ADMIN: N_("Platform administrator"),
}
ROLE_LABELS = {role: _l(name) for role, name in ROLE_NAMES.items()}

ROLE_SCOPES = {
    Role.SHOP_OWNER: "shop",
    Role.ALLIANCE_LEAD: "alliance",
    Role.TREASURER: "alliance",
    Role.STREET_OFFICER: "street",
    Role.CONTRACTOR: "alliance",
    Role.PLATFORM_ADMIN: "platform",
}


RoleType = value_enum(Role)


class Street(db.Model):
    __tablename__ = "streets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    district: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alliances: Mapped[list[Alliance]] = relationship(back_populates="street", order_by="Alliance.name")

    def __repr__(self) -> str:
        return f"<Street {self.id} {self.name}>"


class Alliance(db.Model):
    __tablename__ = "alliances"
    __table_args__ = (db.UniqueConstraint("street_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("streets.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    road: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How many signs the alliance means to renew, set by its lead; the lead's home shows the progress to it.
    renewal_goal: Mapped[int | None]

    street: Mapped[Street] = relationship(back_populates="alliances")

    def __repr__(self) -> str:
        return f"<Alliance {self.id} {self.name}>"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    __cache_ignores__ = frozenset({"password_hash", "locale", "last_login_at"})  # shown on no page

    # Loaded with the request's user in its one query (accounts.sessions.user_for_token); any other user
    # shown on a page (an author, a creator) never needs them.
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan",
        foreign_keys="Membership.user_id",
    )

    # The token of the session this request runs in (set by the login and the session loader); not stored.
    session_token = None
    # What the session loader read with this user for every page (accounts.sessions.read_with_user); not stored.
    read_with: dict = {}  # noqa: RUF012 - replaced per loaded user, never mutated

    def get_session_token(self) -> str:
        """What Flask-Login keeps in the session and remember cookies: the server-side session's token."""
        if not self.session_token:
            raise RuntimeError("log in through accounts.sessions.start_session, which creates the session")
        return self.session_token

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def login_name(self) -> str:
        return self.phone or self.email or ""

    def roles_in(self, **scope: int | None) -> set[Role]:
        """The roles this user holds at exactly this scope (shop_id=…, alliance_id=…, street_id=…)."""
        return {
            m.role for m in self.memberships
            if all(getattr(m, key) == value for key, value in scope.items())
        }

    @property
    def is_platform_admin(self) -> bool:
        return any(m.role == Role.PLATFORM_ADMIN for m in self.memberships)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.name}>"


class Membership(db.Model):
    """A user's role, scoped to one shop, one alliance or one street (platform admins: no scope)."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN shop_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN alliance_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN street_id IS NULL THEN 0 ELSE 1 END) <= 1",
            name="one_scope",
        ),
        Index("ix_memberships_scope", "role", "shop_id", "alliance_id", "street_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(RoleType)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    alliance_id: Mapped[int | None] = mapped_column(ForeignKey("alliances.id"), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # None while an alliance lead appointed by another lead waits for the street office to confirm it
    # (see accounts.services.confirm_lead); a pending membership gives no powers at all.
    confirmed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    alliance: Mapped[Alliance | None] = relationship(foreign_keys=[alliance_id])
    shop = relationship("Shop", foreign_keys=[shop_id])

    @property
    def pending(self) -> bool:
        return self.confirmed_at is None

    def cache_scopes(self) -> set[str]:
        return scopes_of_role_scope(self)

    def __repr__(self) -> str:
        return f"<Membership {self.role} user={self.user_id}>"


class PasswordResetRequest(db.Model):
    """Someone asked for a reset link for this address. The request only writes this row, known address or
    not, so both answers do the same work and take the same time; the outbox's sender looks the address
    up later and queues the link if an account uses it."""

    __tablename__ = "password_reset_requests"
    __cached__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))  # as typed, normalised when it is an address
    ip: Mapped[str] = mapped_column(String(45), default="")
    locale: Mapped[str] = mapped_column(String(10), default="")  # the language the email is written in
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    handled_at: Mapped[datetime | None]  # when the outbox's sender looked the address up


class Invitation(db.Model):
    """A one-time link that grants a role at a scope to whoever accepts it before it expires."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(RoleType)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    alliance_id: Mapped[int | None] = mapped_column(ForeignKey("alliances.id"), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("streets.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]

    invited_by: Mapped[User] = relationship(foreign_keys=[invited_by_id])
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id])
    shop = relationship("Shop")
    alliance: Mapped[Alliance | None] = relationship()
    street: Mapped[Street | None] = relationship()

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.accepted_at:
            return "accepted"
        if self.expires_at <= utcnow():
            return "expired"
        return "pending"

    @property
    def is_usable(self) -> bool:
        return self.status == "pending"

    def cache_scopes(self) -> set[str]:
        return scopes_of_role_scope(self)


class UserSession(db.Model):
    """One logged-in browser: the server's record that its cookies are still good.

    The cookies carry a random token; only its SHA-256 is stored. Logging out, changing or resetting
    the password and "log out everywhere" end sessions here, so a copied cookie opens nothing after.
    """

    __tablename__ = "user_sessions"
    __cached__ = False
    __table_args__ = (Index("ix_user_sessions_user_live", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    remember: Mapped[bool] = mapped_column(default=False)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(30))
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"<UserSession {self.id} user={self.user_id}>"
