"""What the shop register and the shop page list: read-only, one query each, nothing written."""

from __future__ import annotations

from sqlalchemy import func, select

from merchant_alliance.accounts.models import Alliance, Invitation, Membership
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop


def register_rows(alliance: Alliance, *, show: str = "active", search: str = "") -> list:
    """The alliance's register: rows of a shop's columns and its number of owners, by house number.

    `show` is "active", "inactive" or "all"; `search` matches the name or the house number (literally: % and _
    are not wildcards).
    """
    # Counted per shop of this alliance through the index on shop_id, not grouped over every membership of
    # the district (which grew the page with the number of shops elsewhere).
    owners = select(func.count(Membership.id)).where(Membership.shop_id == Shop.id).correlate(Shop).scalar_subquery()
    query = (
        select(Shop.id, Shop.name, Shop.house_number, Shop.business_type, Shop.contact_phone,
               Shop.facade_width_m, Shop.active, owners.label("owners"))
        .where(Shop.alliance_id == alliance.id)
    )
    if show != "all":
        query = query.where(Shop.active.is_(show != "inactive"))
    if search:
        query = query.where(Shop.name.contains(search, autoescape=True)
                            | Shop.house_number.contains(search, autoescape=True))
    # House numbers sort by their leading number, so 99 comes before 1018.
    return list(db.session.execute(query.order_by(func.length(Shop.house_number), Shop.house_number)).all())


def invitations_of(shop: Shop) -> list[Invitation]:
    """Every invitation issued for the shop, newest first."""
    return list(db.session.scalars(
        select(Invitation).where(Invitation.shop_id == shop.id).order_by(Invitation.created_at.desc())))
