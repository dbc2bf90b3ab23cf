"""Fixtures of the fund's tests. They reuse the proposal fixtures: projects move through the lifecycle to be
funded."""

import pytest

from merchant_alliance.extensions import db
from merchant_alliance.funds import services
from merchant_alliance.funds.models import Fund
from tests.projects.conftest import cast, client_as, in_request, proposal  # noqa: F401


@pytest.fixture
def fund(world) -> Fund:
    """Yuyuan Road's main fund, empty."""
    fund = services.default_fund(world.a.alliance)
    db.session.commit()
    return fund
