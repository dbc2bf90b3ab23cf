"""Who may do what in street safety (registered by safety.init_app).

The street office guarantees the safety floor: only officers of the sign's street edit checklists, decide
permits, inspect and issue certificates (a platform admin manages accounts, not signs). The shop (or its
alliance's lead) asks for permits and reports rectified items; whoever may see the shop sees its results.
An officer of another street gets what a made-up id gets.
"""

from __future__ import annotations

from merchant_alliance.accounts.models import Street
from merchant_alliance.authz import can, officer_of
from merchant_alliance.safety.models import Certificate, Inspection, Permit, RectificationOrder
from merchant_alliance.shops.models import Signboard
from merchant_alliance.shops.permissions import owner_or_lead


def officer_of_project(user, project) -> bool:
    """An officer of the project's street: who decides its permit and inspects its sign (a who-rule of the
    lifecycle rows the safety domain adds)."""
    return officer_of(user, project.alliance.street_id)


def _sees_shop(user, record) -> bool:
    return can(user, "view", record.shop) or officer_of(user, record.street_id)


RULES = {
    (Street, "manage_safety"): lambda u, s: officer_of(u, s.id),  # checklists, settings, the officer's home
    (Permit, "view"): lambda u, p: can(u, "view", p.project) or officer_of(u, p.street_id),
    (Permit, "submit"): lambda u, p: can(u, "propose", p.project),
    (Permit, "decide"): lambda u, p: officer_of(u, p.street_id),
    (Inspection, "view"): _sees_shop,
    (Inspection, "inspect"): lambda u, i: officer_of(u, i.street_id),
    (RectificationOrder, "view"): _sees_shop,
    (RectificationOrder, "report_fixed"): lambda u, r: owner_or_lead(u, r.shop),
    (RectificationOrder, "manage"): lambda u, r: officer_of(u, r.street_id),
    (Certificate, "view"): _sees_shop,
    (Certificate, "revoke"): lambda u, c: officer_of(u, c.street_id),
    # A sign taken down is closed in the registry by its shop (or its lead) or by the street's officer.
    (Signboard, "close_as_removed"): lambda u, b: owner_or_lead(u, b.shop) or officer_of(u, b.street_id),
}
VISIBLE_WHEN = {Permit: "view", Inspection: "view", RectificationOrder: "view", Certificate: "view"}
