"""The engine that answers "may this user do this to this object?".

Every view and service asks here; each domain declares its own rules in `<domain>/permissions.py` and
registers them from its `init_app` (`add_rules`). Several domains may grant the same action: an
alliance's page is open to its staff (accounts) and to the owners of its shops (shops), and the
answer is yes when any grant says yes. A user who may not even *see* an object gets a 404 from
`require`, so guessing ids in URLs reveals nothing; a user who may see it but not change it gets 403.

Knows only accounts: the predicates below ask about a user's roles, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import abort

from merchant_alliance.accounts.models import Alliance, Role, User

Rule = Callable[[User, Any], bool]

RULES: dict[tuple[type, str], list[Rule]] = {}
# Which action on an object, if refused, means the object should look absent (404).
VISIBILITY: dict[type, str] = {}


def add_rules(rules: Mapping[tuple[type, str], Rule], visible_when: Mapping[type, str] | None = None) -> None:
    """Register a domain's grants (`{(Model, action): rule}`), and which action makes its objects visible.

    Registering the same rule again changes nothing (an app built twice in one process)."""
    for key, rule in rules.items():
        grants = RULES.setdefault(key, [])
        if rule not in grants:
            grants.append(rule)
    VISIBILITY.update(visible_when or {})


def can(user: User | None, action: str, obj: Any) -> bool:
    """True when `user` may do `action` to `obj`. Anonymous users may do nothing here."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    grants = RULES.get((type(obj), action))
    if not grants:
        raise KeyError(f"No authorization rule for {type(obj).__name__}.{action}")
    return any(rule(user, obj) for rule in grants)


def require(user: User | None, action: str, obj: Any) -> None:
    """Abort with 404 when `user` may not see `obj`, 403 when they may see it but not do `action`."""
    if can(user, action, obj):
        return
    view_action = VISIBILITY.get(type(obj))
    if view_action and view_action != action and can(user, view_action, obj):
        abort(403)
    abort(404)


# --- predicates on a user's roles, for the domains' rules ------------------------------------------


def has(user: User, role: Role, **scope: int | None) -> bool:
    # A lead appointed by another lead holds nothing until the street office confirms the appointment.
    return any(
        m.role == role and not m.pending and all(getattr(m, k) == v for k, v in scope.items())
        for m in user.memberships
    )


def admin(user: User) -> bool:
    return has(user, Role.PLATFORM_ADMIN)


def officer_of(user: User, street_id: int) -> bool:
    return has(user, Role.STREET_OFFICER, street_id=street_id)


def lead_of(user: User, alliance: Alliance) -> bool:
    return has(user, Role.ALLIANCE_LEAD, alliance_id=alliance.id)


def treasurer_of(user: User, alliance: Alliance) -> bool:
    return has(user, Role.TREASURER, alliance_id=alliance.id)


def alliance_staff(user: User, alliance: Alliance) -> bool:
    return lead_of(user, alliance) or treasurer_of(user, alliance)


def owns_shop(user: User, shop_id: int) -> bool:
    return has(user, Role.SHOP_OWNER, shop_id=shop_id)


def owned_shop_ids(user: User) -> set[int]:
    return {m.shop_id for m in user.memberships if m.role == Role.SHOP_OWNER and not m.pending and m.shop_id}
