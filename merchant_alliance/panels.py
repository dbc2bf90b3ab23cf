"""Cards that other domains add to a page (the money card on a shop's page, its projects on the same page).

A domain adds its card from its `init_app`; the page's view asks for the cards of its page and never
imports the domains that provide them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Context = Callable[[Any, Any], dict]

PANELS: dict[str, list[tuple[str, Context]]] = {}


def add(page: str, template: str, context: Context) -> None:
    """Show `template` on `page` ("shop", "project"), rendered with `context(obj, user)`."""
    cards = PANELS.setdefault(page, [])
    if (template, context) not in cards:
        cards.append((template, context))


def for_page(page: str, obj: Any, user: Any) -> list[tuple[str, dict]]:
    """Each card of `page` with its context; a card whose context is empty has nothing to show."""
    return [(template, context) for template, build in PANELS.get(page, []) if (context := build(obj, user))]
