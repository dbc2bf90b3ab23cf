"""Street and alliance pages: members, invitations, lead appointments, audit logs."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from merchant_alliance.accounts.models import Role


def init_app(app: Flask) -> None:
    """The street and alliance pages and their menu entries."""
    from merchant_alliance import navigation
    from merchant_alliance.alliances import views

    app.register_blueprint(views.bp)
    navigation.add([Role.PLATFORM_ADMIN], _l("Streets"), "alliances.streets", lambda m, _: {}, order=10)
    navigation.add([Role.STREET_OFFICER], _l("My street"), "alliances.street",
                   lambda m, _: {"street_id": m.street_id}, order=20)
    navigation.add([Role.ALLIANCE_LEAD, Role.TREASURER, Role.CONTRACTOR], _l("My alliance"), "alliances.alliance",
                   lambda m, _: {"alliance_id": m.alliance_id}, order=30)
