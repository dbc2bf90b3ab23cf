"""What the street and alliance pages list: read-only, one query each, nothing written."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from merchant_alliance import audit
from merchant_alliance.accounts import services as accounts
from merchant_alliance.accounts.models import Alliance, Invitation, Membership, Street, User
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop

RECENT_INVITATIONS = 50


def streets_with_alliance_counts() -> list:
    """Every street, by name, as rows of (street, how many alliances it has)."""
    return list(db.session.execute(
        select(Street, func.count(Alliance.id)).outerjoin(Alliance).group_by(Street.id).order_by(Street.name)
    ).all())


def alliances_of_street(street: Street) -> list:
    """The street's alliances, by name, as rows of (alliance, how many active shops it has)."""
    return list(db.session.execute(
        select(Alliance, func.count(Shop.id))
        .outerjoin(Shop, (Shop.alliance_id == Alliance.id) & Shop.active)
        .where(Alliance.street_id == street.id)
        .group_by(Alliance.id)
        .order_by(Alliance.name)
    ).all())


def active_shop_count(alliance: Alliance) -> int:
    """How many of the alliance's shops are active."""
    return db.session.scalar(select(func.count(Shop.id)).where(Shop.alliance_id == alliance.id, Shop.active)) or 0


def members_at(*, street: Street | None = None, alliance: Alliance | None = None) -> list[tuple[Membership, User]]:
    """The roles held at the street or at the alliance itself (not at its shops), by role then name."""
    scope = Membership.street_id == street.id if street is not None else Membership.alliance_id == alliance.id
    return list(db.session.execute(
        select(Membership, User).join(User, Membership.user_id == User.id).where(scope)
        .order_by(Membership.role, User.name)
    ).all())


def recent_invitations(*, street: Street | None = None, alliance: Alliance | None = None) -> list[Invitation]:
    """The latest invitations issued at the street, or at the alliance and its shops, newest first."""
    return list(db.session.scalars(
        accounts.invitations_at(street=street, alliance=alliance).limit(RECENT_INVITATIONS)))


def audit_events(scope: Alliance | Street) -> Select:
    """A select() of the audit events an alliance's or a street's log shows, newest first (for db.paginate)."""
    if isinstance(scope, Street):
        return audit.events_for_scope(street_id=scope.id)
    return audit.events_for_scope(alliance_ids=[scope.id])
