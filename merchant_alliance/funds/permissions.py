"""Who may do what with the alliance's money (registered by funds.init_app).

The treasurer records what arrives and what is paid out; every member sees the books, but receipts
and bank details only the alliance's staff and the street office. Spending: staff ask, leads approve
(four eyes, checked in funds.expenses), the treasurer pays.
"""

from __future__ import annotations

from merchant_alliance.accounts.models import Alliance
from merchant_alliance.authz import admin, alliance_staff, lead_of, officer_of, treasurer_of
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.permissions import owns_shop_in

RULES = {
    (Alliance, "record_money"): lambda u, a: treasurer_of(u, a),
    (Alliance, "view_books"): lambda u, a: (
        admin(u) or officer_of(u, a.street_id) or alliance_staff(u, a) or owns_shop_in(u, a)
    ),
    (Alliance, "view_receipts"): lambda u, a: admin(u) or officer_of(u, a.street_id) or alliance_staff(u, a),
    (Alliance, "request_expense"): lambda u, a: alliance_staff(u, a),
    (Alliance, "approve_expense"): lambda u, a: lead_of(u, a),
    (Alliance, "pay_expense"): lambda u, a: treasurer_of(u, a),
    (Alliance, "manage_pledges"): lambda u, a: alliance_staff(u, a),
    (Alliance, "edit_fund_rules"): lambda u, a: lead_of(u, a),
    (Project, "manage_budget"): lambda u, p: lead_of(u, p.alliance),
}
