"""Each domain brings its own rules to authz; together they are every rule the app asks about.

The behaviour of each rule is covered by the access matrix (tests/alliances/test_access_matrix.py) and
the domains' tests; these check the registration itself: nothing lost in moving the rules into the
domains, nothing asked for that no domain grants, and each rule where its domain is.
"""

from __future__ import annotations

import re
from pathlib import Path

from merchant_alliance import authz

PROJECT = Path(__file__).resolve().parent.parent

# (object, action) → the domain whose permissions.py grants it (an alliance's page is granted by two).
EXPECTED = {
    ("Street", "view"): {"accounts"}, ("Street", "manage"): {"accounts"},
    ("Street", "invite_officer"): {"accounts"}, ("Street", "view_audit"): {"accounts"},
    ("Street", "edit_guidelines"): {"projects"}, ("Street", "view_guidelines"): {"projects"},
    ("Alliance", "view"): {"accounts", "shops"}, ("Alliance", "view_register"): {"accounts"},
    ("Alliance", "invite"): {"accounts"}, ("Alliance", "invite_lead"): {"accounts"},
    ("Alliance", "confirm_lead"): {"accounts"}, ("Alliance", "view_audit"): {"accounts"},
    ("Alliance", "manage_shops"): {"shops"}, ("Alliance", "set_renewal_goal"): {"projects"},
    ("Alliance", "record_money"): {"funds"}, ("Alliance", "view_books"): {"funds"},
    ("Alliance", "view_receipts"): {"funds"}, ("Alliance", "request_expense"): {"funds"},
    ("Alliance", "approve_expense"): {"funds"}, ("Alliance", "pay_expense"): {"funds"},
    ("Alliance", "manage_pledges"): {"funds"}, ("Alliance", "edit_fund_rules"): {"funds"},
    ("Invitation", "revoke"): {"accounts"},
    ("Shop", "view"): {"shops"}, ("Shop", "edit"): {"shops"}, ("Shop", "invite_owner"): {"shops"},
    ("Shop", "propose"): {"shops"}, ("Signboard", "view"): {"shops"}, ("Signboard", "edit"): {"shops"},
    ("Photo", "view"): {"photos", "works", "reports"}, ("Document", "view"): {"photos", "works"},
    ("Project", "view"): {"projects"}, ("Project", "propose"): {"projects"},
    ("Project", "review"): {"projects"},
    ("Project", "withdraw"): {"projects"}, ("Project", "comment"): {"projects"}, ("Comment", "view"): {"projects"},
    ("Project", "manage_budget"): {"funds"},
    ("Street", "manage_safety"): {"safety"},
    ("Permit", "view"): {"safety"}, ("Permit", "submit"): {"safety"}, ("Permit", "decide"): {"safety"},
    ("Inspection", "view"): {"safety"}, ("Inspection", "inspect"): {"safety"},
    ("RectificationOrder", "view"): {"safety"}, ("RectificationOrder", "report_fixed"): {"safety"},
    ("RectificationOrder", "manage"): {"safety"},
    ("Certificate", "view"): {"safety"}, ("Certificate", "revoke"): {"safety"},
    ("Signboard", "close_as_removed"): {"safety"},
    ("Alliance", "manage_contractors"): {"works"}, ("Alliance", "view_contractors"): {"works"},
    ("Alliance", "view_works"): {"works"}, ("Contractor", "view"): {"works"}, ("Contractor", "edit"): {"works"},
    ("Project", "choose_contractor"): {"works"}, ("Project", "view_works"): {"works"},
    ("Quote", "view"): {"works"}, ("Quote", "answer"): {"works"}, ("Quote", "choose"): {"works"},
    ("WorkOrder", "view"): {"works"}, ("WorkOrder", "work"): {"works"}, ("WorkOrder", "accept"): {"works"},
    ("WorkOrder", "manage"): {"works"}, ("WorkOrder", "propose_change"): {"works"},
    ("WorkOrder", "raise_punch"): {"works"}, ("WorkOrder", "pay"): {"works"}, ("Milestone", "view"): {"works"},
    ("SiteLogEntry", "view"): {"works"}, ("PunchItem", "view"): {"works"}, ("ChangeOrder", "view"): {"works"},
    ("OrderPayment", "view"): {"works"},
    ("HazardReport", "view"): {"reports"}, ("HazardReport", "triage"): {"reports"},
    ("Street", "triage_reports"): {"reports"},
}


def registered(app) -> dict[tuple[str, str], set[str]]:
    """What the app's domains registered: (object, action) → the domains the granting rules come from."""
    return {(model.__name__, action): {rule.__module__.split(".")[1] for rule in grants}
            for (model, action), grants in authz.RULES.items()}


def test_every_rule_is_registered_by_its_domain(_bare_app):
    assert registered(_bare_app) == EXPECTED


def test_registering_again_adds_no_second_copy(_bare_app):
    from config import TestingConfig
    from merchant_alliance import create_app

    create_app(TestingConfig)  # a second app in the same process
    assert registered(_bare_app) == EXPECTED
    assert all(len(grants) == len(set(map(id, grants))) for grants in authz.RULES.values())


ASKED = re.compile(r"""(?:\bcan|\brequire|require_on_books|alliance_or_404|_project_or_404)\("""
                   r"""\s*[^,()]*(?:\([^()]*\))?[^,()]*,\s*["']([a-z_]+)["']""")


def actions_asked() -> set[str]:
    """Every action name the code and templates ask authz about."""
    found = set()
    for path in [*PROJECT.joinpath("merchant_alliance").rglob("*.py"), *PROJECT.joinpath("templates").rglob("*.html")]:
        found |= set(ASKED.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_action_the_code_asks_about_is_granted_by_some_domain(_bare_app):
    asked = actions_asked()
    assert len(asked) > 20  # the scan itself works
    assert asked - {action for _, action in EXPECTED} == set()
