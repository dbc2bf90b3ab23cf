"""Hazard reports from the public: a passer-by reports a dangerous sign from a phone without an account, the
street office triages it into an inspection, the reporter follows it by a private link, and city systems read
(and post) reports through an Open311 GeoReport v2 API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The report pages, the Open311 API, rules, hooks on inspections, menu entries and demo data."""
    from flask_babel import lazy_gettext as _l

    from merchant_alliance import audit, authz, demo, navigation, panels
    from merchant_alliance.accounts.models import Role
    from merchant_alliance.reports import api_key_views, api_keys, open311, permissions, services, views
    from merchant_alliance.reports import demo as reports_demo

    app.register_blueprint(views.bp)  # reporting, following, the public list, the street office's triage
    app.register_blueprint(open311.bp)  # the GeoReport v2 API: read by anyone, posted to with a street's key
    app.register_blueprint(api_key_views.bp)  # the street office issues and revokes those keys
    authz.add_rules(permissions.RULES, visible_when=permissions.VISIBLE_WHEN)
    for module in (services, api_keys):
        audit.register_labels(module.AUDIT_LABELS, objects=module.AUDIT_OBJECTS)
    services.register_hooks()  # a follow-up inspection finished resolves its reports
    panels.add("signboard", "reports/_signboard_panel.html", views.signboard_panel)
    panels.add("home", "reports/_officer_home.html", views.officer_home_panel)
    navigation.add([Role.STREET_OFFICER], _l("Hazard reports"), "reports.triage",
                   lambda m, _: {"street_id": m.street_id}, order=27)
    navigation.add([Role.STREET_OFFICER], _l("API keys"), "api_keys.keys",
                   lambda m, _: {"street_id": m.street_id}, order=29)
    demo.add_loader("hazard reports", reports_demo.load)  # after the registry's: reports name its signs
