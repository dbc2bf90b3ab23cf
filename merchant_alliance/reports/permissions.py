"""Who may do what with hazard reports (registered by reports.init_app): the street's officers see and triage
its reports; the public sees only what the public pages show (nothing private), and a reporter follows their
own report by its private link."""

from __future__ import annotations

from merchant_alliance.authz import officer_of
from merchant_alliance.reports.models import HazardReport

RULES = {
    (HazardReport, "view"): lambda u, r: officer_of(u, r.street_id),
    (HazardReport, "triage"): lambda u, r: officer_of(u, r.street_id),
}
VISIBLE_WHEN = {HazardReport: "view"}
