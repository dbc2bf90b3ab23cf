"""The pooled fund: the append-only ledger, budgets and shares, pledges, expense requests, open books."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from merchant_alliance.accounts.models import Role


def init_app(app: Flask) -> None:
    """The fund's pages, rules, menu entries, cards on shop and project pages, checks and demo year."""
    from merchant_alliance import audit, authz, demo, doctor, navigation, panels
    from merchant_alliance.funds import budgets, checks, expenses, permissions, pledges, services, spending_views, views
    from merchant_alliance.funds import demo as funds_demo

    app.register_blueprint(views.bp)  # spending_views adds its routes to the same blueprint
    authz.add_rules(permissions.RULES)
    budgets.register_workflow_rows()  # the `fund` step of the projects' lifecycle
    for module in (services, pledges, budgets, expenses):
        audit.register_labels(module.AUDIT_LABELS, objects=module.AUDIT_OBJECTS)
    navigation.add([Role.ALLIANCE_LEAD, Role.TREASURER], _l("Fund"), "funds.overview",
                   lambda m, _: {"alliance_id": m.alliance_id}, order=50)
    navigation.add([Role.SHOP_OWNER], _l("My pledges and payments"), "funds.shop_money",
                   lambda m, _: {"shop_id": m.shop_id}, order=90)
    navigation.add([Role.SHOP_OWNER], _l("The alliance's books"), "funds.overview",
                   lambda m, lookups: {"alliance_id": lookups.alliance_of_shop[m.shop_id]}, order=95)
    panels.add("project", "funds/_project_panel.html", spending_views.project_panel)
    panels.add("shop", "funds/_shop_panel.html", spending_views.shop_panel)
    panels.add("home", "funds/_owner_home.html", views.owner_home_panel)
    panels.add("home", "funds/_lead_home.html", views.lead_home_panel)
    panels.add("home", "funds/_treasurer_home.html", views.treasurer_home_panel)
    for name, check in checks.CHECKS.items():
        doctor.register_check(name, check)
    demo.add_loader("fund entries", funds_demo.load)
