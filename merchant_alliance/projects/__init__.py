"""Renovation proposals: design versions, guideline checks, comments, the lifecycle and timeline."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from merchant_alliance.accounts.models import Role


def init_app(app: Flask) -> None:
    """Proposal pages, rules, menu entries, the shop page's card of projects, the demo's proposals."""
    from merchant_alliance import audit, authz, demo, navigation, panels
    from merchant_alliance.projects import demo as projects_demo
    from merchant_alliance.projects import lifecycle, permissions, views
    from merchant_alliance.projects.models import ProjectState

    app.register_blueprint(views.bp)
    app.jinja_env.globals["state_label"] = lambda value: ProjectState(value).label
    authz.add_rules(permissions.RULES, visible_when=permissions.VISIBLE_WHEN)
    audit.register_labels(lifecycle.AUDIT_LABELS, objects=lifecycle.AUDIT_OBJECTS)
    navigation.add([Role.STREET_OFFICER], _l("Design guidelines"), "projects.guidelines",
                   lambda m, _: {"street_id": m.street_id}, order=25)
    navigation.add([Role.ALLIANCE_LEAD, Role.TREASURER], _l("Renovation projects"), "projects.alliance_projects",
                   lambda m, _: {"alliance_id": m.alliance_id}, order=40)
    navigation.add([Role.SHOP_OWNER], _l("My renovation projects"), "projects.mine", lambda m, _: {}, order=80)
    panels.add("shop", "projects/_shop_panel.html", views.shop_panel)
    panels.add("home", "projects/_owner_home.html", views.owner_home_panel)
    panels.add("home", "projects/_lead_home.html", views.lead_home_panel)
    demo.add_loader("projects", projects_demo.load)
