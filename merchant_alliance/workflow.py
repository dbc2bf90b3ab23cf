"""The state-machine engine: every workflow (the project lifecycle, expense requests, and next work orders,
milestones, permits, inspections, rectifications) is one `Workflow` over one model with a `state` column.

A workflow is an explicit table: rows (state, action) → next state, each with who may take it and the label
of its button; guards keyed by (state, action) that may refuse a move with a reason; after-hooks run in
the same transaction; and named activities allowed in some states without a move ("add a design version",
"set the budget"), so that pages and services ask the machine instead of keeping lists of states.

A move is a compare-and-set UPDATE (only an object still in the row's state moves, so two people acting
at once cannot both win) and one audit event. The engine never commits: the service that called it does,
together with whatever else it wrote. A refusal after the engine wrote something rolls the transaction
back, so nothing half-done can be committed by a caller that goes on.

The engine knows no domain. A workflow's own module defines it; other domains add their rows, guards and
hooks from a function their `init_app` calls (adding the same row or hook again changes nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from merchant_alliance import audit, authz
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.timeutil import utcnow

if TYPE_CHECKING:
    from merchant_alliance.accounts.models import User

T = TypeVar("T")  # the model whose objects move
Who = Callable[["User", Any], bool]  # may this user take this row on this object?


@dataclass(frozen=True)
class Attempt:
    """What the acting user sent along with an action."""

    reason: str = ""


@dataclass(frozen=True)
class Transition:
    """One row of a workflow's table."""

    source: Enum
    action: str
    target: Enum
    who: Who
    label: LazyString | str
    needs_reason: bool = False
    style: str = "primary"  # how its button looks: primary, secondary or danger
    event: str = ""  # the audit event's name after the workflow's prefix; the action's own name when empty
    button: bool = True  # False: taken only by a service (an inspection's result), never from a button
    page: str = ""  # the endpoint of the form page through which the row is taken (`<model>_id` = the object's id)
    by: Who | None = None  # whose step it is, when fewer people are expected to take it than may (`who`)

    def expected_of(self, user: User, obj: Any) -> bool:
        """Whether this is `user`'s own step (not one they merely may take for someone else)."""
        return (self.by or self.who)(user, obj)


@dataclass(frozen=True)
class Step:
    """An activity offered as someone's next step on the object's page: `label` links to the form page `page`
    (`<model>_id` = the object's id) for whom `who` allows and `by` expects, while `needed(obj)` says it is
    still to do (a budget not set yet)."""

    label: LazyString | str
    who: Who
    page: str
    by: Who | None = None
    needed: Callable[[Any], bool] | None = None

    def expected_of(self, user: User, obj: Any) -> bool:
        return (self.by or self.who)(user, obj)


@dataclass(frozen=True)
class Standing:
    """Where an object stands for one person: `step` is "act" (the one button `first` moves it on), "decide"
    (several outcomes to choose between, below what they are about), "go" (to the form page `page`, whose link
    says `label`), "wait" (for the steps in `waiting_for`, which others take) or "end" (no row leaves its
    state)."""

    step: str
    first: Transition | None = None
    waiting_for: tuple[LazyString | str, ...] = ()
    label: LazyString | str = ""
    page: str = ""


Guard = Callable[[Any, "User", Attempt], "str | LazyString | None"]  # (object, user, attempt) → refusal or None
AfterHook = Callable[[Any, "User", Transition, Attempt], None]


@cache
def may(permission: str, on: Callable[[Any], Any] | None = None) -> Who:
    """A `who` rule: the user holds `permission` (authz) on the object, or on what `on` gives for it (e.g. its
    alliance). The same arguments give the same rule, so registering a row twice is harmless."""

    def check(user: User, obj: Any) -> bool:
        return authz.can(user, permission, on(obj) if on is not None else obj)

    check.__name__ = f"may_{permission}"
    return check


class Workflow(Generic[T]):
    """One state machine over `model` (which has `id` and `state` columns, and `updated_at` if it is stamped).

    `name` prefixes its audit events (`project.submit`). `not_now` refuses an action that the object's state
    has no row for (it may say `%(state)s`); `conflict` is said when someone else moved the object first;
    `describe(obj, transition)` gives the audit event's scope and details (alliance_id=…, to=…).
    """

    def __init__(self, name: str, model: type[T], *, not_now: LazyString | str, conflict: LazyString | str,
                 describe: Callable[[T, Transition], dict[str, Any]] | None = None) -> None:
        self.name = name
        self.model = model
        self._not_now = not_now
        self._conflict = conflict
        self._describe = describe or (lambda obj, transition: {})
        self._rows: dict[tuple[Enum, str], Transition] = {}
        self._guards: list[tuple[Enum | None, str, Guard]] = []
        self._after: list[tuple[Enum | None, str, AfterHook]] = []
        self._explanations: list[tuple[Enum | None, str, LazyString | str]] = []
        self._activities: dict[str, frozenset[Enum]] = {}
        self._steps: dict[str, Step] = {}

    # --- the table ------------------------------------------------------------------------------------

    def add(self, *transitions: Transition) -> None:
        for t in transitions:
            key = (t.source, t.action)
            if key in self._rows and self._rows[key] != t:
                raise ValueError(f"Transition {t.action} from {t.source} is already in the table")
            self._rows[key] = t

    def add_guard(self, guard: Guard, *actions: str, states: Iterable[Enum] | None = None) -> Guard:
        """A precondition of these actions, from these states (from any state when none are named): it returns
        a refusal message, or None to allow."""
        _register(self._guards, guard, actions, states)
        return guard

    def add_after(self, hook: AfterHook, *actions: str, states: Iterable[Enum] | None = None) -> AfterHook:
        """Something to do after these moves, in the same transaction; a DomainError it raises undoes the move."""
        _register(self._after, hook, actions, states)
        return hook

    def guard(self, *actions: str, states: Iterable[Enum] | None = None) -> Callable[[Guard], Guard]:
        """`add_guard` as a decorator."""
        return lambda fn: self.add_guard(fn, *actions, states=states)

    def after(self, *actions: str, states: Iterable[Enum] | None = None) -> Callable[[AfterHook], AfterHook]:
        """`add_after` as a decorator."""
        return lambda fn: self.add_after(fn, *actions, states=states)

    def explain(self, action: str, message: LazyString | str, *states: Enum) -> None:
        """What to say when `action` is not possible in these states (in any state when none are named) instead
        of the workflow's `not_now`; it may say `%(state)s`."""
        for state in states or (None,):
            if (state, action, message) not in self._explanations:
                self._explanations.append((state, action, message))

    def allow(self, activity: str, *states: Enum, step: Step | None = None) -> None:
        """Something done to an object without moving it (add a version, set a budget) that only these states
        allow: ask `allows(obj, activity)`, and `hold(obj, activity)` where it is written. With `step`, the
        object's page offers it as a next step (see `standing`)."""
        wanted = frozenset(states)
        if self._activities.setdefault(activity, wanted) != wanted:
            raise ValueError(f"{activity} is already allowed in other states")
        if step is not None:
            self._steps[activity] = step

    @property
    def rows(self) -> list[Transition]:
        return list(self._rows.values())

    def find(self, state: Enum, action: str) -> Transition | None:
        return self._rows.get((state, action))

    # --- questions --------------------------------------------------------------------------------------

    def states_allowing(self, name: str) -> frozenset[Enum]:
        """The states in which `name` (an action of the table, or an activity) is possible."""
        sources = {source for source, action in self._rows if action == name}
        return frozenset(sources) | self._activities.get(name, frozenset())

    def allows(self, obj: T, name: str) -> bool:
        """Whether the object's state allows `name` (an action of the table, or an activity), whoever asks."""
        return obj.state in self.states_allowing(name)

    def actions_for(self, user: User, obj: T) -> list[Transition]:
        """The rows this user may take on the object now: the buttons they see (guards still have their say)."""
        return [t for (state, _), t in self._rows.items() if state == obj.state and t.button and t.who(user, obj)]

    def standing(self, user: User, obj: T, actions: list[Transition] | None = None,
                 blocked: Iterable[str] = ()) -> Standing:
        """What the first screen of the object's page offers this person, from the table. `actions`: their
        button rows the guards allow now (all of them by default); `blocked`: the actions of their rows a guard
        refuses whatever they send.

        In order: a choice between outcomes (a forward button beside one that needs a reason, a reasoned move
        that is no refusal, or several forward buttons) is a decision, taken after looking at the object; one
        forward button is the step; else a row taken through a form page, then an activity step still needed;
        otherwise the forward steps others are expected to take are what it waits for (a refusal left to this
        person, like rejecting, is no step forward), and a state no row leaves is the end. Only steps expected
        of the person count as theirs (`by`): a lead who may propose for a shop still waits for the shop."""
        actions = self.actions_for(user, obj) if actions is None else actions
        blocked = set(blocked)
        mine = [t for t in actions if t.action not in blocked and t.expected_of(user, obj)]
        forward = [t for t in mine if t.style == "primary" and not t.needs_reason]
        reasoned = [t for t in mine if t.needs_reason]
        if (forward and reasoned) or any(t.style != "danger" for t in reasoned) or len(forward) > 1:
            return Standing("decide")
        if forward:
            return Standing("act", first=forward[0])
        here = [t for t in self.rows if t.source == obj.state]
        to_do = self._steps_now(obj)
        steps = [(t.label, t.page) for t in here if t.page and t.who(user, obj) and t.expected_of(user, obj)]
        steps += [(s.label, s.page) for s in to_do if s.who(user, obj) and s.expected_of(user, obj)]
        if steps:
            return Standing("go", label=steps[0][0], page=steps[0][1])
        others = [t.label for t in here if t.style == "primary" and not t.needs_reason and t.action not in blocked
                  and not (t.who(user, obj) and t.expected_of(user, obj))]
        others += [s.label for s in to_do if not s.expected_of(user, obj)]
        if others:
            return Standing("wait", waiting_for=tuple(dict.fromkeys(others)))
        return Standing("wait" if here else "end")

    def _steps_now(self, obj: T) -> list[Step]:
        """The activity steps the object's state allows that are still to do."""
        return [step for activity, step in self._steps.items()
                if obj.state in self._activities[activity] and (step.needed is None or step.needed(obj))]

    def not_now(self, obj: T, action: str) -> str:
        """Why `action` is not possible in the object's state."""
        specific = [m for state, a, m in self._explanations if a == action and state == obj.state]
        general = [m for state, a, m in self._explanations if a == action and state is None]
        message = (specific or general or [self._not_now])[0]
        return str(DomainError(message, state=getattr(obj.state, "label", obj.state)))

    def refusal(self, user: User, obj: T, action: str, attempt: Attempt | None = None, *,
                internal: bool = False) -> str | None:
        """Why this action is refused now, or None when it may go ahead. A row without a button is taken only
        by the service that owns it (`internal`)."""
        attempt = attempt or Attempt()
        transition = self.find(obj.state, action)
        if transition is None or not (transition.button or internal):
            return self.not_now(obj, action)
        if not transition.who(user, obj):
            return str(NotAllowed())
        if transition.needs_reason and not attempt.reason.strip():
            return str(_l("Please give a reason."))
        for guard in _matching(self._guards, obj.state, action):
            message = guard(obj, user, attempt)
            if message:
                return str(message)
        return None

    def check(self, user: User, obj: T, action: str, attempt: Attempt | None = None, *,
              internal: bool = False) -> Transition:
        """The row `action` takes now, or the refusal raised: NotAllowed for someone who may not take it, a
        DomainError saying why not for everything else. Nothing is written."""
        transition = self.find(obj.state, action)
        if transition is not None and not transition.who(user, obj):
            raise NotAllowed()
        message = self.refusal(user, obj, action, attempt, internal=internal)
        if message:
            raise DomainError(message)
        return transition

    # --- writes (the caller commits) -------------------------------------------------------------------

    def perform(self, user: User, obj: T, action: str, attempt: Attempt | None = None, *,
                values: dict[str, Any] | None = None, details: dict[str, Any] | None = None,
                internal: bool = False) -> Transition:
        """Move the object by `action`: check, compare-and-set, one audit event, then the after-hooks. No commit.

        `values` are more columns written by the same UPDATE (a decision's reason, the entry that paid);
        `details` go into the audit event. `internal`: the service that owns a row without a button takes it.
        """
        attempt = attempt or Attempt()
        transition = self.check(user, obj, action, attempt, internal=internal)
        changes = {"state": transition.target, **(values or {})}
        if hasattr(self.model, "updated_at"):
            changes["updated_at"] = utcnow()
        # Only an object still in the row's state moves: a double submit, or a second person acting at the
        # same moment, finds nothing to update and is told so.
        moved = db.session.execute(
            update(self.model)
            .where(self.model.id == obj.id, self.model.state == transition.source)
            .values(**changes)
            .execution_options(synchronize_session=False, cache_scopes=scopes_of(obj))
        ).rowcount
        if moved != 1:
            db.session.rollback()
            raise DomainError(self._conflict)
        db.session.expire(obj, list(changes))
        audit.record(user, f"{self.name}.{transition.event or action}", obj, **self._describe(obj, transition),
                     reason=attempt.reason.strip() or None, **(details or {}))
        try:
            for hook in _matching(self._after, transition.source, action):
                hook(obj, user, transition, attempt)
        except DomainError:
            db.session.rollback()
            raise
        return transition

    def hold(self, obj: T, activity: str, message: LazyString | str | None = None) -> None:
        """Check where it is written that the object is still in a state allowing `activity`, and hold its row
        until the commit, so that no move slips in between. Refused (rolled back) when it moved meanwhile:
        with `message`, or the workflow's `conflict`."""
        held = db.session.execute(
            update(self.model)
            .where(self.model.id == obj.id, self.model.state.in_(sorted(self.states_allowing(activity), key=str)))
            .values(state=self.model.state)  # changes nothing; takes the row's lock
            .execution_options(synchronize_session=False, cache_scopes=())
        ).rowcount
        if held != 1:
            db.session.rollback()
            raise DomainError(message or self._conflict)


def _register(registry: list, fn: Callable, actions: Iterable[str], states: Iterable[Enum] | None) -> None:
    for action in actions:
        for state in states or (None,):
            if (state, action, fn) not in registry:
                registry.append((state, action, fn))


def _matching(registry: list, state: Enum, action: str) -> list:
    """The functions registered for this action from this state or from any state, in the order registered."""
    return [fn for s, a, fn in registry if a == action and s in (None, state)]
