"""The project lifecycle as one explicit table: (state, action) → next state, who may, and guards.

Views, buttons and tests all read this table. Later domains (funds, works, safety) add their own
rows and guards when the app starts (`lifecycle.add`, `@lifecycle.guard`, `@lifecycle.after`); this
module never imports them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.timeutil import utcnow

S = ProjectState
Who = Callable[[User, Project], bool]


@dataclass(frozen=True)
class Attempt:
    """What the acting user sent along with an action."""

    reason: str = ""


Guard = Callable[[Project, User, Attempt], "str | LazyString | None"]
AfterHook = Callable[[Project, User, "Transition", Attempt], None]


@dataclass(frozen=True)
class Transition:
    source: ProjectState
    action: str
    target: ProjectState
    who: Who
    label: LazyString
    needs_reason: bool = False
    style: str = "primary"  # how its button looks: primary, secondary or danger


def may(permission: str) -> Who:
    """A `who` rule: the user holds `permission` on the project (see authz.RULES)."""

    def check(user: User, project: Project) -> bool:
        return authz.can(user, permission, project)

    check.__name__ = f"may_{permission}"
    return check


class Lifecycle:
    def __init__(self) -> None:
        self._rows: dict[tuple[ProjectState, str], Transition] = {}
        self._guards: dict[str, list[Guard]] = defaultdict(list)
        self._after: dict[str, list[AfterHook]] = defaultdict(list)

    def add(self, *transitions: Transition) -> None:
        for t in transitions:
            key = (t.source, t.action)
            if key in self._rows:
                raise ValueError(f"Transition {t.action} from {t.source} is already in the table")
            self._rows[key] = t

    def guard(self, *actions: str) -> Callable[[Guard], Guard]:
        """Register a precondition for these actions: it returns a refusal message, or None to allow."""

        def register(fn: Guard) -> Guard:
            for action in actions:
                self._guards[action].append(fn)
            return fn

        return register

    def after(self, *actions: str) -> Callable[[AfterHook], AfterHook]:
        """Register something to do (in the same transaction) after these actions."""

        def register(fn: AfterHook) -> AfterHook:
            for action in actions:
                self._after[action].append(fn)
            return fn

        return register

    @property
    def rows(self) -> list[Transition]:
        return list(self._rows.values())

    def find(self, state: ProjectState, action: str) -> Transition | None:
        return self._rows.get((state, action))

    def actions_for(self, user: User, project: Project) -> list[Transition]:
        """The actions this user may take on the project now: the buttons they see."""
        return [t for (state, _), t in self._rows.items() if state == project.state and t.who(user, project)]

    def refusal(self, user: User, project: Project, action: str, attempt: Attempt) -> str | None:
        """Why this action is refused now, or None when it may go ahead."""
        transition = self.find(project.state, action)
        if transition is None:
            return str(_l("This is not possible while the project is “%(state)s”.", state=project.state.label))
        if not transition.who(user, project):
            return str(NotAllowed())
        if transition.needs_reason and not attempt.reason.strip():
            return str(_l("Please give a reason."))
        for guard in self._guards.get(action, []):
            message = guard(project, user, attempt)
            if message:
                return str(message)
        return None

    def perform(self, user: User, project: Project, action: str, attempt: Attempt | None = None) -> Transition:
        """Move the project by `action`, record it, run the after-hooks, and commit."""
        attempt = attempt or Attempt()
        transition = self.find(project.state, action)
        if transition is not None and not transition.who(user, project):
            raise NotAllowed()
        message = self.refusal(user, project, action, attempt)
        if message:
            raise DomainError(message)
        # Only moves a project still in the source state: a double submit or a second reviewer
        # acting at the same moment finds nothing to update and is told so.
        moved = db.session.execute(
            update(Project)
            .where(Project.id == project.id, Project.state == transition.source)
            .values(state=transition.target, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if moved != 1:
            db.session.rollback()
            raise DomainError(_l("Someone else changed this project a moment ago. Please look again."))
        db.session.expire(project, ["state", "updated_at"])
        audit.record(
            user, f"project.{action}", project, alliance_id=project.alliance_id,
            street_id=project.alliance.street_id, **{"from": str(transition.source), "to": str(transition.target)},
            reason=attempt.reason.strip() or None,
            version=project.latest_version.number if project.latest_version else None,
        )
        for hook in self._after.get(action, []):
            hook(project, user, transition, attempt)
        db.session.commit()
        return transition


lifecycle = Lifecycle()

# States in which the shop may still withdraw: anything before a contract is signed.
BEFORE_CONTRACT = (S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.DESIGN_APPROVED, S.PERMIT_GRANTED,
                   S.PERMIT_DENIED, S.FUNDED)

lifecycle.add(
    Transition(S.DRAFT, "submit", S.SUBMITTED, may("propose"), _l("Submit for review")),
    Transition(S.CHANGES_REQUESTED, "submit", S.SUBMITTED, may("propose"), _l("Submit the new version")),
    Transition(S.SUBMITTED, "approve_design", S.DESIGN_APPROVED, may("review"), _l("Approve the design")),
    Transition(S.SUBMITTED, "request_changes", S.CHANGES_REQUESTED, may("review"), _l("Ask for changes"),
               needs_reason=True, style="secondary"),
    Transition(S.SUBMITTED, "reject", S.REJECTED, may("review"), _l("Reject"), needs_reason=True, style="danger"),
    *(Transition(state, "withdraw", S.WITHDRAWN, may("withdraw"), _l("Withdraw the proposal"), style="danger")
      for state in BEFORE_CONTRACT),
)


audit.register_labels({
    "project.create": _l("started the proposal"),
    "project.version_added": _l("added a design version"),
    "project.comment": _l("commented"),
    "project.submit": _l("submitted the design for review"),
    "project.approve_design": _l("approved the design"),
    "project.request_changes": _l("asked for changes"),
    "project.reject": _l("rejected the design"),
    "project.withdraw": _l("withdrew the proposal"),
    "guidelines_updated": _l("Design guidelines changed"),
}, objects={"project": _l("Renovation project"), "designguideline": _l("Design guidelines")})


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


@lifecycle.guard("submit")
def new_version_after_change_request(project: Project, user: User, attempt: Attempt) -> LazyString | None:
    if project.state != S.CHANGES_REQUESTED:
        return None
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
    from flask import url_for

    from merchant_alliance.notifications.services import notify
    from merchant_alliance.projects.services import people_concerned

    notify(people_concerned(project) - {user.id}, NOTICES[transition.action],
           link=url_for("projects.project", project_id=project.id),
           shop=project.shop.name, title=project.title, reason=attempt.reason.strip())
