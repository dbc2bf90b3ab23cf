"""The home page (a dashboard when logged in) and a health check."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from merchant_alliance import panels
from merchant_alliance.public import queries

bp = Blueprint("public", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return render_template("public/landing.html", alliances=queries.alliances_on_the_landing_page())
    # Cards other domains add to a user's home: what waits for them first (merchant_alliance.panels).
    return render_template("public/dashboard.html", **queries.dashboard_for(current_user),
                           panels=panels.for_page("home", current_user, current_user))


@bp.route("/healthz")
def healthz():
    queries.check_database()  # a database that cannot be reached fails the check with a 500
    return {"status": "ok"}
