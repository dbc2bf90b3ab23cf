"""Renovation proposals: signboards, projects, design versions, comments, guidelines, timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Alliance, Membership, Role, Street, User
from merchant_alliance.accounts.services import scope_ids
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.notifications.services import notify, page
from merchant_alliance.once import lock_row, submit_once
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.photos.services import prepare_photos, save_photos
from merchant_alliance.projects.guidelines import GUIDELINE_FIELDS, guideline_for
from merchant_alliance.projects.lifecycle import Attempt, Transition, lifecycle
from merchant_alliance.projects.models import (
    ENDED_STATES,
    Comment,
    DesignGuideline,
    DesignVersion,
    Project,
    design_version_photos,
)
from merchant_alliance.shops.models import Shop, Signboard
from merchant_alliance.shops.services import MAX_METRES, check_dimensions

ALREADY_OPEN = _l("This signboard already has an open renovation proposal.")
SPEC_FIELDS = ("sign_type", "width_m", "height_m", "projection_m", "clearance_m", "materials", "illuminated",
               "lighting", "fixing_method", "estimated_cost_fen", "notes")


# --- projects and versions ---------------------------------------------------------------------


def propose_renovation(actor: User, signboard: Signboard, title: str, description: str = "", *,
                       idempotency_key: str | None = None) -> Project:
    """Start a renovation proposal (a draft) for one of the shop's signboards. One form, one proposal."""
    shop = signboard.shop
    if not authz.can(actor, "propose", shop):
        raise NotAllowed()
    title = (title or "").strip()
    if not title:
        raise DomainError(_l("Please give the proposal a title."))

    def write() -> Project:
        if open_proposal(signboard) is not None:
            raise DomainError(ALREADY_OPEN)
        project = Project(shop=shop, alliance_id=shop.alliance_id, signboard=signboard, title=title[:120],
                          description=(description or "").strip(), created_by=actor)
        db.session.add(project)
        db.session.flush()
        audit.record(actor, "project.create", project, name=project.title, **scope_ids(shop=shop))
        return project

    # The database holds the rule too: a proposal committed a moment ago by someone else wins.
    return submit_once(actor, idempotency_key, Project, write, conflict=DomainError(ALREADY_OPEN))


def open_proposal(signboard: Signboard) -> int | None:
    """The id of the signboard's proposal that has not ended, if there is one (the database allows one)."""
    return db.session.scalar(select(Project.id).where(
        Project.signboard_id == signboard.id, Project.state.not_in(ENDED_STATES)))


def move(actor: User, project: Project, action: str, attempt: Attempt | None = None) -> Transition:
    """Take one step of the lifecycle (submit, approve the design, withdraw, fund …) and commit it."""
    transition = lifecycle.perform(actor, project, action, attempt)
    db.session.commit()
    return transition


def add_design_version(actor: User, project: Project, specs: dict[str, Any], *,
                       mockups: Sequence[FileStorage] = (), current: Sequence[FileStorage] = (),
                       idempotency_key: str | None = None) -> DesignVersion:
    """Add the next design version with its mock-ups and photos of the sign as it is now.

    Without new photos of the sign as it is now, the new version keeps the previous version's: the sign
    on the wall has not changed, only the design has. The first version takes the photos the signboard was
    registered with: the app already has them, so the owner is not asked again.
    """
    if not authz.can(actor, "propose", project):
        raise NotAllowed()
    if not lifecycle.allows(project, "add_version"):
        raise DomainError(_l("A new version can only be added to a draft or when changes were requested."))
    specs = {k: specs.get(k) for k in SPEC_FIELDS if k in specs}
    check_dimensions(specs)

    def write() -> DesignVersion:
        # Every photo processed first (the slow part, before the database is written to), then stored,
        # then the version, numbered with the project held so that two versions added at once get two numbers.
        new_mockups, new_current = prepare_photos(mockups), prepare_photos(current)
        stored = save_photos(actor, new_mockups + new_current, alliance=project.alliance, shop=project.shop)
        saved = {"mockup": stored[:len(new_mockups.images)], "current": stored[len(new_mockups.images):]}
        lock_row(Project, project.id)
        previous = db.session.scalar(select(DesignVersion).where(DesignVersion.project_id == project.id)
                                     .order_by(DesignVersion.number.desc()).limit(1))
        number = (previous.number if previous else 0) + 1
        version = DesignVersion(project=project, number=number, created_by=actor, **specs)
        db.session.add(version)
        db.session.flush()
        if not saved["current"]:
            saved["current"] = list(previous.current_photos) if previous is not None else list(project.signboard.photos)
        rows = [{"version_id": version.id, "photo_id": photo.id, "kind": kind}
                for kind, photos in saved.items() for photo in photos]
        if rows:
            db.session.execute(insert(design_version_photos).execution_options(cache_scopes=scopes_of(project)),
                               rows)
        audit.record(actor, "project.version_added", project, version=number, **scope_ids(shop=project.shop))
        return version

    return submit_once(actor, idempotency_key, DesignVersion, write)


def add_comment(actor: User, project: Project, body: str, photos: Sequence[FileStorage] = (), *,
                idempotency_key: str | None = None) -> Comment:
    """Comment on a proposal, with photos; the others concerned are notified. One form, one comment."""
    if not authz.can(actor, "comment", project):
        raise NotAllowed()
    body = (body or "").strip()
    if not body:
        raise DomainError(_l("Please write something before sending."))
    if len(body) > 5000:
        raise DomainError(_l("A comment can be at most %(n)s characters.", n=5000))

    def write() -> Comment:
        comment = Comment(project=project, author=actor, body=body)
        comment.photos.extend(save_photos(actor, photos, alliance=project.alliance, shop=project.shop))
        db.session.add(comment)
        db.session.flush()
        audit.record(actor, "project.comment", project, comment=comment.id, **scope_ids(shop=project.shop))
        notify(people_concerned(project) - {actor.id}, N_("%(name)s commented on “%(title)s”."),
               page("projects.project", project_id=project.id), name=actor.name, title=project.title)
        return comment

    return submit_once(actor, idempotency_key, Comment, write)


def signboards_exist(shop: Shop) -> bool:
    return db.session.scalar(select(Signboard.id).where(Signboard.shop_id == shop.id).limit(1)) is not None


def people_concerned(project: Project) -> set[int]:
    """Who hears about a project: its shop's owners, its creator and the alliance's leads."""
    ids = set(db.session.scalars(select(Membership.user_id).where(
        ((Membership.role == Role.SHOP_OWNER) & (Membership.shop_id == project.shop_id))
        | ((Membership.role == Role.ALLIANCE_LEAD) & (Membership.alliance_id == project.alliance_id)
           & Membership.confirmed_at.is_not(None))
    )))
    ids.add(project.created_by_id)
    return ids


# --- guidelines --------------------------------------------------------------------------------


def update_guidelines(actor: User, street: Street, values: dict[str, Any]) -> DesignGuideline:
    """The street office changes its design guidelines; every later check uses them."""
    if not authz.can(actor, "edit_guidelines", street):
        raise NotAllowed()
    share = values.get("max_width_share")
    if share is None or not (Decimal("0.1") <= Decimal(share) <= Decimal("1")):
        raise DomainError(_l("The width share must be between 0.10 and 1.00."))
    for name in ("max_height_m", "max_projection_wall_m", "max_projection_projecting_m", "min_clearance_m"):
        value = values.get(name)
        if value is None or not (Decimal("0") <= Decimal(value) <= MAX_METRES):
            raise DomainError(_l("Each limit must be between 0 and %(max)s metres.", max=MAX_METRES))
    lock_row(Street, street.id)  # two first edits at once: the second waits and then changes the saved row
    guideline = guideline_for(street.id)
    changes = {}
    for name in GUIDELINE_FIELDS:
        if name in values and getattr(guideline, name) != values[name]:
            changes[name] = [str(getattr(guideline, name)), str(values[name])]
            setattr(guideline, name, values[name])
    guideline.updated_by_id = actor.id
    db.session.add(guideline)
    db.session.flush()
    audit.record(actor, "guidelines_updated", guideline, street_id=street.id, changes=changes)
    db.session.commit()
    return guideline


# --- the alliance's renewal goal ---------------------------------------------------------------

MAX_RENEWAL_GOAL = 10_000  # far more signs than a street has: anything larger is a typing slip


def set_renewal_goal(actor: User, alliance: Alliance, goal: int | None) -> None:
    """The lead sets how many signs the alliance means to renew (None: no goal); its home shows the progress."""
    if not authz.can(actor, "set_renewal_goal", alliance):
        raise NotAllowed()
    if goal is not None and not 1 <= goal <= MAX_RENEWAL_GOAL:
        raise DomainError(_l("The goal must be a number of signs between %(min)s and %(max)s."), min=1,
                          max=MAX_RENEWAL_GOAL)
    previous = alliance.renewal_goal
    if previous == goal:
        return
    alliance.renewal_goal = goal
    audit.record(actor, "alliance.renewal_goal_set", alliance, **scope_ids(alliance=alliance),
                 goal=goal, previous=previous)
    db.session.commit()


# --- reading -----------------------------------------------------------------------------------


@dataclass
class TimelineEntry:
    at: datetime
    actor: User | None
    action: str
    details: dict[str, Any]
    comment: Comment | None = None
    version: DesignVersion | None = None
    photos: list = field(default_factory=list)


def timeline(project: Project) -> list[TimelineEntry]:
    """Every transition, version, comment and photo of the project in order: a fixed number of queries."""
    events = list(db.session.scalars(audit.events_for_project(project)))
    comments = {c.id: c for c in db.session.scalars(
        select(Comment).where(Comment.project_id == project.id)
        .options(selectinload(Comment.photos), selectinload(Comment.author)))}
    versions = {v.number: v for v in project.versions}  # loaded with the project, with their photos
    entries = []
    for event in reversed(events):
        entry = TimelineEntry(at=event.at, actor=event.actor, action=event.action, details=event.details or {})
        if event.action == "project.comment":
            entry.comment = comments.get(event.details.get("comment"))
            entry.photos = list(entry.comment.photos) if entry.comment else []
        elif event.action == "project.version_added":
            entry.version = versions.get(event.details.get("version"))
            if entry.version:
                entry.photos = [*entry.version.current_photos, *entry.version.mockups]
        entries.append(entry)
    return entries
