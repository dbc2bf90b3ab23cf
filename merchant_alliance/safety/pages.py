"""What the street office's own pages share (its checklist, registry and API keys): only logged-in users reach
them, and the street in their URL is reached only by that street's officers (anyone else gets what the rules give:
403 or 404)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from merchant_alliance import authz
from merchant_alliance.accounts.models import Street
from merchant_alliance.extensions import db


def for_logged_in_users(bp: Blueprint) -> Blueprint:
    """Every page of `bp` asks for a login first."""

    @bp.before_request
    @login_required
    def require_login() -> None:
        """Every page here is for logged-in users."""

    return bp


def street_or_404(street_id: int) -> Street:
    """The URL's street, for one of its officers."""
    street = db.get_or_404(Street, street_id)
    authz.require(current_user, "manage_safety", street)
    return street
