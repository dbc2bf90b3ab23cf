"""Helpers shared by the shop tests."""

from __future__ import annotations

from sqlalchemy import func, select

from merchant_alliance.accounts.models import Membership
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop


def snapshot() -> tuple:
    """What a refused action must leave untouched: every shop's values, the memberships and the audit log."""
    db.session.rollback()
    shops = db.session.execute(
        select(Shop.id, Shop.alliance_id, Shop.name, Shop.house_number, Shop.facade_width_m, Shop.business_type,
               Shop.contact_phone, Shop.licence_number, Shop.active).order_by(Shop.id)
    ).all()
    memberships = db.session.execute(select(Membership.id, Membership.user_id, Membership.shop_id)).all()
    return shops, sorted(memberships), db.session.scalar(select(func.count(AuditEvent.id)))
