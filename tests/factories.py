"""factory_boy factories for the models, and a two-street world for scope tests."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory

from merchant_alliance.accounts.models import Alliance, Role, Street, User
from merchant_alliance.accounts.services import grant_role, hash_password
from merchant_alliance.extensions import db
from merchant_alliance.shops.models import Shop

PASSWORD = "Correct-Horse-9"


class _Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session = None
        sqlalchemy_session_persistence = "commit"


def bind(session) -> None:
    """Point every factory at the test's session (the app is new for every test)."""
    for factory_class in (StreetFactory, AllianceFactory, ShopFactory, UserFactory):
        factory_class._meta.sqlalchemy_session = session


class StreetFactory(_Base):
    class Meta:
        model = Street

    name = factory.Sequence(lambda n: f"街道{n}")
    district = "静安区"


class AllianceFactory(_Base):
    class Meta:
        model = Alliance

    street = factory.SubFactory(StreetFactory)
    name = factory.Sequence(lambda n: f"商家联盟{n}")
    road = "愚园路"


class ShopFactory(_Base):
    class Meta:
        model = Shop

    alliance = factory.SubFactory(AllianceFactory)
    name = factory.Sequence(lambda n: f"小店{n}")
    house_number = factory.Sequence(lambda n: str(100 + n))
    facade_width_m = Decimal("6.50")
    business_type = "餐饮"
    contact_phone = "13912345678"


class UserFactory(_Base):
    class Meta:
        model = User

    name = factory.Sequence(lambda n: f"用户{n}")
    phone = factory.Sequence(lambda n: f"137{n:08d}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password_hash = factory.LazyFunction(lambda: hash_password(PASSWORD))


def user_with_role(role: Role, **scope) -> User:
    user = UserFactory()
    grant_role(user, role, **scope)
    db.session.commit()
    return user


@dataclass
class Side:
    street: Street
    alliance: Alliance
    shop: Shop
    other_shop: Shop
    owner: User
    lead: User
    treasurer: User
    officer: User
    contractor: User


@dataclass
class World:
    a: Side
    b: Side
    admin: User
    nobody: User  # logged in, but with no role at all


def _side() -> Side:
    alliance = AllianceFactory()
    shop, other_shop = ShopFactory(alliance=alliance), ShopFactory(alliance=alliance)
    return Side(
        street=alliance.street, alliance=alliance, shop=shop, other_shop=other_shop,
        owner=user_with_role(Role.SHOP_OWNER, shop=shop),
        lead=user_with_role(Role.ALLIANCE_LEAD, alliance=alliance),
        treasurer=user_with_role(Role.TREASURER, alliance=alliance),
        officer=user_with_role(Role.STREET_OFFICER, street=alliance.street),
        contractor=user_with_role(Role.CONTRACTOR, alliance=alliance),
    )


def build_world() -> World:
    return World(a=_side(), b=_side(), admin=user_with_role(Role.PLATFORM_ADMIN), nobody=UserFactory())
