"""The home page (a dashboard when logged in) and a health check."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload

from merchant_alliance.accounts.models import Alliance, Role, Street
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop

bp = Blueprint("public", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        alliances = db.session.execute(
            select(Alliance.name, Street.name.label("street"), func.count(Shop.id).label("shops"))
            .join(Street, Alliance.street_id == Street.id)
            .outerjoin(Shop, (Shop.alliance_id == Alliance.id) & Shop.active)
            .group_by(Alliance.id, Street.name).order_by(Street.name, Alliance.name)
        ).all()
        return render_template("public/landing.html", alliances=alliances)
    return render_template("public/dashboard.html", **_dashboard_for(current_user))


def _dashboard_for(user) -> dict:
    """The places this user's roles give them, loaded in one query per kind."""
    by_role: dict[Role, set[int]] = {}
    awaiting = {m.alliance_id for m in user.memberships if m.pending}
    for m in user.memberships:
        if not m.pending:
            by_role.setdefault(m.role, set()).add(m.shop_id or m.alliance_id or m.street_id or 0)
    shop_ids = by_role.get(Role.SHOP_OWNER, set())
    alliance_roles = (Role.ALLIANCE_LEAD, Role.TREASURER, Role.CONTRACTOR)
    alliance_ids = set().union(*(by_role.get(r, set()) for r in alliance_roles))
    street_ids = by_role.get(Role.STREET_OFFICER, set())
    shops = _load(select(Shop).options(joinedload(Shop.alliance)).where(Shop.id.in_(shop_ids))
                  .order_by(Shop.house_number), shop_ids)
    alliances = _load(select(Alliance).where(Alliance.id.in_(alliance_ids)).order_by(Alliance.name), alliance_ids)
    streets = _load(select(Street).where(Street.id.in_(street_ids)).order_by(Street.name), street_ids)
    awaiting_alliances = _load(select(Alliance).where(Alliance.id.in_(awaiting)).order_by(Alliance.name), awaiting)
    return {"shops": shops, "alliances": alliances, "streets": streets, "awaiting": awaiting_alliances,
            "is_admin": Role.PLATFORM_ADMIN in by_role, "roles": sorted(by_role, key=list(Role).index)}


def _load(query, ids: set[int]) -> list:
    return list(db.session.scalars(query)) if ids else []


@bp.route("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
