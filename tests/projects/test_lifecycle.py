"""The project lifecycle: every transition in the table allowed for the right people and refused for every
other person and state, recorded on the timeline, announced to the people concerned, and guarded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from merchant_alliance.audit import AuditEvent, events_for_object
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.notifications.services import render_message
from merchant_alliance.projects import services
from merchant_alliance.projects.lifecycle import Attempt, Transition, lifecycle
from merchant_alliance.projects.models import Project, ProjectState
from tests.projects.helpers import add_version, count, put_in_state, state_of

pytestmark = pytest.mark.usefixtures("in_request")

S = ProjectState
# Who may take each kind of action (authz.RULES), for a proposal made by the shop's owner: the shop's owners
# or the alliance's leads propose (submit); only the leads of the project's own alliance review; the shop
# withdraws (its owners, or whoever proposed on its behalf).
MAY = {
    "may_propose": {"owner", "co_owner", "lead", "co_lead"},
    "may_review": {"lead", "co_lead"},
    "may_withdraw": {"owner", "co_owner"},
    "may_manage_budget": {"lead", "co_lead"},
    "officer_of_project": {"officer"},  # the street office's steps: the permit, the inspection
    "may_choose_contractor": {"lead", "co_lead"},  # selecting a quote signs the work order
    "works_on_project": {"lead", "co_lead"},  # and the contractor's people, once there is an order
    "accepts_for_project": {"lead", "co_lead"},  # or the shop's owner, where the alliance's rules say so
}
# DESIGN.md: "withdrawn: by the shop, before a contract is signed."
BEFORE_CONTRACT = {S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.DESIGN_APPROVED, S.PERMIT_REQUESTED, S.PERMIT_GRANTED,
                   S.PERMIT_DENIED, S.FUNDED}
REASON = "出挑超过0.5米，请按街道导则收进。"


def allowed(transition: Transition) -> set[str]:
    rule = transition.who.__name__
    assert rule in MAY, f"{transition.action} from {transition.source}: say who may do it ({rule}) in MAY"
    return MAY[rule]


def concerned(cast) -> set[int]:
    """The shop's owners (one of them proposed) and the alliance's leads."""
    return {cast.owner.id, cast.co_owner.id, cast.lead.id, cast.co_lead.id}


def last_event(project: Project) -> AuditEvent | None:
    return db.session.scalar(events_for_object(project).limit(1))


def notified_since(note_id: int) -> set[int]:
    return set(db.session.scalars(select(Notification.user_id).where(Notification.id > note_id)))


def last_note_id() -> int:
    return db.session.scalar(select(Notification.id).order_by(Notification.id.desc()).limit(1)) or 0


def refused(user, project, action, reason="") -> DomainError:
    with pytest.raises(DomainError) as caught:
        services.move(user, project, action, Attempt(reason=reason))
    return caught.value


# --- the table, person by person and state by state -------------------------------------------------


def _fundable(project: Project, cast) -> None:
    """What funding needs (funds/budgets.py): a budget, and the shop's share pledged."""
    from merchant_alliance.funds import budgets, pledges
    from merchant_alliance.funds.services import default_fund
    from merchant_alliance.funds.shares import ShareRule

    budget = budgets.set_budget(cast.lead, project, 1_000_00, ShareRule(fund_fen=0))
    pledges.create_pledge(cast.owner, default_fund(project.alliance), project.shop, budget.shop_fen,
                          pledges.today(), project=project)


# Rows added by other domains have preconditions of their own: make them hold before trying the row.
READY = {"fund": _fundable}


def test_every_transition_is_allowed_for_the_right_people_and_refused_for_everyone_else(proposal, cast):
    assert lifecycle.rows, "the lifecycle table is empty"
    people_concerned = concerned(cast)
    # One project per source state, so that the changes requested while trying the review rows do not
    # stand in the way of trying a resubmission (which needs a version newer than the one reviewed).
    projects = {}
    for row in lifecycle.rows:
        if row.source not in projects:
            projects[row.source] = proposal(title=f"from {row.source}")
        project = projects[row.source]
        for name, user in cast.items():
            put_in_state(project, row.source)
            if row.action in READY:
                READY[row.action](project, cast)
            events, note = count(AuditEvent), last_note_id()
            where = f"{name} doing {row.action} from {row.source}"
            if name in allowed(row) and not row.button:
                # Taken only by the service that owns it (a permit's decision, an inspection's result), which its
                # domain's tests try: the lifecycle's own move refuses it to everyone.
                assert type(refused(user, project, row.action, REASON)) is DomainError, where
                assert state_of(project) == row.source, where
                assert (count(AuditEvent), last_note_id()) == (events, note), where
            elif name in allowed(row):
                transition = services.move(user, project, row.action, Attempt(reason=REASON))
                assert transition is row, where
                assert state_of(project) == row.target, where
                event = last_event(project)
                assert (event.action, event.actor_id) == (f"project.{row.action}", user.id), where
                assert (event.details["from"], event.details["to"]) == (row.source.value, row.target.value), where
                assert event.details["reason"] == REASON, where
                entry = services.timeline(project)[-1]
                assert (entry.action, entry.actor.id, entry.details["to"]) == (event.action, user.id,
                                                                               row.target.value), where
                assert notified_since(note) == people_concerned - {user.id}, where
            else:
                with pytest.raises(NotAllowed):
                    services.move(user, project, row.action, Attempt(reason=REASON))
                assert state_of(project) == row.source, where
                assert (count(AuditEvent), last_note_id()) == (events, note), where


def test_an_action_not_in_the_table_for_the_state_is_refused_and_changes_nothing(proposal, cast):
    project = proposal()
    actions = sorted({t.action for t in lifecycle.rows} | {"launch_rocket"})
    for state in ProjectState:
        put_in_state(project, state)
        for action in actions:
            if lifecycle.find(state, action) is not None:
                continue
            for user in (cast.owner, cast.lead, cast.admin):
                events, note = count(AuditEvent), last_note_id()
                error = refused(user, project, action, REASON)
                where = f"{action} from {state}"
                assert type(error) is DomainError, where
                assert str(error) == f"This is not possible while the project is “{state.label}”.", where
                assert state_of(project) == state, where
                assert (count(AuditEvent), last_note_id()) == (events, note), where


def test_withdrawing_is_possible_before_a_contract_is_signed_and_never_after(proposal, cast):
    project = proposal()
    for state in ProjectState:
        put_in_state(project, state)
        if state in BEFORE_CONTRACT:
            services.move(cast.owner, project, "withdraw")
            assert state_of(project) == S.WITHDRAWN, state
        else:
            error = refused(cast.owner, project, "withdraw")
            assert type(error) is DomainError, state
            assert state_of(project) == state

    leads_own = proposal(by=cast.lead)  # a lead proposed on the shop's behalf: that lead may withdraw it
    for name in ("co_lead", "treasurer", "neighbour"):
        with pytest.raises(NotAllowed):
            services.move(getattr(cast, name), leads_own, "withdraw")
    services.move(cast.lead, leads_own, "withdraw")
    assert state_of(leads_own) == S.WITHDRAWN


def test_the_buttons_are_exactly_the_rows_each_person_may_take_in_each_state(proposal, cast):
    project = proposal()
    for state in ProjectState:
        put_in_state(project, state)
        for name, user in cast.items():
            expected = [t for t in lifecycle.rows if t.source == state and t.button and name in allowed(t)]
            assert lifecycle.actions_for(user, project) == expected, f"{name} in {state}"


# --- a proposal's story ---------------------------------------------------------------------------


def notes_since(note_id: int) -> list[Notification]:
    return db.session.scalars(select(Notification).where(Notification.id > note_id)).all()


def test_each_move_is_on_the_timeline_in_order_and_the_people_concerned_hear_of_it(proposal, cast):
    project = proposal(title="面馆招牌更换")
    note = last_note_id()
    services.move(cast.owner, project, "submit")
    notes = notes_since(note)
    assert {n.user_id for n in notes} == {cast.co_owner.id, cast.lead.id, cast.co_lead.id}  # not the owner
    assert all((n.endpoint, n.endpoint_args) == ("projects.project", {"project_id": project.id}) for n in notes)
    assert render_message(notes[0]) == f"{project.shop.name} submitted the design “面馆招牌更换” for review."

    note = last_note_id()
    services.move(cast.lead, project, "request_changes", Attempt(reason=REASON))
    notes = notes_since(note)
    assert {n.user_id for n in notes} == {cast.owner.id, cast.co_owner.id, cast.co_lead.id}  # not the lead
    assert render_message(notes[0]) == f"Changes were requested to the design “面馆招牌更换”: {REASON}"

    add_version(project, by=cast.owner, projection_m=Decimal("0.20"))
    services.move(cast.owner, project, "submit")
    services.move(cast.lead, project, "approve_design", Attempt(reason="  "))

    entries = services.timeline(project)
    assert [(e.action, e.actor.id) for e in entries] == [
        ("project.create", cast.owner.id),
        ("project.version_added", cast.owner.id),
        ("project.submit", cast.owner.id),
        ("project.request_changes", cast.lead.id),
        ("project.version_added", cast.owner.id),
        ("project.submit", cast.owner.id),
        ("project.approve_design", cast.lead.id),
    ]
    moves = [(e.details["from"], e.details["to"], e.details.get("version")) for e in entries if "to" in e.details]
    assert moves == [("draft", "submitted", 1), ("submitted", "changes_requested", 1),
                     ("changes_requested", "submitted", 2), ("submitted", "design_approved", 2)]
    assert entries[3].details["reason"] == REASON
    assert "reason" not in entries[-1].details  # a blank note is not a reason
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert [len(e.photos) for e in entries if e.version] == [2, 2]  # each version's current photo and mock-up
    assert state_of(project) == S.DESIGN_APPROVED

    outsiders = [cast.treasurer, cast.officer, cast.neighbour, cast.contractor, cast.lead_next_door,
                 cast.lead_elsewhere, cast.owner_elsewhere, cast.admin, cast.nobody]
    assert not db.session.scalars(select(Notification).where(
        Notification.user_id.in_([u.id for u in outsiders]))).all()


# --- guards ---------------------------------------------------------------------------------------


def test_submitting_needs_a_complete_design_and_after_a_change_request_a_new_version(proposal, cast):
    incomplete = proposal(title="未完成", versions=0)
    unphotographed = proposal(title="招牌没有照片", versions=0)
    unphotographed.signboard.photos.clear()  # registered without a photo: nothing to reuse
    add_version(unphotographed, by=cast.owner, current=False)
    cases = [
        (incomplete, "Add a design version before submitting."),
        (proposal(mockup=False), "Add at least one mock-up of the new design before submitting."),
        (unphotographed, "Add at least one photo of the sign as it is now before submitting."),
    ]
    complete_then_not = proposal()
    add_version(complete_then_not, by=cast.owner, mockup=False)  # the latest version is the one checked
    cases.append((complete_then_not, "Add at least one mock-up of the new design before submitting."))

    for project, message in cases:
        events = count(AuditEvent)
        error = refused(cast.owner, project, "submit")
        assert (type(error), str(error)) == (DomainError, message)
        assert lifecycle.refusal(cast.owner, project, "submit", Attempt()) == message
        assert (state_of(project), count(AuditEvent)) == (S.DRAFT, events)

    # After changes were requested, only a new version may be submitted.
    project = complete_then_not
    add_version(project, by=cast.owner)
    services.move(cast.owner, project, "submit")
    services.move(cast.lead, project, "request_changes", Attempt(reason=REASON))

    error = refused(cast.owner, project, "submit")
    assert str(error) == "Upload a new version that answers the requested changes first."
    assert state_of(project) == S.CHANGES_REQUESTED

    add_version(project, by=cast.owner, projection_m=Decimal("0.20"))
    services.move(cast.owner, project, "submit")
    assert state_of(project) == S.SUBMITTED


def test_a_review_refusing_the_design_needs_a_reason(proposal, cast):
    for action, target in (("request_changes", S.CHANGES_REQUESTED), ("reject", S.REJECTED)):
        project = proposal(title=action)
        services.move(cast.owner, project, "submit")
        events = count(AuditEvent)
        for reason in ("", "   \n"):
            assert str(refused(cast.lead, project, action, reason)) == "Please give a reason.", action
        assert (state_of(project), count(AuditEvent)) == (S.SUBMITTED, events)

        services.move(cast.lead, project, action, Attempt(reason=f"  {REASON}  "))
        assert state_of(project) == target
        assert last_event(project).details["reason"] == REASON


def test_approving_a_design_that_breaks_a_guideline_needs_a_reason_and_its_proposer_may_not_approve_it(
        proposal, cast):
    too_wide = proposal(width_m=Decimal("6.00"))  # the 6.50 m facade allows 5.85 m
    services.move(cast.owner, too_wide, "submit")
    error = refused(cast.lead, too_wide, "approve_design")
    assert str(error) == "This design breaks 1 of the street's guidelines. Explain why you approve it anyway."
    assert state_of(too_wide) == S.SUBMITTED
    services.move(cast.lead, too_wide, "approve_design", Attempt(reason="门面两侧为同一店铺，宽度可接受。"))
    assert state_of(too_wide) == S.DESIGN_APPROVED
    assert last_event(too_wide).details["reason"] == "门面两侧为同一店铺，宽度可接受。"

    leads_own = proposal(by=cast.lead)
    services.move(cast.lead, leads_own, "submit")
    error = refused(cast.lead, leads_own, "approve_design", REASON)
    assert str(error) == "You proposed this design, so another lead must approve it."
    assert state_of(leads_own) == S.SUBMITTED
    services.move(cast.co_lead, leads_own, "approve_design")
    assert state_of(leads_own) == S.DESIGN_APPROVED


def test_the_same_move_made_twice_or_from_a_stale_page_moves_the_project_once(proposal, cast):
    project = proposal()
    services.move(cast.owner, project, "submit")
    events, note = count(AuditEvent), last_note_id()

    error = refused(cast.owner, project, "submit")  # the second click of a double click
    assert type(error) is DomainError
    assert str(error) == "This is not possible while the project is “Submitted for review”."
    assert (state_of(project), count(AuditEvent), last_note_id()) == (S.SUBMITTED, events, note)

    services.move(cast.lead, project, "request_changes", Attempt(reason=REASON))
    set_committed_value(project, "state", S.SUBMITTED)  # what the co-lead's page still shows
    events, note = count(AuditEvent), last_note_id()
    error = refused(cast.co_lead, project, "reject", "不符合导则")
    assert str(error) == "Someone else changed this project a moment ago. Please look again."
    assert (state_of(project), count(AuditEvent), last_note_id()) == (S.CHANGES_REQUESTED, events, note)
