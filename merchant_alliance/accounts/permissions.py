"""Who may do what to streets, alliances and invitations (registered with authz by accounts.init_app)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from merchant_alliance.accounts.models import Alliance, Invitation, Role, Street, User
from merchant_alliance.authz import admin, alliance_staff, can, has, lead_of, officer_of

if TYPE_CHECKING:
    from merchant_alliance.shops.models import Shop

RULES = {
    (Street, "view"): lambda u, s: admin(u) or officer_of(u, s.id),
    (Street, "manage"): lambda u, s: admin(u),
    (Street, "invite_officer"): lambda u, s: admin(u) or officer_of(u, s.id),
    (Street, "view_audit"): lambda u, s: admin(u) or officer_of(u, s.id),
    # An alliance is seen by its staff, its contractors and the street office (its shops' owners: shops).
    (Alliance, "view"): lambda u, a: (
        admin(u) or officer_of(u, a.street_id) or alliance_staff(u, a) or has(u, Role.CONTRACTOR, alliance_id=a.id)
    ),
    (Alliance, "view_register"): lambda u, a: admin(u) or officer_of(u, a.street_id) or alliance_staff(u, a),
    (Alliance, "invite"): lambda u, a: admin(u) or lead_of(u, a),
    (Alliance, "invite_lead"): lambda u, a: admin(u),
    # Someone outside the alliance's leadership confirms a lead appointed by another lead (two-lead
    # approval means nothing if one lead can appoint the second).
    (Alliance, "confirm_lead"): lambda u, a: admin(u) or officer_of(u, a.street_id),
    (Alliance, "view_audit"): lambda u, a: admin(u) or officer_of(u, a.street_id) or lead_of(u, a),
    # Invitations: whoever may issue one at that scope may see and revoke it.
    (Invitation, "revoke"): lambda u, i: may_invite(u, i.role, shop=i.shop, alliance=i.alliance, street=i.street),
}
VISIBLE_WHEN = {Street: "view", Alliance: "view"}


def may_invite(user: User, role: Role, *, shop: Shop | None = None, alliance: Alliance | None = None,
               street: Street | None = None) -> bool:
    """May `user` invite someone into `role` at this scope?"""
    if role == Role.SHOP_OWNER and shop is not None:
        return can(user, "invite_owner", shop)
    if role == Role.ALLIANCE_LEAD and alliance is not None:
        return can(user, "invite_lead", alliance) or can(user, "invite", alliance)
    if role in (Role.TREASURER, Role.CONTRACTOR) and alliance is not None:
        return can(user, "invite", alliance)
    if role == Role.STREET_OFFICER and street is not None:
        return can(user, "invite_officer", street)
    if role == Role.PLATFORM_ADMIN:
        return admin(user)
    return False


def invitable_roles(user: User, *, shop: Shop | None = None, alliance: Alliance | None = None,
                    street: Street | None = None) -> list[Role]:
    """The roles `user` may invite someone into at this scope, for building the invitation form."""
    candidates = {
        "shop": [Role.SHOP_OWNER],
        "alliance": [Role.ALLIANCE_LEAD, Role.TREASURER, Role.CONTRACTOR],
        "street": [Role.STREET_OFFICER],
    }
    scope = "shop" if shop else "alliance" if alliance else "street" if street else None
    if scope is None:
        return []
    return [r for r in candidates[scope] if may_invite(user, r, shop=shop, alliance=alliance, street=street)]
