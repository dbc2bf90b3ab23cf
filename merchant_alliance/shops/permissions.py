"""Who may do what to shops and signboards, and which alliances a shop's owner sees (registered by
shops.init_app)."""

from __future__ import annotations

from sqlalchemy import select

from merchant_alliance.accounts.models import Alliance, Street, User
from merchant_alliance.authz import admin, alliance_staff, can, lead_of, officer_of, owned_shop_ids, owns_shop
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop, Signboard


def owns_shop_in(user: User, alliance: Alliance) -> bool:
    """The user owns one of the alliance's shops (their memberships' shops come loaded with the request's user)."""
    shop_ids = owned_shop_ids(user)
    return any(m.shop.alliance_id == alliance.id for m in user.memberships if m.shop_id in shop_ids)


def member_on_street(user: User, street: Street) -> bool:
    """Anyone with a role in one of the street's alliances or shops."""
    alliance_ids = {m.alliance_id for m in user.memberships if m.alliance_id and not m.pending}
    shop_ids = {m.shop_id for m in user.memberships if m.shop_id}
    if not alliance_ids and not shop_ids:
        return False
    query = select(Alliance.id).where(Alliance.street_id == street.id).where(
        Alliance.id.in_(alliance_ids) | Alliance.id.in_(select(Shop.alliance_id).where(Shop.id.in_(shop_ids)))
    )
    return db.session.scalar(query.limit(1)) is not None


def owner_or_lead(user: User, shop: Shop) -> bool:
    return owns_shop(user, shop.id) or lead_of(user, shop.alliance)


RULES = {
    (Alliance, "view"): owns_shop_in,  # besides its staff (accounts): the owners of its shops
    (Alliance, "manage_shops"): lambda u, a: admin(u) or lead_of(u, a),
    (Shop, "view"): lambda u, s: (
        admin(u) or owns_shop(u, s.id) or alliance_staff(u, s.alliance) or officer_of(u, s.alliance.street_id)
    ),
    (Shop, "edit"): lambda u, s: admin(u) or lead_of(u, s.alliance),
    (Shop, "invite_owner"): lambda u, s: admin(u) or lead_of(u, s.alliance),
    (Shop, "propose"): owner_or_lead,
    # Signboards follow their shop.
    (Signboard, "view"): lambda u, b: can(u, "view", b.shop),
    (Signboard, "edit"): lambda u, b: owner_or_lead(u, b.shop),
}
VISIBLE_WHEN = {Shop: "view", Signboard: "view"}
