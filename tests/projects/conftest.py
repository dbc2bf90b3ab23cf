"""Fixtures for renovation proposals: everyone who might touch a project, and proposals ready to review."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask_babel import force_locale

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.projects import services
from merchant_alliance.projects.models import Project
from merchant_alliance.shops.models import Shop
from merchant_alliance.shops.services import register_signboard
from tests.factories import AllianceFactory, user_with_role
from tests.projects.helpers import SIGNBOARD, add_version, login, upload


@dataclass
class Cast:
    """Everyone around Yuyuan Road's project, and people from elsewhere who must not reach it."""

    admin: User
    officer: User
    lead: User
    co_lead: User  # a second lead of the same alliance
    treasurer: User
    contractor: User
    owner: User  # owns the shop and proposes the renovation
    co_owner: User  # owns the same shop too
    neighbour: User  # owns another shop in the same alliance
    lead_next_door: User  # leads another alliance on the same street
    lead_elsewhere: User  # leads an alliance on another street
    owner_elsewhere: User
    nobody: User  # logged in, no role at all

    def items(self) -> list[tuple[str, User]]:
        return list(vars(self).items())


@pytest.fixture
def cast(world) -> Cast:
    side = world.a
    return Cast(
        admin=world.admin, officer=side.officer, lead=side.lead,
        co_lead=user_with_role(Role.ALLIANCE_LEAD, alliance=side.alliance),
        treasurer=side.treasurer, contractor=side.contractor, owner=side.owner,
        co_owner=user_with_role(Role.SHOP_OWNER, shop=side.shop),
        neighbour=user_with_role(Role.SHOP_OWNER, shop=side.other_shop),
        lead_next_door=user_with_role(Role.ALLIANCE_LEAD, alliance=AllianceFactory(street=side.street)),
        lead_elsewhere=world.b.lead, owner_elsewhere=world.b.owner, nobody=world.nobody,
    )


@pytest.fixture
def in_request(app):
    """Services run as in a request (notifications link to pages), with messages in English."""
    with app.test_request_context("/"), force_locale("en"):
        yield


Propose = Callable[..., Project]


@pytest.fixture
def proposal(app, world) -> Propose:
    """Make a proposal: a signboard registered with a photo, a project, and design versions each carrying
    one mock-up and one photo of the sign as it is now (all real JPEGs)."""

    def make(*, by: User | None = None, shop: Shop | None = None, title: str = "咖啡馆木质新店招",
             versions: int = 1, mockup: bool = True, current: bool = True, **design: Any) -> Project:
        by = by or world.a.owner
        shop = shop or world.a.shop
        signboard = register_signboard(by, shop, SIGNBOARD, [upload(filename="现状.jpg")])
        project = services.propose_renovation(by, signboard, title, "旧招牌锈蚀，申请更新。")
        for _ in range(versions):
            add_version(project, by=by, mockup=mockup, current=current, **design)
        return project

    return make


@pytest.fixture
def client_as(app, isolated_requests) -> Callable[[User | None], Any]:
    """A browser of one's own for the user given (anonymous for None): each request starts with a fresh
    `g`, as in production, and pages are in English."""
    return lambda user=None: login(app, user)
