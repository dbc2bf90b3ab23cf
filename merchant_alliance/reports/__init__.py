"""Hazard reports from the public: a passer-by reports a dangerous sign from a phone without an account, the
street office triages it into an inspection, the reporter follows it by a private link, and city systems read
(and post) reports through an Open311 GeoReport v2 API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The report pages, the Open311 API, rules, hooks on inspections, menu entries and demo data."""
    from merchant_alliance import audit, authz, demo
    from merchant_alliance.reports import demo as reports_demo
    from merchant_alliance.reports import permissions, services

    authz.add_rules(permissions.RULES, visible_when=permissions.VISIBLE_WHEN)
    audit.register_labels(services.AUDIT_LABELS, objects=services.AUDIT_OBJECTS)
    services.register_hooks()  # a follow-up inspection finished resolves its reports
    demo.add_loader("hazard reports", reports_demo.load)  # after the registry's: reports name its signs

    # Open311
    from flask_babel import lazy_gettext as _l

    from merchant_alliance import navigation
    from merchant_alliance.accounts.models import Role
    from merchant_alliance.reports import api_key_views, open311

    app.register_blueprint(open311.bp)  # the GeoReport v2 API: read by anyone, posted to with a street's key
    app.register_blueprint(api_key_views.bp)  # the street office issues and revokes those keys
    navigation.add([Role.STREET_OFFICER], _l("API keys"), "api_keys.keys",
                   lambda m, _: {"street_id": m.street_id}, order=29)

