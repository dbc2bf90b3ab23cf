"""What the home page shows: read-only, one query per kind of place, nothing written."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload

from merchant_alliance.accounts.models import Alliance, Role, Street, User
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop


def alliances_on_the_landing_page() -> list:
    """Every alliance with its street and its number of active shops, by street then name."""
    return list(db.session.execute(
        select(Alliance.name, Street.name.label("street"), func.count(Shop.id).label("shops"))
        .join(Street, Alliance.street_id == Street.id)
        .outerjoin(Shop, (Shop.alliance_id == Alliance.id) & Shop.active)
        .group_by(Alliance.id, Street.name).order_by(Street.name, Alliance.name)
    ).all())


def dashboard_for(user: User) -> dict:
    """The places this user's roles give them, loaded in one query per kind: shops, alliances, streets, the
    alliances where an appointment waits for confirmation, and the roles held."""
    by_role: dict[Role, set[int]] = {}
    awaiting = {m.alliance_id for m in user.memberships if m.pending}
    for m in user.memberships:
        if not m.pending:
            by_role.setdefault(m.role, set()).add(m.shop_id or m.alliance_id or m.street_id or 0)
    shop_ids = by_role.get(Role.SHOP_OWNER, set())
    alliance_roles = (Role.ALLIANCE_LEAD, Role.TREASURER, Role.CONTRACTOR)
    alliance_ids = set().union(*(by_role.get(r, set()) for r in alliance_roles))
    street_ids = by_role.get(Role.STREET_OFFICER, set())
    shops = _load(select(Shop).options(joinedload(Shop.alliance)).where(Shop.id.in_(shop_ids))
                  .order_by(Shop.house_number), shop_ids)
    # The alliances come loaded with the memberships (see accounts.sessions.user_for_token).
    held = {m.alliance_id: m.alliance for m in user.memberships if m.alliance is not None}
    alliances = sorted((held[i] for i in alliance_ids if i in held), key=lambda a: a.name)
    streets = _load(select(Street).where(Street.id.in_(street_ids)).order_by(Street.name), street_ids)
    awaiting_alliances = sorted((held[i] for i in awaiting if i in held), key=lambda a: a.name)
    return {"shops": shops, "alliances": alliances, "streets": streets, "awaiting": awaiting_alliances,
            "is_admin": Role.PLATFORM_ADMIN in by_role, "roles": sorted(by_role, key=list(Role).index)}


def _load(query, ids: set[int]) -> list:
    return list(db.session.scalars(query)) if ids else []


def check_database() -> None:
    """Ask the database a trivial question: raises when it cannot be reached."""
    db.session.execute(text("SELECT 1"))
