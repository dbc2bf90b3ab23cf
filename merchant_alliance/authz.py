"""One place that answers "may this user do this to this object?".

Every view and service asks here. A user who may not even *see* an object gets a 404 from
`require`, so guessing ids in URLs reveals nothing; a user who may see it but not change it gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort

from merchant_alliance.accounts.models import Alliance, Invitation, Role, Street, User
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects.models import Comment, Project
from merchant_alliance.shops.models import Shop, Signboard

Rule = Callable[[User, Any], bool]


def _has(user: User, role: Role, **scope: int | None) -> bool:
    # A lead appointed by another lead holds nothing until the street office confirms the appointment.
    return any(
        m.role == role and not m.pending and all(getattr(m, k) == v for k, v in scope.items())
        for m in user.memberships
    )


def _admin(user: User) -> bool:
    return _has(user, Role.PLATFORM_ADMIN)


def _officer_of(user: User, street_id: int) -> bool:
    return _has(user, Role.STREET_OFFICER, street_id=street_id)


def _lead_of(user: User, alliance: Alliance) -> bool:
    return _has(user, Role.ALLIANCE_LEAD, alliance_id=alliance.id)


def _alliance_staff(user: User, alliance: Alliance) -> bool:
    return _lead_of(user, alliance) or _has(user, Role.TREASURER, alliance_id=alliance.id)


def _owns_shop_in(user: User, alliance: Alliance) -> bool:
    shop_ids = {m.shop_id for m in user.memberships if m.role == Role.SHOP_OWNER and not m.pending}
    return bool(shop_ids) and any(s in shop_ids for s in alliance_shop_ids(alliance, shop_ids))


def _member_on_street(user: User, street: Street) -> bool:
    """Anyone with a role in one of the street's alliances or shops."""
    from sqlalchemy import select

    from merchant_alliance.extensions import db

    alliance_ids = {m.alliance_id for m in user.memberships if m.alliance_id and not m.pending}
    shop_ids = {m.shop_id for m in user.memberships if m.shop_id}
    if not alliance_ids and not shop_ids:
        return False
    query = select(Alliance.id).where(Alliance.street_id == street.id).where(
        Alliance.id.in_(alliance_ids) | Alliance.id.in_(select(Shop.alliance_id).where(Shop.id.in_(shop_ids)))
    )
    return db.session.scalar(query.limit(1)) is not None


def _owner_or_lead(user: User, shop: Shop) -> bool:
    return _has(user, Role.SHOP_OWNER, shop_id=shop.id) or _lead_of(user, shop.alliance)


def alliance_shop_ids(alliance: Alliance, among: set[int | None]) -> set[int]:
    """Which of the shop ids `among` belong to `alliance` (one small query)."""
    from sqlalchemy import select

    from merchant_alliance.extensions import db

    ids = {i for i in among if i is not None}
    if not ids:
        return set()
    return set(db.session.scalars(select(Shop.id).where(Shop.alliance_id == alliance.id, Shop.id.in_(ids))))


RULES: dict[tuple[type, str], Rule] = {
    # Streets
    (Street, "view"): lambda u, s: _admin(u) or _officer_of(u, s.id),
    (Street, "manage"): lambda u, s: _admin(u),
    (Street, "invite_officer"): lambda u, s: _admin(u) or _officer_of(u, s.id),
    (Street, "view_audit"): lambda u, s: _admin(u) or _officer_of(u, s.id),
    # Alliances
    (Alliance, "view"): lambda u, a: (
        _admin(u) or _officer_of(u, a.street_id) or _alliance_staff(u, a)
        or _has(u, Role.CONTRACTOR, alliance_id=a.id) or _owns_shop_in(u, a)
    ),
    (Alliance, "view_register"): lambda u, a: _admin(u) or _officer_of(u, a.street_id) or _alliance_staff(u, a),
    (Alliance, "manage_shops"): lambda u, a: _admin(u) or _lead_of(u, a),
    (Alliance, "invite"): lambda u, a: _admin(u) or _lead_of(u, a),
    (Alliance, "invite_lead"): lambda u, a: _admin(u),
    # Someone outside the alliance's leadership confirms a lead appointed by another lead (two-lead
    # approval means nothing if one lead can appoint the second).
    (Alliance, "confirm_lead"): lambda u, a: _admin(u) or _officer_of(u, a.street_id),
    # Money: the treasurer records what arrives and what is paid out; every member sees the books,
    # but receipts (and later bank details) only the alliance's staff and the street office.
    (Alliance, "record_money"): lambda u, a: _has(u, Role.TREASURER, alliance_id=a.id),
    (Alliance, "view_books"): lambda u, a: (
        _admin(u) or _officer_of(u, a.street_id) or _alliance_staff(u, a) or _owns_shop_in(u, a)
    ),
    (Alliance, "view_receipts"): lambda u, a: _admin(u) or _officer_of(u, a.street_id) or _alliance_staff(u, a),
    # Spending: staff ask, leads approve (four eyes, checked in funds.expenses), the treasurer pays.
    (Alliance, "request_expense"): lambda u, a: _alliance_staff(u, a),
    (Alliance, "approve_expense"): lambda u, a: _lead_of(u, a),
    (Alliance, "pay_expense"): lambda u, a: _has(u, Role.TREASURER, alliance_id=a.id),
    (Alliance, "manage_pledges"): lambda u, a: _alliance_staff(u, a),
    (Alliance, "edit_fund_rules"): lambda u, a: _lead_of(u, a),
    (Alliance, "view_audit"): lambda u, a: _admin(u) or _officer_of(u, a.street_id) or _lead_of(u, a),
    # Shops
    (Shop, "view"): lambda u, s: (
        _admin(u) or _has(u, Role.SHOP_OWNER, shop_id=s.id)
        or _alliance_staff(u, s.alliance) or _officer_of(u, s.alliance.street_id)
    ),
    (Shop, "edit"): lambda u, s: _admin(u) or _lead_of(u, s.alliance),
    (Shop, "invite_owner"): lambda u, s: _admin(u) or _lead_of(u, s.alliance),
    (Shop, "propose"): lambda u, s: _owner_or_lead(u, s),
    # Signboards and renovation projects follow their shop; the alliance's leads review designs.
    (Signboard, "view"): lambda u, b: can(u, "view", b.shop),
    (Signboard, "edit"): lambda u, b: _owner_or_lead(u, b.shop),
    (Project, "view"): lambda u, p: can(u, "view", p.shop),
    (Project, "propose"): lambda u, p: _owner_or_lead(u, p.shop),
    (Project, "review"): lambda u, p: _lead_of(u, p.alliance),
    # Withdrawing is the shop's decision (or whoever proposed on its behalf), not the reviewer's.
    (Project, "withdraw"): lambda u, p: _has(u, Role.SHOP_OWNER, shop_id=p.shop_id) or p.created_by_id == u.id,
    (Project, "comment"): lambda u, p: can(u, "view", p.shop),
    (Project, "manage_budget"): lambda u, p: _lead_of(u, p.alliance),
    (Comment, "view"): lambda u, c: can(u, "view", c.project),
    (Street, "edit_guidelines"): lambda u, s: _admin(u) or _officer_of(u, s.id),
    (Street, "view_guidelines"): lambda u, s: _admin(u) or _officer_of(u, s.id) or _member_on_street(u, s),
    # Photos: a shop's photos go with the shop; the alliance's own with its register. (Public ones: can_view_photo.)
    (Photo, "view"): lambda u, p: (
        p.public or (can(u, "view", p.shop) if p.shop is not None else can(u, "view_register", p.alliance))
    ),
    # Invitations: whoever may issue one at that scope may see and revoke it.
    (Invitation, "revoke"): lambda u, i: may_invite(u, i.role, shop=i.shop, alliance=i.alliance, street=i.street),
}

# Which action on the parent object, if refused, means the object should look absent (404).
VISIBILITY = {Street: "view", Alliance: "view", Shop: "view", Photo: "view", Signboard: "view", Project: "view"}


def can(user: User | None, action: str, obj: Any) -> bool:
    """True when `user` may do `action` to `obj`. Anonymous users may do nothing here."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    rule = RULES.get((type(obj), action))
    if rule is None:
        raise KeyError(f"No authorization rule for {type(obj).__name__}.{action}")
    return bool(rule(user, obj))


def can_view_photo(user: User | None, photo: Photo) -> bool:
    """Public photos are for everyone, anonymous visitors included; any other follows the rules above."""
    return photo.public or can(user, "view", photo)


def require(user: User | None, action: str, obj: Any) -> None:
    """Abort with 404 when `user` may not see `obj`, 403 when they may see it but not do `action`."""
    if can(user, action, obj):
        return
    view_action = VISIBILITY.get(type(obj))
    if view_action and view_action != action and can(user, view_action, obj):
        abort(403)
    abort(404)


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
        return _admin(user)
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
