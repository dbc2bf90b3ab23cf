"""Renovation proposals as services: who may propose, design versions, comments, and the lists people see."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from merchant_alliance.audit import events_for_object
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.projects import queries, services
from merchant_alliance.projects.models import DesignVersion, ProjectState
from merchant_alliance.shops.services import register_signboard
from tests.projects.helpers import SIGNBOARD, add_version, put_in_state, upload, written

pytestmark = pytest.mark.usefixtures("in_request")

S = ProjectState
PROPOSERS = {"owner", "co_owner", "lead", "co_lead"}


def signboard_of(shop, by):
    return register_signboard(by, shop, SIGNBOARD, [upload()])


# --- proposing ------------------------------------------------------------------------------------


def test_the_shops_owners_and_the_alliances_leads_may_propose_and_nobody_else(app, world, cast):
    signboard = signboard_of(world.a.shop, cast.owner)
    for name, user in cast.items():
        if name in PROPOSERS:
            continue
        before = written(app)
        with pytest.raises(NotAllowed):
            services.propose_renovation(user, signboard, "新店招")
        assert written(app) == before, name

    project = services.propose_renovation(cast.owner, signboard, "  咖啡馆木质新店招  ", " 旧招牌锈蚀 ")
    assert (project.state, project.title, project.description) == (S.DRAFT, "咖啡馆木质新店招", "旧招牌锈蚀")
    assert (project.shop_id, project.alliance_id, project.created_by_id) == (world.a.shop.id, world.a.alliance.id,
                                                                            cast.owner.id)
    event = db.session.scalar(events_for_object(project))
    assert (event.action, event.actor_id, event.alliance_id) == ("project.create", cast.owner.id, world.a.alliance.id)

    for name in ("co_owner", "lead", "co_lead"):
        other = services.propose_renovation(getattr(cast, name), signboard_of(world.a.shop, cast.owner), "新店招")
        assert other.created_by_id == getattr(cast, name).id


def test_a_proposal_needs_a_title_and_a_signboard_has_one_open_proposal_at_a_time(app, world, cast):
    signboard = signboard_of(world.a.shop, cast.owner)
    before = written(app)
    with pytest.raises(DomainError, match="Please give the proposal a title."):
        services.propose_renovation(cast.owner, signboard, "   ")
    assert written(app) == before

    first = services.propose_renovation(cast.owner, signboard, "第一次")
    before = written(app)
    with pytest.raises(DomainError, match="This signboard already has an open renovation proposal."):
        services.propose_renovation(cast.lead, signboard, "第二次")
    assert written(app) == before

    services.propose_renovation(cast.owner, signboard_of(world.a.shop, cast.owner), "另一块招牌")  # another sign

    for closed in (S.WITHDRAWN, S.REJECTED, S.COMPLETED):
        put_in_state(first, closed)
        db.session.commit()
        first = services.propose_renovation(cast.owner, signboard, f"在{closed}之后")
        assert first.state == S.DRAFT


# --- design versions ------------------------------------------------------------------------------


def test_versions_are_numbered_in_order_keep_their_photos_and_refuse_impossible_sizes(app, proposal, cast):
    project = proposal(versions=0)
    for width in ("5.00", "4.80", "4.60"):
        add_version(project, by=cast.owner, width_m=Decimal(width))
    db.session.rollback()
    versions = db.session.scalars(select(DesignVersion).where(DesignVersion.project_id == project.id)
                                  .order_by(DesignVersion.id)).all()
    assert [(v.number, v.width_m, v.created_by_id) for v in versions] == [
        (1, Decimal("5.00"), cast.owner.id), (2, Decimal("4.80"), cast.owner.id), (3, Decimal("4.60"), cast.owner.id)]
    assert [(len(v.mockups), len(v.current_photos)) for v in versions] == [(1, 1)] * 3
    assert versions[0].mockups[0].original_filename == "设计稿.jpg"
    assert versions[0].current_photos[0].original_filename == "现状.jpg"
    assert {p.shop_id for v in versions for p in v.mockups} == {project.shop_id}
    assert project.latest_version.number == 3
    numbers = [e.details["version"] for e in db.session.scalars(events_for_object(project))
               if e.action == "project.version_added"]
    assert numbers == [3, 2, 1]

    # Sizes no sign has (a typing mistake) are refused, and nothing is written.
    before = written(app)
    for field, value in (("width_m", "0"), ("width_m", "-1"), ("width_m", "500"), ("height_m", "0"),
                         ("height_m", "50.01"), ("projection_m", "-0.1"), ("projection_m", "500"),
                         ("clearance_m", "-1"), ("width_m", None)):
        with pytest.raises(DomainError, match="must be between 0 and 50 metres"):
            add_version(project, by=cast.owner, **{field: Decimal(value) if value else None})
        assert written(app) == before, (field, value)


def test_a_version_is_added_only_by_the_proposers_to_a_draft_or_after_changes_were_requested(app, proposal, cast):
    project = proposal()
    for name, user in cast.items():
        if name not in PROPOSERS:
            before = written(app)
            with pytest.raises(NotAllowed):
                add_version(project, by=user)
            assert written(app) == before, name

    for state in ProjectState:
        put_in_state(project, state)
        db.session.commit()
        if state in (S.DRAFT, S.CHANGES_REQUESTED):
            continue
        before = written(app)
        with pytest.raises(DomainError, match="A new version can only be added to a draft"):
            add_version(project, by=cast.owner)
        assert written(app) == before, state

    put_in_state(project, S.CHANGES_REQUESTED)
    assert add_version(project, by=cast.lead).number == 2


# --- comments -------------------------------------------------------------------------------------


def test_whoever_sees_the_project_may_comment_with_photos_and_the_others_concerned_hear_of_it(app, proposal, cast):
    project = proposal(title="花店招牌")
    for name in ("lead", "treasurer", "officer", "admin", "owner"):
        before, last = written(app), db.session.scalar(select(func.max(Notification.id))) or 0
        comment = services.add_comment(getattr(cast, name), project, f"  {name}: 颜色再深一点？ ",
                                       [upload(filename="参考.jpg"), upload(filename="夜景.jpg")])
        assert comment.body == f"{name}: 颜色再深一点？"
        assert [p.original_filename for p in comment.photos] == ["参考.jpg", "夜景.jpg"]
        assert {p.shop_id for p in comment.photos} == {project.shop_id}
        after = written(app)
        assert (after["comments"], after["photos"]) == (before["comments"] + 1, before["photos"] + 2)
        assert len(after["files"]) == len(before["files"]) + 4  # two sizes of each photo
        notified = set(db.session.scalars(select(Notification.user_id).where(Notification.id > last)))
        assert notified == {cast.owner.id, cast.co_owner.id, cast.lead.id, cast.co_lead.id} - {
            getattr(cast, name).id}, name

    entries = [e for e in services.timeline(project) if e.comment]
    assert [e.actor.id for e in entries] == [cast.lead.id, cast.treasurer.id, cast.officer.id, cast.admin.id,
                                             cast.owner.id]
    assert all(len(e.photos) == 2 for e in entries)

    before = written(app)
    for name in ("neighbour", "contractor", "lead_next_door", "lead_elsewhere", "owner_elsewhere", "nobody"):
        with pytest.raises(NotAllowed):
            services.add_comment(getattr(cast, name), project, "看看", [upload()])
        assert written(app) == before, name
    with pytest.raises(DomainError, match="Please write something before sending."):
        services.add_comment(cast.owner, project, " \n ")
    with pytest.raises(DomainError, match="A comment can be at most 5000 characters."):
        services.add_comment(cast.owner, project, "长" * 5001)
    assert written(app) == before


# --- who hears, and the lists ---------------------------------------------------------------------


def test_owners_list_their_own_shops_projects_and_the_alliance_list_counts_each_state(world, proposal, cast):
    mine = proposal(title="我的店招", by=cast.lead)  # proposed by a lead, for the owners' shop
    assert services.people_concerned(mine) == {cast.owner.id, cast.co_owner.id, cast.lead.id, cast.co_lead.id}
    neighbours = proposal(by=cast.neighbour, shop=world.a.other_shop, title="邻居的店招")
    elsewhere = proposal(by=cast.owner_elsewhere, shop=world.b.shop, title="别处的店招")
    for n, state in enumerate([S.SUBMITTED, S.SUBMITTED, S.CHANGES_REQUESTED, S.REJECTED], start=1):
        put_in_state(proposal(title=f"项目{n}", shop=world.a.other_shop, by=cast.neighbour), state)
    db.session.commit()

    def titles(rows) -> list[str]:
        return [row.title for row in rows]

    assert titles(queries.projects_of_owner(cast.owner)) == titles(queries.projects_of_owner(cast.co_owner)) \
        == titles(queries.projects_of_shop(world.a.shop)) == [mine.title]
    assert titles(queries.projects_of_owner(cast.neighbour)) == ["项目4", "项目3", "项目2", "项目1", neighbours.title]
    assert titles(queries.projects_of_owner(cast.owner_elsewhere)) == [elsewhere.title]
    assert titles(queries.projects_of_owner(cast.lead)) == titles(queries.projects_of_owner(cast.nobody)) == []

    assert queries.state_counts(world.a.alliance) == {S.DRAFT: 2, S.SUBMITTED: 2, S.CHANGES_REQUESTED: 1,
                                                      S.REJECTED: 1}
    assert queries.state_counts(world.b.alliance) == {S.DRAFT: 1}
    def alliance_list(state=None, page=1, per_page=50):
        alliance = world.a.alliance
        return queries.projects_of_alliance(alliance, state, queries.state_counts(alliance), page=page,
                                            per_page=per_page)

    assert sorted(titles(alliance_list(S.SUBMITTED))) == ["项目1", "项目2"]
    assert len(titles(alliance_list())) == 6
    first, last = alliance_list(per_page=4), alliance_list(page=2, per_page=4)  # the list comes in pages
    assert (first.total, first.pages, len(first.items), len(last.items)) == (6, 2, 4, 2)
    assert not set(titles(first)) & set(titles(last))

    services.move(cast.owner, mine, "submit")
    assert queries.state_counts(world.a.alliance) == {S.DRAFT: 1, S.SUBMITTED: 3, S.CHANGES_REQUESTED: 1,
                                                      S.REJECTED: 1}
    assert titles(alliance_list())[0] == mine.title  # the latest change first
