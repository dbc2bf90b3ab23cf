"""The project lifecycle as one explicit table: (state, action) → next state, who may, and guards.

It is an instance of the one state-machine engine (merchant_alliance.workflow). Views, buttons and tests
all read this table. Later domains (funds, works, safety) add their own rows, guards and hooks from their
`init_app` (`lifecycle.add`, `lifecycle.add_guard`, `lifecycle.add_after`); this module never imports them.
The services that move a project commit (projects.services.move); the engine does not.
"""

from __future__ import annotations

from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.workflow import Attempt, Step, Transition, Workflow, may

__all__ = ["BEFORE_CONTRACT", "Attempt", "Step", "Transition", "lifecycle", "may", "shop_side"]

S = ProjectState


def _describe(project: Project, transition: Transition) -> dict[str, Any]:
    """What each move's audit event says besides who and when: the timeline shows `to`."""
    return {
        "alliance_id": project.alliance_id, "street_id": project.alliance.street_id,
        "from": str(transition.source), "to": str(transition.target),
        "version": project.latest_version.number if project.latest_version else None,
    }


lifecycle: Workflow[Project] = Workflow(
    "project", Project,
    not_now=_l("This is not possible while the project is “%(state)s”."),
    conflict=_l("Someone else changed this project a moment ago. Please look again."),
    describe=_describe,
)

# States in which the shop may still withdraw: anything before a contract is signed.
BEFORE_CONTRACT = (S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.DESIGN_APPROVED, S.PERMIT_REQUESTED,
                   S.PERMIT_GRANTED, S.PERMIT_DENIED, S.FUNDED)

def shop_side(user: User, project: Project) -> bool:
    """Who speaks for the shop in this proposal: its owners, or whoever proposed it on its behalf. A lead may
    propose too, but the shop's steps are not the lead's next step (see `Workflow.standing`)."""
    return authz.owns_shop(user, project.shop_id) or project.created_by_id == user.id


lifecycle.add(
    Transition(S.DRAFT, "submit", S.SUBMITTED, may("propose"), _l("Submit for review"), by=shop_side),
    Transition(S.CHANGES_REQUESTED, "submit", S.SUBMITTED, may("propose"), _l("Submit the new version"),
               by=shop_side),
    Transition(S.SUBMITTED, "approve_design", S.DESIGN_APPROVED, may("review"), _l("Approve the design")),
    Transition(S.SUBMITTED, "request_changes", S.CHANGES_REQUESTED, may("review"), _l("Ask for changes"),
               needs_reason=True, style="secondary"),
    Transition(S.SUBMITTED, "reject", S.REJECTED, may("review"), _l("Reject"), needs_reason=True, style="danger"),
    *(Transition(state, "withdraw", S.WITHDRAWN, may("withdraw"), _l("Withdraw the proposal"), style="danger")
      for state in BEFORE_CONTRACT),
)
# A shop adds design versions only while the alliance is not looking at one.
lifecycle.allow("add_version", S.DRAFT, S.CHANGES_REQUESTED,
                step=Step(_l("Add a new version"), may("propose"), "projects.new_version", by=shop_side))


AUDIT_LABELS = {
    "project.create": _l("started the proposal"),
    "project.version_added": _l("added a design version"),
    "project.comment": _l("commented"),
    "project.submit": _l("submitted the design for review"),
    "project.approve_design": _l("approved the design"),
    "project.request_changes": _l("asked for changes"),
    "project.reject": _l("rejected the design"),
    "project.withdraw": _l("withdrew the proposal"),
    "guidelines_updated": _l("Design guidelines changed"),
    "alliance.renewal_goal_set": _l("set the alliance's renewal goal"),
}
AUDIT_OBJECTS = {"project": _l("Renovation project"), "designguideline": _l("Design guidelines"),
                 "alliance": _l("Alliance")}


# What an open project waits for, as its shop reads it on the home page: whose turn it is (`True`: the shop's
# own) and what is awaited. Every state of the lifecycle is here, those other domains' rows move through too;
# a changes request says its reason besides (see queries.owner_work).
WAITING_FOR: dict[ProjectState, tuple[bool, LazyString]] = {
    S.DRAFT: (True, _l("waiting for you: add a design and submit it")),
    S.SUBMITTED: (False, _l("waiting for the lead's review")),
    S.CHANGES_REQUESTED: (True, _l("changes asked of you")),
    S.DESIGN_APPROVED: (True, _l("waiting for you: send the structural plan to the street office")),
    S.PERMIT_REQUESTED: (False, _l("waiting for the street office's permit")),
    S.PERMIT_GRANTED: (False, _l("waiting for the lead to confirm the funding")),
    S.PERMIT_DENIED: (True, _l("permit denied: waiting for your revised plan")),
    S.FUNDED: (False, _l("waiting for the lead to choose a contractor")),
    S.CONTRACTED: (False, _l("waiting for the contractor to start the works")),
    S.IN_PROGRESS: (False, _l("works under way by the contractor")),
    S.INSTALLED: (False, _l("waiting for the street office's acceptance inspection")),
    S.INSPECTION: (False, _l("the street office is inspecting the sign")),
    S.PASSED: (False, _l("inspection passed")),
    S.FAILED: (True, _l("inspection failed: waiting for your fixes")),
    S.RECTIFICATION: (True, _l("waiting for your fixes before the re-inspection")),
}


# --- the projects domain's own guards ---------------------------------------------------------


@lifecycle.guard("submit")
def design_is_complete(project: Project, user: User, attempt: Attempt) -> str | LazyString | None:
    version = project.latest_version
    if version is None:
        return _l("Add a design version before submitting.")
    if not version.mockups:
        return _l("Add at least one mock-up of the new design before submitting.")
    if not version.current_photos:
        return _l("Add at least one photo of the sign as it is now before submitting.")
    return None


@lifecycle.guard("submit", states=[S.CHANGES_REQUESTED])
def new_version_after_change_request(project: Project, user: User, attempt: Attempt) -> LazyString | None:
    requested = last_event(project, "project.request_changes")
    reviewed = requested.details.get("version") if requested else None
    if reviewed is not None and project.latest_version.number <= reviewed:
        return _l("Upload a new version that answers the requested changes first.")
    return None


@lifecycle.guard("approve_design")
def not_own_design(project: Project, user: User, attempt: Attempt) -> LazyString | None:
    if project.created_by_id == user.id:
        return _l("You proposed this design, so another lead must approve it.")
    return None


@lifecycle.guard("approve_design")
def violations_explained(project: Project, user: User, attempt: Attempt) -> LazyString | None:
    from merchant_alliance.projects.guidelines import check, guideline_for, violations

    version = project.latest_version
    found = violations(check(version, project.shop.facade_width_m, guideline_for(project.alliance.street_id)))
    if found and not attempt.reason.strip():
        return _l("This design breaks %(n)s of the street's guidelines. Explain why you approve it anyway.",
                  n=len(found))
    return None


def last_event(project: Project, action: str) -> audit.AuditEvent | None:
    return db.session.scalar(
        audit.events_for_object(project).where(audit.AuditEvent.action == action).limit(1)
    )


# --- who hears about each move ----------------------------------------------------------------

NOTICES = {
    "submit": N_("%(shop)s submitted the design “%(title)s” for review."),
    "approve_design": N_("The design “%(title)s” has been approved."),
    "request_changes": N_("Changes were requested to the design “%(title)s”: %(reason)s"),
    "reject": N_("The design “%(title)s” was rejected: %(reason)s"),
    "withdraw": N_("%(shop)s withdrew the proposal “%(title)s”."),
}


@lifecycle.after(*NOTICES)
def notify_people_concerned(project: Project, user: User, transition: Transition, attempt: Attempt) -> None:
    from merchant_alliance.notifications.services import notify, page
    from merchant_alliance.projects.services import people_concerned

    notify(people_concerned(project) - {user.id}, NOTICES[transition.action],
           page("projects.project", project_id=project.id),
           shop=project.shop.name, title=project.title, reason=attempt.reason.strip())
