"""The shop register: shops, CSV import, signboards."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from merchant_alliance.accounts.models import Role


def init_app(app: Flask) -> None:
    """The register's pages, the rules on shops and signboards, menu entries and audit labels."""
    from merchant_alliance import audit, authz, navigation
    from merchant_alliance.shops import permissions, services, views

    app.register_blueprint(views.bp)
    authz.add_rules(permissions.RULES, visible_when=permissions.VISIBLE_WHEN)
    audit.register_labels(services.AUDIT_LABELS, objects=services.AUDIT_OBJECTS)
    navigation.add([Role.ALLIANCE_LEAD, Role.TREASURER], _l("Shop register"), "shops.register",
                   lambda m, _: {"alliance_id": m.alliance_id}, order=60)
    navigation.add([Role.SHOP_OWNER], _l("My shop"), "shops.shop", lambda m, _: {"shop_id": m.shop_id}, order=70)
