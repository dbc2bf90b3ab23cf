"""Per-role navigation: what a user's menu shows, derived from their memberships.

Each domain adds its menu entries from its `init_app` (`add`); the menu lists, for each of the user's
roles, the entries for that role in their `order`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from flask import url_for
from flask_babel import gettext as _

from merchant_alliance.accounts.models import Membership, Role, User


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    endpoint: str


class Lookups:
    """What entries may need to build their links, from what the user's memberships already hold."""

    def __init__(self, memberships: list[Membership]) -> None:
        self._memberships = memberships

    @cached_property
    def alliance_of_shop(self) -> dict[int, int]:
        """shop id → its alliance's id (the shops come loaded with the request's user: no query)."""
        return {m.shop_id: m.shop.alliance_id for m in self._memberships if m.role == Role.SHOP_OWNER and m.shop}


@dataclass(frozen=True)
class NavEntry:
    roles: frozenset[Role]
    label: Any  # a lazy string
    endpoint: str
    values: Callable[[Membership, Lookups], dict]  # the link's URL values
    order: int


ENTRIES: list[NavEntry] = []


def add(roles: Iterable[Role], label: Any, endpoint: str, values: Callable[[Membership, Lookups], dict],
        order: int) -> None:
    """A menu entry for users holding one of `roles`; registering the same entry again changes nothing."""
    entry = NavEntry(frozenset(roles), label, endpoint, values, order)
    if all((e.endpoint, e.roles) != (entry.endpoint, entry.roles) for e in ENTRIES):
        ENTRIES.append(entry)
        ENTRIES.sort(key=lambda e: e.order)


def items_for(user: User) -> list[NavItem]:
    """The menu for `user`: one entry per place their roles give them."""
    items = [NavItem(_("Home"), url_for("public.index"), "public.index")]
    seen: set[str] = set()
    # A lead appointment waiting for the street office's confirmation opens nothing yet.
    memberships = sorted((m for m in user.memberships if not m.pending),
                         key=lambda m: (m.role != Role.PLATFORM_ADMIN, m.id))
    lookups = Lookups(memberships)
    for membership in memberships:
        for entry in ENTRIES:
            if membership.role in entry.roles:
                url = url_for(entry.endpoint, **entry.values(membership, lookups))
                if url not in seen:
                    seen.add(url)
                    items.append(NavItem(str(entry.label), url, entry.endpoint))
    return items
