"""The work order on site: milestones marked done with their photos and accepted (by whom the alliance's rules say)
or sent back; the project follows the work (in progress, installed); the site log; the punch list."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from merchant_alliance.audit import AuditEvent, events_for_object
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.timeutil import local_today
from merchant_alliance.works import orders
from merchant_alliance.works.models import (
    Acceptor,
    MilestoneKind,
    MilestoneState,
    OrderState,
    PunchState,
    SiteLogEntry,
)
from tests.fixtures.works import accepted, contracted_order, done, milestone, photos
from tests.works.helpers import count, refused

pytestmark = pytest.mark.usefixtures("in_request")

S = ProjectState
M = MilestoneState


def state_of(obj) -> object:
    db.session.refresh(obj)
    return obj.state


def not_a_photo(name: str = "拆除.jpg") -> FileStorage:
    return FileStorage(io.BytesIO(b"%PDF-1.4 not a photo"), filename=name, content_type="image/jpeg")


# --- milestones ------------------------------------------------------------------------------------


def test_a_milestone_is_marked_done_with_its_photos_and_the_first_work_starts_order_and_project(app, world, works):
    """The old sign's removal needs two photos: with one, or with one that is not a photo, it is refused and
    nothing is kept (no photo row, no file). With two it is done, the leads are told, and the order and the
    project are under way."""
    order = contracted_order(works)
    removal = milestone(order, MilestoneKind.REMOVAL)
    assert removal.photos_needed == 2
    refused(app, DomainError, orders.mark_done, world.a.contractor, removal, "拆完了", photos(1),
            match=r"needs 2 photo\(s\)")
    refused(app, DomainError, orders.mark_done, world.a.contractor, removal, "拆完了", [*photos(1), None],
            match=r"needs 2 photo\(s\)")
    refused(app, DomainError, orders.mark_done, world.a.contractor, removal, "拆完了", [*photos(1), not_a_photo()],
            match="拆除.jpg")
    refused(app, NotAllowed, orders.mark_done, world.a.owner, removal, "拆完了", photos(2))

    orders.mark_done(world.a.contractor, removal, "  旧招牌已拆除，墙面完好  ", photos(2))
    db.session.refresh(removal)
    assert (removal.state, removal.done_by_id, removal.done_note, len(removal.photos)) == (
        M.DONE, world.a.contractor.id, "旧招牌已拆除，墙面完好", 2)
    assert (state_of(order), state_of(order.project)) == (OrderState.IN_PROGRESS, S.IN_PROGRESS)
    told = set(db.session.scalars(select(Notification.user_id).where(
        Notification.message == orders.NOTICES["mark_done"])))
    assert world.a.lead.id in told and world.a.contractor.id not in told
    refused(app, DomainError, orders.mark_done, world.a.contractor, removal, "again", photos(2),
            match="already marked done")


@pytest.mark.parametrize("rule, acceptors, not_acceptors", [
    (Acceptor.LEAD, ["lead"], ["owner", "contractor", "treasurer", "officer"]),
    (Acceptor.OWNER, ["owner"], ["lead", "contractor", "treasurer"]),
    (Acceptor.EITHER, ["lead", "owner"], ["contractor", "treasurer", "officer"]),
])
def test_the_alliances_rule_says_who_accepts_a_milestone(app, world, works, rule, acceptors, not_acceptors):
    """The alliance says who accepts (a lead, the shop's owner, or either): only they accept or send back a
    milestone; the contractor never accepts its own work."""
    order = contracted_order(works, accepted_by=rule)
    steps = order.milestones
    for step in steps[:len(acceptors)]:
        done(step)
    for who in not_acceptors:
        refused(app, NotAllowed, orders.accept, getattr(world.a, who), steps[0])
        refused(app, NotAllowed, orders.send_back, getattr(world.a, who), steps[0], "不合格")
    for who, step in zip(acceptors, steps, strict=False):
        orders.accept(getattr(world.a, who), step)
        assert (state_of(step), step.decided_by_id) == (M.ACCEPTED, getattr(world.a, who).id)


def test_a_milestone_sent_back_needs_a_reason_and_is_marked_done_again(app, world, works):
    """The lead sends the design back saying why; the contractor hears the reason, marks it done again, and it is
    accepted. An accepted milestone is not sent back."""
    order = contracted_order(works)
    design = done(milestone(order, MilestoneKind.DESIGN))
    for reason in ("", "  "):
        refused(app, DomainError, orders.send_back, world.a.lead, design, reason, match="reason")
    orders.send_back(world.a.lead, design, "  字体与批准的设计稿不一致  ")
    db.session.refresh(design)
    assert (design.state, design.return_reason) == (M.RETURNED, "字体与批准的设计稿不一致")
    told = db.session.scalar(select(Notification).where(Notification.user_id == world.a.contractor.id,
                                                        Notification.message == orders.NOTICES["send_back"]))
    assert told.params["reason"] == "字体与批准的设计稿不一致"
    refused(app, DomainError, orders.accept, world.a.lead, design, match="Only a milestone marked done")

    done(design)
    assert (state_of(design), design.return_reason) == (M.DONE, "")
    orders.accept(world.a.lead, design)
    refused(app, DomainError, orders.send_back, world.a.lead, design, "晚了")
    assert state_of(design) == M.ACCEPTED


def test_the_installation_accepted_makes_the_project_installed_and_the_last_milestone_completes_the_order(
        app, world, works):
    """Accepting the installation makes the project installed (the warranty runs from today); the order completes only
    with its last milestone, after which its value no longer changes."""
    order = contracted_order(works)
    installation = accepted(milestone(order, MilestoneKind.INSTALLATION))
    db.session.refresh(order)
    assert (order.installed_on, order.state, state_of(order.project)) == (
        local_today(), OrderState.IN_PROGRESS, S.INSTALLED)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "project.installation_accepted",
                                                      AuditEvent.object_id == order.project_id))
    assert installation.state == M.ACCEPTED

    others = [m for m in order.milestones if m.kind != MilestoneKind.INSTALLATION]
    for step in others[:-1]:
        accepted(step)
        assert state_of(order) == OrderState.IN_PROGRESS  # not while a milestone is still open
    accepted(others[-1])
    db.session.refresh(order)
    assert order.state == OrderState.COMPLETED and order.completed_at is not None
    assert state_of(order.project) == S.INSTALLED  # the street office inspects it next
    refused(app, DomainError, orders.propose_change, world.a.contractor, order, 100_00, "加装灯带",
            match="completed work order")


# --- the site log ----------------------------------------------------------------------------------


def test_the_first_site_log_entry_starts_the_work_with_its_photos(app, world, works):
    """The contractor's first day in the site log, with two photos, starts the order and the project; a lead may write
    in the log too, nobody else."""
    order = contracted_order(works)
    entry = orders.add_log_entry(world.a.contractor, order, day=local_today(), work_done="  搭脚手架，拆除旧招牌 ",
                                 crew_size=4, weather="晴", problems="", photos=photos(2))
    assert (entry.work_done, entry.crew_size, entry.weather, len(entry.photos), entry.created_by_id) == (
        "搭脚手架，拆除旧招牌", 4, "晴", 2, world.a.contractor.id)
    assert (state_of(order), state_of(order.project)) == (OrderState.IN_PROGRESS, S.IN_PROGRESS)
    orders.add_log_entry(world.a.lead, order, day=local_today(), work_done="监理到场检查", photos=[])
    assert count(SiteLogEntry) == 2
    for who in (world.a.owner, world.a.treasurer, world.b.contractor):
        refused(app, NotAllowed, orders.add_log_entry, who, order, day=local_today(), work_done="路过")


@pytest.mark.parametrize("change, field, said", [
    ({"day": 1}, "day", "between the order's start and today"),  # tomorrow
    ({"day": -31}, "day", "between the order's start and today"),  # a month before the order started
    ({"work_done": "   "}, "work_done", "what was done"),
    ({"crew_size": -1}, "crew_size", "between 0 and 200"),
    ({"crew_size": 201}, "crew_size", "between 0 and 200"),
])
def test_a_site_log_entry_for_another_day_without_what_was_done_or_with_an_odd_crew_is_refused(
        app, world, works, change, field, said):
    """Each mistake is said under its field, nothing is kept, and the work has not started."""
    order = contracted_order(works)
    values = {"work_done": "安装龙骨", "crew_size": 3, "photos": photos(1)} | change
    values["day"] = local_today() + timedelta(days=values.get("day", 0))
    error = refused(app, DomainError, orders.add_log_entry, world.a.contractor, order, match=said, **values)
    assert error.field == field
    assert (state_of(order), state_of(order.project)) == (OrderState.CONTRACTED, S.CONTRACTED)


# --- the punch list --------------------------------------------------------------------------------


def test_a_punch_item_goes_open_fixed_verified_closed_each_step_by_whom_it_belongs_to(app, world, works, cast):
    """The lead finds a defect (with a photo); the contractor fixes it (with a photo of the repair); the lead finds
    it not fixed and reopens it, saying why; fixed again, the repair is verified and the lead closes the item."""
    order = contracted_order(works)
    refused(app, DomainError, orders.raise_punch, world.a.lead, order, "  ", photos(1), match="Describe the defect")
    refused(app, DomainError, orders.raise_punch, world.a.lead, order, "灯箱边缘有缝隙", [],
            match="photo of the defect")
    for who in ("contractor", "owner", "treasurer", "lead_elsewhere"):
        refused(app, NotAllowed, orders.raise_punch, getattr(cast, who), order, "灯箱边缘有缝隙", photos(1))

    item = orders.raise_punch(world.a.lead, order, "灯箱边缘有缝隙", photos(1, "缝隙.jpg"))
    assert (item.number, item.state, item.raised_by_id, len(item.found_photos)) == (1, PunchState.OPEN,
                                                                                    world.a.lead.id, 1)
    assert orders.raise_punch(world.a.officer, order, "固定螺栓未加防松垫片", photos(1)).number == 2  # the inspector
    assert world.a.contractor.id in set(db.session.scalars(select(Notification.user_id).where(
        Notification.message == orders.NOTICES["punch"])))

    refused(app, NotAllowed, orders.fix_punch, world.a.owner, item, "修好了", photos(1))
    refused(app, DomainError, orders.fix_punch, world.a.contractor, item, "修好了", [], match="photo of the repair")
    refused(app, DomainError, orders.decide_punch, world.a.lead, item, "verify")  # nothing fixed yet
    orders.fix_punch(world.a.contractor, item, "打胶密封", photos(1, "打胶.jpg"))
    assert (state_of(item), item.fixed_by_id, len(item.fixed_photos)) == (PunchState.FIXED, world.a.contractor.id, 1)

    refused(app, NotAllowed, orders.decide_punch, world.a.contractor, item, "verify")
    refused(app, NotAllowed, orders.decide_punch, world.a.contractor, item, "reopen", "我觉得好了")
    refused(app, DomainError, orders.decide_punch, world.a.lead, item, "reopen", " ", match="reason")
    orders.decide_punch(world.a.lead, item, "reopen", "胶条仍有开裂")
    assert state_of(item) == PunchState.OPEN
    reopened = db.session.scalar(select(Notification).where(Notification.message == orders.NOTICES["reopen"]))
    assert (reopened.user_id, reopened.params["reason"]) == (world.a.contractor.id, "胶条仍有开裂")

    orders.fix_punch(world.a.contractor, item, "重新打胶", photos(1))
    orders.decide_punch(world.a.lead, item, "verify")
    assert (state_of(item), item.verified_by_id) == (PunchState.VERIFIED, world.a.lead.id)
    for who in ("contractor", "owner", "officer"):
        refused(app, NotAllowed, orders.decide_punch, getattr(cast, who), item, "close")
    orders.decide_punch(cast.co_lead, item, "close")
    assert (state_of(item), item.closed_by_id) == (PunchState.CLOSED, cast.co_lead.id)
    assert item.closed_at is not None and item.verified_at is not None and item.fixed_at is not None
    steps = [e.action for e in reversed(db.session.scalars(events_for_object(item)).all())]
    assert steps == ["punch.raised", "punch.fix", "punch.reopen", "punch.fix", "punch.verify", "punch.close"]


def test_people_of_another_alliance_change_nothing_on_an_order(app, world, works):
    """The other street's contractor and lead may not mark work done, log a day or propose a change here."""
    order = contracted_order(works)
    design = milestone(order, MilestoneKind.DESIGN)
    refused(app, NotAllowed, orders.mark_done, world.b.contractor, design, "做完了", photos(1))
    refused(app, NotAllowed, orders.add_log_entry, world.b.lead, order, day=local_today(), work_done="看看")
    refused(app, NotAllowed, orders.propose_change, world.b.lead, order, 100_00, "加钱")
    assert db.session.get(Project, order.project_id).state == S.CONTRACTED
