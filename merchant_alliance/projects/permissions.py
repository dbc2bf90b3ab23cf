"""Who may do what to renovation proposals, their comments and the street's design guidelines
(registered by projects.init_app)."""

from __future__ import annotations

from merchant_alliance.accounts.models import Alliance, Street
from merchant_alliance.authz import admin, can, lead_of, officer_of, owns_shop
from merchant_alliance.projects.models import Comment, Project
from merchant_alliance.shops.permissions import member_on_street, owner_or_lead

RULES = {
    # Proposals follow their shop; the alliance's leads review designs.
    (Project, "view"): lambda u, p: can(u, "view", p.shop),
    (Project, "propose"): lambda u, p: owner_or_lead(u, p.shop),
    (Project, "review"): lambda u, p: lead_of(u, p.alliance),
    # Withdrawing is the shop's decision (or whoever proposed on its behalf), not the reviewer's.
    (Project, "withdraw"): lambda u, p: owns_shop(u, p.shop_id) or p.created_by_id == u.id,
    (Project, "comment"): lambda u, p: can(u, "view", p.shop),
    (Comment, "view"): lambda u, c: can(u, "view", c.project),
    (Street, "edit_guidelines"): lambda u, s: admin(u) or officer_of(u, s.id),
    (Street, "view_guidelines"): lambda u, s: admin(u) or officer_of(u, s.id) or member_on_street(u, s),
    # How many signs the alliance means to renew is its leads' own goal.
    (Alliance, "set_renewal_goal"): lambda u, a: lead_of(u, a),
}
VISIBLE_WHEN = {Project: "view"}
