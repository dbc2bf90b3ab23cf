"""The state-machine engine on its own: a small workflow over renovation projects (not the real lifecycle),
moved by its table alone, refused by its guards and who-may rules, one audit event per move, after-hooks in
the move's transaction, and nothing committed until the caller commits."""

from __future__ import annotations

import subprocess
import sys

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from merchant_alliance import audit
from merchant_alliance.accounts.models import User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds.expenses import expense_requests
from merchant_alliance.funds.models import ExpenseState
from merchant_alliance.projects.lifecycle import BEFORE_CONTRACT, lifecycle
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.projects.services import propose_renovation
from merchant_alliance.shops.services import register_signboard
from merchant_alliance.workflow import Attempt, Step, Transition, Workflow, may
from tests.concurrency import at_once
from tests.projects.helpers import SIGNBOARD, state_of, upload

S = ProjectState
CONFLICT = "Someone else moved it first."


def proposer(user: User, project: Project) -> bool:
    return project.created_by_id == user.id


SEND = Transition(S.DRAFT, "send", S.SUBMITTED, proposer, "Send")
ACCEPT = Transition(S.SUBMITTED, "accept", S.DESIGN_APPROVED, may("review"), "Accept")
SEND_BACK = Transition(S.SUBMITTED, "send_back", S.CHANGES_REQUESTED, may("review"), "Send back", needs_reason=True,
                       style="secondary")
DROP = [Transition(state, "drop", S.WITHDRAWN, proposer, "Drop", style="danger") for state in (S.DRAFT, S.SUBMITTED)]


def toy() -> Workflow[Project]:
    """A workflow of the test's own, over projects: the engine knows nothing of the real lifecycle."""
    flow = Workflow("toy", Project, not_now="Not while it is “%(state)s”.", conflict=CONFLICT,
                    describe=lambda p, t: {"alliance_id": p.alliance_id, "to": str(t.target)})
    flow.add(SEND, ACCEPT, SEND_BACK, *DROP)
    flow.allow("retitle", S.DRAFT)
    return flow


@pytest.fixture
def english(app):
    with app.test_request_context("/"), force_locale("en"):
        yield


@pytest.fixture
def project(app, world, english) -> Project:
    """The Yuyuan Road shop owner's draft proposal (committed: the state a page would have loaded)."""
    signboard = register_signboard(world.a.owner, world.a.shop, SIGNBOARD, [upload()])
    return propose_renovation(world.a.owner, signboard, "咖啡馆新店招")


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_move_writes_the_state_and_one_audit_event_and_leaves_the_commit_to_the_caller(world, project):
    """The owner sends the draft: the row's next state is written with one event naming who and where to; the
    engine commits nothing, so the service calling it decides (here it changes its mind and rolls back)."""
    flow = toy()
    before = event_count()

    transition = flow.perform(world.a.owner, project, "send", Attempt(reason="  请审阅  "))

    assert transition is SEND
    assert (state_of(project), project.state) == (S.SUBMITTED, S.SUBMITTED)
    [event] = events("toy.send")
    assert (event.actor_id, event.object_id, event.alliance_id, event.details) == (
        world.a.owner.id, project.id, world.a.alliance.id, {"to": "submitted", "reason": "请审阅"})
    assert event_count() == before + 1

    db.session.rollback()
    assert (state_of(project), events("toy.send")) == (S.DRAFT, [])


def test_a_move_from_a_stale_page_finds_nothing_to_update_and_is_told_someone_else_was_first(world, project):
    """Two reviewers look at the same submitted project; one sends it back, the other's page still shows it
    submitted. The second move compares its state where it writes: nothing moves, and no event is added."""
    flow = toy()
    flow.perform(world.a.owner, project, "send")
    flow.perform(world.a.lead, project, "send_back", Attempt(reason="请收窄"))
    db.session.commit()
    set_committed_value(project, "state", S.SUBMITTED)  # what the other reviewer's page still shows
    before = event_count()

    with pytest.raises(DomainError) as caught:
        flow.perform(world.a.lead, project, "accept")

    assert type(caught.value) is DomainError and str(caught.value) == CONFLICT
    assert (state_of(project), event_count()) == (S.CHANGES_REQUESTED, before)


@pytest.mark.postgres_only
def test_two_people_pressing_the_same_button_at_the_same_moment_move_it_once(app, world, project):
    """Both of the shop's browsers send the draft at the same instant: one moves it, the other is refused, and the
    timeline has one event."""
    flow = toy()
    owner_id, project_id = world.a.owner.id, project.id

    def send() -> Transition:
        moved = flow.perform(db.session.get(User, owner_id), db.session.get(Project, project_id), "send")
        db.session.commit()
        return moved

    results = at_once(app, send, send)

    assert sorted(isinstance(r, DomainError) for r in results) == [False, True]
    assert (state_of(project), len(events("toy.send"))) == (S.SUBMITTED, 1)


def test_who_may_take_a_row_is_asked_first_and_a_refused_person_changes_nothing(world, project):
    """Only the proposer sends; a lead of the alliance may not, nor may anyone from another street."""
    flow = toy()
    for user in (world.a.lead, world.b.owner, world.nobody):
        assert flow.refusal(user, project, "send") == "You are not allowed to do that."
        with pytest.raises(NotAllowed):
            flow.perform(user, project, "send")
    assert (state_of(project), events("toy.send")) == (S.DRAFT, [])


def test_an_action_without_a_row_for_the_state_is_refused_with_its_own_explanation(world, project):
    """Accepting a draft is not in the table: refused, saying the state; an explanation given for that action
    (and for that state only, where one is named) replaces the workflow's general one."""
    flow = toy()
    with pytest.raises(DomainError, match="Not while it is “Draft”."):
        flow.perform(world.a.lead, project, "accept")

    flow.explain("accept", "Only what was sent can be accepted; this is “%(state)s”.")
    flow.explain("accept", "It was dropped.", S.WITHDRAWN)
    assert flow.refusal(world.a.lead, project, "accept") == "Only what was sent can be accepted; this is “Draft”."
    flow.perform(world.a.owner, project, "drop")
    assert flow.refusal(world.a.lead, project, "accept") == "It was dropped."
    assert state_of(project) == S.WITHDRAWN


def test_a_guard_keyed_by_state_and_action_refuses_only_there(world, project):
    """Dropping a draft is always possible; dropping one already sent needs a reason, as a guard on (sent, drop)
    says. The refusal is the guard's message, and the project stays where it was."""
    flow = toy()
    flow.add_guard(lambda p, user, attempt: None if attempt.reason.strip() else "Say why it is dropped.", "drop",
                   states=[S.SUBMITTED])
    assert flow.refusal(world.a.owner, project, "drop") is None  # from a draft: no guard

    flow.perform(world.a.owner, project, "send")
    before = event_count()
    with pytest.raises(DomainError, match="Say why it is dropped."):
        flow.perform(world.a.owner, project, "drop", Attempt(reason="   "))
    assert (state_of(project), event_count()) == (S.SUBMITTED, before)

    flow.perform(world.a.owner, project, "drop", Attempt(reason="店铺搬迁"))
    assert state_of(project) == S.WITHDRAWN


def test_a_row_that_needs_a_reason_is_refused_without_one(world, project):
    flow = toy()
    flow.perform(world.a.owner, project, "send")
    for reason in ("", "  \n "):
        with pytest.raises(DomainError, match="Please give a reason."):
            flow.perform(world.a.lead, project, "send_back", Attempt(reason=reason))
    assert state_of(project) == S.SUBMITTED


def test_after_hooks_run_in_the_moves_transaction_and_a_refusal_from_one_undoes_the_move(world, project):
    """A hook sees the new state and writes in the same transaction; when a hook refuses (say, the money is
    not there after all), the move, its event and what the hooks wrote are all rolled back."""
    flow = toy()
    seen = []

    @flow.after("send")
    def note_it(p: Project, user: User, transition: Transition, attempt: Attempt) -> None:
        seen.append(state_of(p))
        audit.record(user, "toy.noted", p)

    flow.perform(world.a.owner, project, "send")
    assert seen == [S.SUBMITTED] and len(events("toy.noted")) == 1
    db.session.rollback()

    @flow.after("send")
    def refuse(p: Project, user: User, transition: Transition, attempt: Attempt) -> None:
        raise DomainError("The money is not there after all.")

    with pytest.raises(DomainError, match="not there after all"):
        flow.perform(world.a.owner, project, "send")
    assert (state_of(project), events("toy.send"), events("toy.noted")) == (S.DRAFT, [], [])


def test_the_buttons_are_the_rows_of_the_state_each_person_may_take(world, project):
    flow = toy()
    assert flow.actions_for(world.a.owner, project) == [SEND, DROP[0]]
    assert flow.actions_for(world.a.lead, project) == []

    flow.perform(world.a.owner, project, "send")
    assert flow.actions_for(world.a.lead, project) == [ACCEPT, SEND_BACK]
    assert flow.actions_for(world.a.owner, project) == [DROP[1]]
    assert flow.actions_for(world.b.lead, project) == []


def test_an_activity_is_a_question_to_the_machine_and_is_held_where_it_is_written(world, project):
    """Retitling is allowed on a draft only. `hold` checks that where it writes: a page that loaded the draft
    before someone sent it is refused, and nothing is changed."""
    flow = toy()
    assert flow.allows(project, "retitle") and flow.allows(project, "send") and not flow.allows(project, "accept")
    assert flow.states_allowing("drop") == {S.DRAFT, S.SUBMITTED}
    flow.hold(project, "retitle")  # still a draft: held
    assert state_of(project) == S.DRAFT
    db.session.commit()

    flow.perform(world.a.owner, project, "send")
    db.session.commit()
    assert not flow.allows(project, "retitle")
    set_committed_value(project, "state", S.DRAFT)  # what an older page still shows
    with pytest.raises(DomainError, match="It was sent meanwhile."):
        flow.hold(project, "retitle", "It was sent meanwhile.")
    assert state_of(project) == S.SUBMITTED


def test_registering_the_same_rows_and_hooks_again_changes_nothing_and_a_clashing_row_is_refused(world, project):
    """Each app the process builds (tests build several) registers its domains again: the same rows, guards
    and hooks are kept once, and two different rows for one (state, action) are a programming error."""
    flow = toy()
    calls = []

    def count_it(p: Project, user: User, transition: Transition, attempt: Attempt) -> None:
        calls.append(transition.action)

    for _ in range(2):
        flow.add(SEND, ACCEPT)
        flow.add_after(count_it, "send")
        flow.allow("retitle", S.DRAFT)
    assert flow.rows == [SEND, ACCEPT, SEND_BACK, *DROP]
    flow.perform(world.a.owner, project, "send")
    assert calls == ["send"]

    with pytest.raises(ValueError, match="already in the table"):
        flow.add(Transition(S.DRAFT, "send", S.REJECTED, proposer, "Send"))
    with pytest.raises(ValueError, match="other states"):
        flow.allow("retitle", S.DRAFT, S.SUBMITTED)


# --- the workflows of the app are instances of the engine ----------------------------------------------


def test_the_project_lifecycle_and_expense_requests_are_instances_whose_state_rules_are_questions(app):
    """What pages and services asked of lists of states they kept themselves, they now ask the machine."""
    assert isinstance(lifecycle, Workflow) and isinstance(expense_requests, Workflow)
    assert lifecycle.states_allowing("add_version") == {S.DRAFT, S.CHANGES_REQUESTED}
    # Added by funds: a lead prepares the budget while the street office looks at the plan; funding follows the
    # permit (added by safety).
    assert lifecycle.states_allowing("set_budget") == {S.DESIGN_APPROVED, S.PERMIT_REQUESTED, S.PERMIT_DENIED,
                                                       S.PERMIT_GRANTED}
    assert lifecycle.states_allowing("fund") == {S.PERMIT_GRANTED}
    assert lifecycle.states_allowing("request_permit") == {S.DESIGN_APPROVED, S.PERMIT_DENIED}
    assert lifecycle.states_allowing("grant_permit") == lifecycle.states_allowing("deny_permit") == {
        S.PERMIT_REQUESTED}
    assert lifecycle.states_allowing("withdraw") == set(BEFORE_CONTRACT)
    E = ExpenseState
    assert expense_requests.states_allowing("add_receipts") == {E.DRAFT}
    assert expense_requests.states_allowing("cancel") == {E.DRAFT, E.SUBMITTED, E.APPROVED}
    assert expense_requests.states_allowing("pay") == {E.APPROVED}


def test_importing_the_fund_adds_nothing_to_the_lifecycle_until_the_app_registers_it():
    """No registry is filled as a side effect of an import: the fund's step arrives when funds.init_app runs."""
    script = (
        "from merchant_alliance.funds import budgets, expenses, spending_views\n"
        "from merchant_alliance.projects.lifecycle import lifecycle\n"
        "assert not lifecycle.states_allowing('fund') and not lifecycle.states_allowing('set_budget')\n"
        "budgets.register_workflow_rows()\n"
        "assert lifecycle.states_allowing('fund')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)  # noqa: S603
    assert done.returncode == 0, done.stderr


def test_the_engine_knows_no_domain():
    """workflow.py imports no domain (accounts' User only for type hints): domains plug into it, never the
    other way round."""
    from tests.test_dependencies import ALL_DOMAINS, graph, top

    assert {top(name) for name in graph()["merchant_alliance.workflow"]} & ALL_DOMAINS == set()


def test_the_first_screen_step_is_read_off_the_table_for_each_person(world, project):
    """One forward button is the step; a choice with a reasoned outcome is a decision; someone with no forward
    row waits for the forward rows others take (a refusal left to them is no step); a state no row leaves ends."""
    flow = toy()
    owner, lead = world.a.owner, world.a.lead
    mine = flow.standing(owner, project)
    assert (mine.step, mine.first) == ("act", SEND)  # "drop" is beside it, but no step forward
    assert flow.standing(lead, project).waiting_for == ("Send",)

    set_committed_value(project, "state", S.SUBMITTED)
    assert flow.standing(lead, project).step == "decide"  # accept or send back: look first
    assert (flow.standing(owner, project).step, flow.standing(owner, project).waiting_for) == ("wait", ("Accept",))
    refusal_only = Workflow("refusal", Project, not_now="-", conflict=CONFLICT)
    refusal_only.add(ACCEPT, Transition(S.SUBMITTED, "refuse", S.REJECTED, may("review"), "Refuse",
                                        needs_reason=True, style="danger"))
    assert refusal_only.standing(lead, project).step == "decide"  # accept, or refuse with a reason
    held = refusal_only.standing(lead, project, actions=[refusal_only.find(S.SUBMITTED, "refuse")], blocked=["accept"])
    assert held.step == "wait"  # a guard holds "accept" back: refusing alone is no step forward

    set_committed_value(project, "state", S.DESIGN_APPROVED)
    assert flow.standing(owner, project).step == "end"


def test_a_step_through_a_form_page_is_offered_to_whom_it_is_expected_of_and_awaited_by_the_others(world, project):
    """A row taken through a form, and an activity still to do, are the next step of whom they are expected of
    (`by`); a lead who may act for the shop waits for it instead; an activity done already is no step."""
    flow = toy()
    shop_side = proposer
    flow.add(Transition(S.DESIGN_APPROVED, "plan", S.PERMIT_REQUESTED, may("propose"), "Send the plan",
                        button=False, page="permits.plan", by=shop_side))
    budget_set = []
    flow.allow("budget", S.DESIGN_APPROVED, S.PERMIT_REQUESTED,
               step=Step("Set the budget", may("review"), "funds.budget", needed=lambda p: not budget_set))
    owner, lead = world.a.owner, world.a.lead
    set_committed_value(project, "state", S.DESIGN_APPROVED)
    assert (flow.standing(owner, project).step, flow.standing(owner, project).page) == ("go", "permits.plan")
    leads = flow.standing(lead, project)
    assert (leads.step, leads.label, leads.page) == ("go", "Set the budget", "funds.budget")
    budget_set.append(True)
    assert flow.standing(lead, project).waiting_for == ("Send the plan",)  # may propose, but it is the shop's
    set_committed_value(project, "state", S.PERMIT_REQUESTED)
    assert flow.standing(owner, project).step == "end"
