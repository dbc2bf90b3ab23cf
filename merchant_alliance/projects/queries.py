"""What the proposal pages show and list: read-only, with their loading planned here, nothing written."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import joinedload, selectinload

from merchant_alliance.accounts.models import Alliance, Role, User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import RowPage, db
from merchant_alliance.projects.lifecycle import WAITING_FOR
from merchant_alliance.projects.models import ENDED_STATES, DesignVersion, Project, ProjectState
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import utcnow


def load_project(project_id: int, *, with_versions: bool = True) -> Project | None:
    """A project with its shop, alliance, signboard and creator, and (`with_versions`) its versions and their
    photos, loaded up front."""
    statement = _project_statement(with_versions)
    return db.session.scalar(statement, {"project_id": project_id})


def load_versions(project: Project) -> list[DesignVersion]:
    """The project's versions and their photos, loaded into `project.versions` (for a project loaded without)."""
    db.session.scalars(_project_statement(True).execution_options(populate_existing=True),
                       {"project_id": project.id}).all()
    return project.versions


@functools.cache
def _project_statement(whole: bool):
    """The project with what every page of it checks (its shop and alliance); `whole`: with its signboard,
    creator, versions and their photos too (what its body shows), built once each."""
    statement = select(Project).where(Project.id == bindparam("project_id")).options(
        joinedload(Project.alliance), joinedload(Project.shop))
    if whole:
        statement = statement.options(joinedload(Project.signboard), joinedload(Project.created_by),
                                      *_versions_options())
    return statement


@functools.cache
def _versions_options() -> tuple:
    return (selectinload(Project.versions).selectinload(DesignVersion.mockups),
            selectinload(Project.versions).selectinload(DesignVersion.current_photos))


def projects_of_owner(user: User) -> list:
    """List rows of the projects of every shop this user owns, the latest change first."""
    shop_ids = [m.shop_id for m in user.memberships if m.role == Role.SHOP_OWNER]
    return _rows(_project_list().where(Project.shop_id.in_(shop_ids)))


def projects_of_shop(shop: Shop) -> list:
    """List rows of the shop's projects, the latest change first."""
    return _rows(_project_list().where(Project.shop_id == shop.id))


def projects_of_alliance(alliance: Alliance, state: ProjectState | None, counts: dict[ProjectState, int], *,
                         page: int, per_page: int) -> RowPage:
    """A page of the alliance's projects (those in `state`, if given), the latest change first; `counts`
    (from state_counts) gives the total without counting again."""
    query = _project_list().where(Project.alliance_id == alliance.id)
    if state:
        query = query.where(Project.state == state)
    total = counts.get(state, 0) if state else sum(counts.values())
    return db.page_of_rows(query, page=page, per_page=per_page, total=total)


def state_counts(alliance: Alliance) -> dict[ProjectState, int]:
    """How many of the alliance's projects are in each state (states with none are left out)."""
    rows = db.session.execute(
        select(Project.state, func.count()).where(Project.alliance_id == alliance.id).group_by(Project.state)
    )
    return {ProjectState(state): count for state, count in rows}


def _project_list() -> Select:
    # Rows, not ORM objects: list pages show a few columns of many projects.
    return (
        select(Project.id, Project.title, Project.state, Project.updated_at, Shop.name.label("shop_name"),
               Shop.house_number)
        .join(Shop, Project.shop_id == Shop.id)
        .order_by(Project.updated_at.desc(), Project.id.desc())
    )


def _rows(query: Select) -> list:
    return list(db.session.execute(query).all())


# --- what waits on the home page -------------------------------------------------------------------

HOME_LIMIT = 10  # each list of a home card shows the most urgent few, with the total beside it
STUCK_AFTER = timedelta(days=14)  # a project in the same state longer than this is shown to its lead as stuck


@dataclass(frozen=True)
class OwnerProject:
    """One open project of the owner's shops, with what it waits for."""

    id: int
    title: str
    state: ProjectState
    updated_at: datetime
    shop_name: str
    house_number: str
    your_turn: bool
    waiting_for: str
    reason: str | None  # the latest change request's reason, while changes are asked


@dataclass(frozen=True)
class OwnerWork:
    projects: list[OwnerProject]
    shops: list  # (id, name, house_number) of the owner's active shops, for the quick links


def owner_work(shop_ids: list[int]) -> OwnerWork:
    """The owner's open projects, their own turn first (changes asked first of all), then the latest change;
    three queries however many projects, shops and change requests."""
    shops = list(db.session.execute(select(Shop.id, Shop.name, Shop.house_number)
                                    .where(Shop.id.in_(shop_ids), Shop.active).order_by(Shop.house_number, Shop.id)))
    rows = list(db.session.execute(_project_list().where(Project.shop_id.in_(shop_ids),
                                                         Project.state.not_in(ENDED_STATES)).limit(50)))
    asked = [r.id for r in rows if r.state == ProjectState.CHANGES_REQUESTED]
    reasons: dict[int, str] = {}
    if asked:
        events = db.session.execute(
            select(AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.object_type == "project", AuditEvent.object_id.in_(asked),
                   AuditEvent.action == "project.request_changes")
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))
        for project_id, details in events:
            reasons.setdefault(project_id, (details or {}).get("reason") or "")
    projects = []
    for r in rows:
        state = ProjectState(r.state)
        your_turn, waiting = WAITING_FOR.get(state, (False, state.label))
        projects.append(OwnerProject(r.id, r.title, state, r.updated_at, r.shop_name, r.house_number, your_turn,
                                     str(waiting), reasons.get(r.id)))
    projects.sort(key=lambda p: (not p.your_turn, p.state != ProjectState.CHANGES_REQUESTED))  # stable: latest first
    return OwnerWork(projects=projects[:HOME_LIMIT], shops=shops)


@dataclass(frozen=True)
class Progress:
    """An alliance's renewal: its completed projects against the goal its lead set (None: no goal yet)."""

    alliance_id: int
    alliance_name: str
    renewed: int
    goal: int | None


@dataclass(frozen=True)
class LeadWork:
    to_review: list  # list rows of submitted designs someone else proposed, the longest waiting first
    to_review_total: int
    stuck: list  # list rows of projects in the same state for more than STUCK_AFTER, the longest first
    stuck_total: int
    progress: list[Progress]
    stuck_days: int = STUCK_AFTER.days


def lead_work(user: User, alliance_ids: list[int]) -> LeadWork:
    """What waits for a lead of these alliances: designs to review (not their own), projects stuck in a state, and
    each alliance's renewal progress. Three queries, whatever the number of projects."""
    mine = Project.alliance_id.in_(alliance_ids)
    total = func.count().over().label("total")
    to_review = list(db.session.execute(
        _project_list().add_columns(total).where(mine, Project.state == ProjectState.SUBMITTED,
                                                 Project.created_by_id != user.id)
        .order_by(None).order_by(Project.updated_at, Project.id).limit(HOME_LIMIT)))
    stuck = list(db.session.execute(
        _project_list().add_columns(total).where(
            mine, Project.state.not_in((*ENDED_STATES, ProjectState.DRAFT)),
            Project.updated_at < utcnow() - STUCK_AFTER)
        .order_by(None).order_by(Project.updated_at, Project.id).limit(HOME_LIMIT)))
    renewed = func.count(Project.id).filter(Project.state == ProjectState.COMPLETED)
    progress = [Progress(*row) for row in db.session.execute(
        select(Alliance.id, Alliance.name, renewed, Alliance.renewal_goal)
        .outerjoin(Project, Project.alliance_id == Alliance.id)
        .where(Alliance.id.in_(alliance_ids)).group_by(Alliance.id).order_by(Alliance.name))]
    return LeadWork(to_review=to_review, to_review_total=to_review[0].total if to_review else 0,
                    stuck=stuck, stuck_total=stuck[0].total if stuck else 0, progress=progress)


def open_proposals_of(signboard_ids: list[int]) -> dict[int, Project]:
    """signboard id → its proposal that has not ended (the database allows one per sign), in one query."""
    if not signboard_ids:
        return {}
    return {project.signboard_id: project for project in db.session.scalars(select(Project).where(
        Project.signboard_id.in_(signboard_ids), Project.state.not_in(ENDED_STATES)))}
