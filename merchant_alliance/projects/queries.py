"""What the proposal pages show and list: read-only, with their loading planned here, nothing written."""

from __future__ import annotations

import functools

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import joinedload, selectinload

from merchant_alliance.accounts.models import Alliance, Role, User
from merchant_alliance.extensions import RowPage, db
from merchant_alliance.projects.models import DesignVersion, Project, ProjectState
from merchant_alliance.shops.models import Shop


def load_project(project_id: int, *, with_versions: bool = True) -> Project | None:
    """A project with its shop, alliance, signboard and creator, and (`with_versions`) its versions and their
    photos, loaded up front."""
    statement = _project_statement()
    if with_versions:
        statement = statement.options(*_versions_options())
    return db.session.scalar(statement, {"project_id": project_id})


def load_versions(project: Project) -> list[DesignVersion]:
    """The project's versions and their photos, loaded into `project.versions` (for a project loaded without)."""
    db.session.scalars(_project_statement().options(*_versions_options())
                       .execution_options(populate_existing=True), {"project_id": project.id}).all()
    return project.versions


@functools.cache
def _project_statement():
    return select(Project).where(Project.id == bindparam("project_id")).options(
        joinedload(Project.alliance), joinedload(Project.shop), joinedload(Project.signboard),
        joinedload(Project.created_by),
    )


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
