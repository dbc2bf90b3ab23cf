"""Per-role navigation: what a user's menu shows, derived from their memberships."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from merchant_alliance.accounts.models import Role, User


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    endpoint: str


def items_for(user: User) -> list[NavItem]:
    """The menu for `user`: one entry per place their roles give them."""
    items = [NavItem(_("Home"), url_for("public.index"), "public.index")]
    seen: set[str] = set()

    def add(label: str, endpoint: str, **values: int) -> None:
        url = url_for(endpoint, **values)
        if url not in seen:
            seen.add(url)
            items.append(NavItem(label, url, endpoint))

    # A lead appointment waiting for the street office's confirmation opens nothing yet.
    memberships = sorted((m for m in user.memberships if not m.pending),
                         key=lambda m: (m.role != Role.PLATFORM_ADMIN, m.id))
    alliance_of_shop = _alliances_of_shops([m.shop_id for m in memberships if m.role == Role.SHOP_OWNER])
    for m in memberships:
        if m.role == Role.PLATFORM_ADMIN:
            add(_("Streets"), "alliances.streets")
        elif m.role == Role.STREET_OFFICER:
            add(_("My street"), "alliances.street", street_id=m.street_id)
            add(_("Design guidelines"), "projects.guidelines", street_id=m.street_id)
        elif m.role in (Role.ALLIANCE_LEAD, Role.TREASURER, Role.CONTRACTOR):
            add(_("My alliance"), "alliances.alliance", alliance_id=m.alliance_id)
            if m.role != Role.CONTRACTOR:
                add(_("Renovation projects"), "projects.alliance_projects", alliance_id=m.alliance_id)
                add(_("Fund"), "funds.overview", alliance_id=m.alliance_id)
                add(_("Shop register"), "shops.register", alliance_id=m.alliance_id)
        elif m.role == Role.SHOP_OWNER:
            add(_("My shop"), "shops.shop", shop_id=m.shop_id)
            add(_("My renovation projects"), "projects.mine")
            add(_("My pledges and payments"), "funds.shop_money", shop_id=m.shop_id)
            add(_("The alliance's books"), "funds.overview", alliance_id=alliance_of_shop[m.shop_id])
    return items


def _alliances_of_shops(shop_ids: list[int]) -> dict[int, int]:
    """shop id → its alliance's id, in one query (none when the user owns no shop)."""
    if not shop_ids:
        return {}
    from merchant_alliance.extensions import db
    from merchant_alliance.shops.models import Shop

    return dict(db.session.execute(select(Shop.id, Shop.alliance_id).where(Shop.id.in_(shop_ids))).all())
