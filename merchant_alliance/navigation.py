"""Per-role navigation: what a user's menu shows, derived from their memberships."""

from __future__ import annotations

from dataclasses import dataclass

from flask import url_for
from flask_babel import gettext as _

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

    memberships = sorted(user.memberships, key=lambda m: (m.role != Role.PLATFORM_ADMIN, m.id))
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
    return items
