"""Late work stands out: `flask works remind` (run daily) tells the alliance's leads, the shop and the contractor's
people once about each milestone past its due date and not accepted; an accepted one, or one not yet due, is not
reported, and a second run the same or a later day tells nobody again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select, update

from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.notifications.services import render_message
from merchant_alliance.timeutil import local_today
from merchant_alliance.works.models import Milestone, MilestoneKind
from tests.fixtures.works import accepted, contracted_order, milestone

pytestmark = pytest.mark.usefixtures("in_request")


def due(m: Milestone, days_ago: int) -> None:
    db.session.execute(update(Milestone).where(Milestone.id == m.id)
                       .values(due_on=local_today() - timedelta(days=days_ago)))
    db.session.commit()


def told() -> list[tuple[int, str]]:
    """(who, what they read) for each notice of late work."""
    return [(n.user_id, render_message(n)) for n in
            db.session.scalars(select(Notification).where(Notification.message.contains("is not accepted yet")))]


def test_each_late_milestone_is_told_once_to_the_leads_the_shop_and_the_contractor(app, world, works, runner):
    order = contracted_order(works)
    design, removal = milestone(order, MilestoneKind.DESIGN), milestone(order, MilestoneKind.REMOVAL)
    accepted(design)
    due(design, 3)  # late on paper, but accepted: nothing to say
    due(removal, 1)  # late
    result = runner.invoke(args=["works", "remind"])
    assert result.exit_code == 0 and "1 late milestone(s) reported." in result.output
    people = {user_id for user_id, name in told()}
    assert {world.a.lead.id, world.a.owner.id, world.a.contractor.id} <= people
    with force_locale("en"):
        assert {text.split("”")[0] for _, text in told()} == {"“Old sign removed"}  # in the reader's language
    with force_locale("zh_CN"):
        assert all(removal.title in text and design.title not in text for _, text in told())
    assert db.session.get(Milestone, removal.id).late_notified_on == local_today()

    before = len(told())
    assert "0 late milestone(s) reported." in runner.invoke(args=["works", "remind"]).output
    assert len(told()) == before
