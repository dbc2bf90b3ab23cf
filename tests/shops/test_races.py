"""The shop register's once-only steps hold when two clicks arrive together: a shop is deactivated once
and a member removed once, each with one audit event, and the second click is told or changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Membership, Role, User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.shops import services as shops
from merchant_alliance.shops.models import Shop
from tests.concurrency import while_held

pytestmark = pytest.mark.postgres_only


def events(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_a_shop_deactivated_by_two_leads_at_once_is_deactivated_once(app, world, monkeypatch):
    lead_id, admin_id, shop_id = world.a.lead.id, world.admin.id, world.a.shop.id

    def deactivate(who: int):
        return lambda: shops.set_shop_active(db.session.get(User, who), db.session.get(Shop, shop_id), False)

    outcome = while_held(app, monkeypatch, deactivate(lead_id), deactivate(admin_id))

    assert outcome.first is None and outcome.second is None
    assert db.session.get(Shop, shop_id).active is False
    assert events("shop_deactivated") == 1


def test_a_member_removed_by_two_leads_at_once_is_removed_once(app, world, monkeypatch):
    membership = next(m for m in world.a.owner.memberships if m.role == Role.SHOP_OWNER)
    shop_id, membership_id = world.a.shop.id, membership.id

    def remove(who: int):
        return lambda: shops.remove_shop_member(db.session.get(User, who), db.session.get(Shop, shop_id),
                                                db.session.get(Membership, membership_id))

    outcome = while_held(app, monkeypatch, remove(world.a.lead.id), remove(world.admin.id))

    assert outcome.first is None and isinstance(outcome.second, DomainError)
    assert db.session.get(Membership, membership_id) is None
    assert events("shop_member_removed") == 1
