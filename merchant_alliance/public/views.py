"""The home page (a dashboard when logged in) and a health check."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from merchant_alliance import panels
from merchant_alliance.accounts.models import Role, User
from merchant_alliance.pagecache import lazy, own_scopes
from merchant_alliance.public import queries

bp = Blueprint("public", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return render_template("public/landing.html", alliances=queries.alliances_on_the_landing_page())
    # Cards other domains add to a user's home: what waits for them first (merchant_alliance.panels).
    return render_template("public/dashboard.html", home=lazy(queries.dashboard_for, current_user),
                           panels=lazy(panels.for_page, "home", current_user, current_user),
                           cache_scopes=_home_scopes(current_user))


# Whose home shows only what lies in their own alliances: shop owners, leads and treasurers.
_CACHED_HOME_ROLES = frozenset({Role.SHOP_OWNER, Role.ALLIANCE_LEAD, Role.TREASURER})


def _home_scopes(user: User) -> list[str] | None:
    """The home is cached under the viewer's own scopes (their alliances, themselves, global) when all it shows
    lies in them; an officer's, a contractor's or an administrator's home reads across alliances and is built
    on every view."""
    if any(m.role not in _CACHED_HOME_ROLES for m in user.memberships):
        return None
    return sorted(own_scopes(user))


@bp.route("/healthz")
def healthz():
    queries.check_database()  # a database that cannot be reached fails the check with a 500
    return {"status": "ok"}
