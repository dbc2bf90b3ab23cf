"""Structural permits: the shop sends its plan after the design is approved; the street officer grants it with
conditions, denies it (the shop revises and sends it again) or asks for the district's full permit; funding waits
for the grant. Only an officer of the project's street decides, never on their own shop's plan; a refused plan
leaves nothing behind; two decisions at once move the permit once."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.accounts.services import grant_role
from merchant_alliance.audit import AuditEvent
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.funds import budgets
from merchant_alliance.funds import services as funds
from merchant_alliance.funds.models import Reservation
from merchant_alliance.notifications.models import Notification
from merchant_alliance.notifications.services import render_message
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import permits
from merchant_alliance.safety.models import Permit, PermitCondition, PermitState, permit_photos
from merchant_alliance.shops.models import SignType
from tests.concurrency import at_once
from tests.factories import user_with_role
from tests.fixtures.funds import give, key, promise
from tests.fixtures.projects import make_project
from tests.fixtures.safety import DENIAL, PLAN, plan, send_plan
from tests.helpers import counted_queries, first_screen, flashed_errors, login_as
from tests.projects.helpers import count, fresh_jpeg, state_of, text_of, upload, written

pytestmark = pytest.mark.usefixtures("in_request")
S, P = ProjectState, PermitState
TITLE = "咖啡馆木质新店招"
RULE = budgets.ShareRule(fund_percent=Decimal(30), fund_cap_fen=3_000_00)


@pytest.fixture
def project(world, cast) -> Project:
    """Yuyuan Road's project, its design approved by a lead: the owner may now send the structural plan."""
    return make_project(S.DESIGN_APPROVED, by=cast.owner, shop=world.a.shop, title=TITLE)


def permit_state(permit: Permit) -> PermitState:
    return db.session.scalar(select(Permit.state).where(Permit.id == permit.id))


def last_note_id() -> int:
    return db.session.scalar(select(func.max(Notification.id))) or 0


def notes_since(note_id: int) -> list[Notification]:
    return db.session.scalars(select(Notification).where(Notification.id > note_id).order_by(Notification.id)).all()


def permit_steps(project: Project) -> list[tuple]:
    """The permit's steps on the project's timeline: (action, who, reason, conditions, district number)."""
    return [(e.action, e.actor.id, e.details.get("reason"), e.details.get("conditions"),
             e.details.get("district_number")) for e in projects.timeline(project) if "permit" in e.action]


def everything(app) -> dict:
    """What a refused plan or decision must leave as it was: every row it could write, and the stored files."""
    return {**written(app), "permits": db.session.execute(select(Permit.id, Permit.state, Permit.round)).all(),
            "conditions": count(PermitCondition), "permit_photos": count(permit_photos)}


# --- the story --------------------------------------------------------------------------------------


def test_a_denied_plan_is_revised_sent_again_and_granted_with_conditions(app, world, cast, project):
    """The owner sends the plan; the officer denies it, saying why; the owner revises it and sends it again; the
    officer grants it with two conditions. Each step is on the project's timeline and told to the people concerned."""
    note = last_note_id()
    permit = send_plan(project, by=cast.owner)
    assert (permit.state, permit.round, state_of(project)) == (P.REQUESTED, 1, S.PERMIT_REQUESTED)
    assert (permit.width_m, permit.top_height_m, permit.weight_kg) == (Decimal("5.00"), Decimal("3.70"),
                                                                       Decimal("38.5"))
    assert (len(permit.plan_photos), permit.street_id, permit.submitted_by_id) == (1, world.a.street.id,
                                                                                   cast.owner.id)
    told = notes_since(note)
    assert {n.user_id for n in told} == {cast.officer.id}  # the street's officers, not the other street's
    assert render_message(told[0]) == \
        f"{world.a.shop.name} asks the street office for the structural permit of “{TITLE}”."
    with pytest.raises(DomainError, match="not possible while the project is “Waiting for the structural permit”"):
        send_plan(project, by=cast.owner)  # sent already

    with pytest.raises(DomainError, match="Please give a reason."):
        permits.deny(cast.officer, permit, "  \n")
    assert (permit_state(permit), state_of(project)) == (P.REQUESTED, S.PERMIT_REQUESTED)

    note = last_note_id()
    permits.deny(cast.officer, permit, DENIAL)
    assert (permit_state(permit), state_of(project)) == (P.DENIED, S.PERMIT_DENIED)
    assert (permit.reason, permit.decided_by_id) == (DENIAL, cast.officer.id)
    told = notes_since(note)
    assert {n.user_id for n in told} == {cast.owner.id, cast.co_owner.id, cast.lead.id, cast.co_lead.id}
    assert render_message(told[0]) == f"The structural permit for “{TITLE}” was denied: {DENIAL}"
    with pytest.raises(DomainError, match="already been decided: it is “Denied”"):
        permits.grant(cast.officer, permit)

    note = last_note_id()
    revised = send_plan(project, by=cast.owner, photos=0, fixing_method="M12化学锚栓，每米两处")  # drawings kept
    assert revised.id == permit.id and count(Permit) == 1
    assert (revised.round, permit_state(permit), state_of(project)) == (2, P.REQUESTED, S.PERMIT_REQUESTED)
    assert (revised.fixing_method, revised.reason, revised.decided_by_id) == ("M12化学锚栓，每米两处", "", None)
    assert len(revised.plan_photos) == 1  # the first round's drawing stays with the plan
    assert render_message(notes_since(note)[0]) == \
        f"{world.a.shop.name} sent a revised structural plan for “{TITLE}” (round 2)."

    note = last_note_id()
    conditions = ["安装后提交化学锚栓拉拔试验记录", "夜间施工须向街道报备"]
    permits.grant(cast.officer, permit, [conditions[0], "   ", conditions[1]])
    assert (permit_state(permit), state_of(project)) == (P.GRANTED, S.PERMIT_GRANTED)
    assert [(c.code, c.text) for c in permit.conditions] == [("C1", conditions[0]), ("C2", conditions[1])]
    assert render_message(notes_since(note)[0]) == \
        f"The structural permit for “{TITLE}” is granted, on these conditions: {'; '.join(conditions)}"

    owner, officer = cast.owner.id, cast.officer.id
    assert permit_steps(project) == [
        ("project.request_permit", owner, None, None, None), ("project.deny_permit", officer, DENIAL, None, None),
        ("project.request_permit", owner, None, None, None),
        ("project.grant_permit", officer, None, conditions, None)]
    assert [(e.action, e.details["round"]) for e in permits.history(permit)] == [
        ("permit.requested", 1), ("permit.deny", 1), ("permit.requested", 2), ("permit.grant", 2)]


def test_a_project_is_funded_only_once_its_permit_is_granted(app, world, cast, project):
    """The lead prepares the budget and the owner pledges meanwhile, but the funding waits for the permit: refused
    after the design approval, while the plan is with the street office and after a denial."""
    fund = funds.default_fund(world.a.alliance)
    give(cast.treasurer, fund, 10_000_00)
    budget = budgets.set_budget(cast.lead, project, 4_000_00, RULE)
    promise(cast.owner, fund, project, budget.shop_fen)

    def funding_refused(state: ProjectState) -> None:
        assert state_of(project) == state
        with pytest.raises(DomainError, match=f"not possible while the project is “{state.label}”"):
            projects.move(cast.lead, project, "fund")
        assert (state_of(project), count(Reservation)) == (state, 0)

    funding_refused(S.DESIGN_APPROVED)
    permit = send_plan(project, by=cast.owner)
    funding_refused(S.PERMIT_REQUESTED)
    budget = budgets.set_budget(cast.lead, project, 5_000_00, RULE)  # the budget may change meanwhile
    permits.deny(cast.officer, permit, DENIAL)
    funding_refused(S.PERMIT_DENIED)
    budgets.set_budget(cast.co_lead, project, 4_000_00, RULE)

    send_plan(project, by=cast.owner)
    permits.grant(cast.officer, permit)
    projects.move(cast.lead, project, "fund")
    assert state_of(project) == S.FUNDED
    assert funds.reserved_fen(fund.id, project.id) == 1_200_00


def test_when_the_district_must_decide_the_shop_uploads_its_permit_and_the_officer_records_its_number(
        app, world, cast, project):
    """A projecting sign reaching 1.8 m: the officer asks for the district's full permit (the project keeps
    waiting), the owner uploads it (a double tap adds it once), the officer records its number and grants."""
    permit = send_plan(project, by=cast.owner, projection_m=Decimal("1.80"), width_m=Decimal("0.80"),
                       height_m=Decimal("1.20"), top_height_m=Decimal("4.00"))
    reason = "出挑1.8米，超过街道导则，须取得区级常规许可。"
    note = last_note_id()
    permits.require_district(cast.officer, permit, reason)
    assert (permit_state(permit), state_of(project)) == (P.DISTRICT_REQUIRED, S.PERMIT_REQUESTED)
    assert {n.user_id for n in notes_since(note)} == {cast.owner.id, cast.co_owner.id, cast.lead.id, cast.co_lead.id}

    with pytest.raises(DomainError, match="not possible while the permit is “District permit needed”"):
        permits.grant(cast.officer, permit)
    with pytest.raises(DomainError, match="has not uploaded the district's permit yet"):
        permits.record_district_permit(cast.officer, permit, "沪静绿容许〔2026〕118号")
    for who in (cast.officer, cast.neighbour, cast.treasurer):  # the shop (or its lead) brings it
        with pytest.raises(NotAllowed):
            permits.upload_district_permit(who, permit, [upload()])
    with pytest.raises(DomainError, match="Add a photo or scan"):
        permits.upload_district_permit(cast.owner, permit, [])

    note = last_note_id()
    scan = fresh_jpeg()
    assert len(permits.upload_district_permit(cast.owner, permit, [upload(scan, "区级许可.jpg")])) == 1
    assert permits.upload_district_permit(cast.owner, permit, [upload(scan, "区级许可.jpg")]) == []  # double tap
    assert len(permit.district_photos) == 1
    assert [n.user_id for n in notes_since(note)] == [cast.officer.id]

    for number in ("", "   ", "号" * 61):
        with pytest.raises(DomainError):
            permits.record_district_permit(cast.officer, permit, number)
        assert permit_state(permit) == P.DISTRICT_REQUIRED
    permits.record_district_permit(cast.officer, permit, " 沪静绿容许〔2026〕118号 ", ["按区级许可附图施工"])
    assert (permit_state(permit), state_of(project)) == (P.GRANTED, S.PERMIT_GRANTED)
    assert permit.district_number == "沪静绿容许〔2026〕118号"
    assert [c.text for c in permit.conditions] == ["按区级许可附图施工"]
    with pytest.raises(DomainError, match="once the street office asks for it"):
        permits.upload_district_permit(cast.owner, permit, [upload()])

    officer = cast.officer.id
    assert permit_steps(project) == [
        ("project.request_permit", cast.owner.id, None, None, None),
        ("permit.require_district", officer, reason, None, None),
        ("permit.district_uploaded", cast.owner.id, None, None, None),
        ("project.grant_permit", officer, None, ["按区级许可附图施工"], "沪静绿容许〔2026〕118号")]


def test_the_district_can_refuse_too(app, world, cast, project):
    """The district refused its permit: the officer denies the plan, and the shop may revise it."""
    permit = send_plan(project, by=cast.owner)
    permits.require_district(cast.officer, permit, "顶部超过10米。")
    permits.deny(cast.officer, permit, "区级常规许可未获批准。")
    assert (permit_state(permit), state_of(project)) == (P.DENIED, S.PERMIT_DENIED)
    assert lifecycle.allows(project, "request_permit")


def test_a_withdrawn_projects_plan_is_no_longer_decided(app, world, cast, project):
    """The shop withdrew while the street office was looking at the plan: no decision is taken on it."""
    permit = send_plan(project, by=cast.owner)
    projects.move(cast.owner, project, "withdraw")
    before = everything(app)
    for decision in (lambda: permits.grant(cast.officer, permit), lambda: permits.deny(cast.officer, permit, DENIAL)):
        with pytest.raises(DomainError, match="not possible while the project is “Withdrawn”"):
            decision()
        assert everything(app) == before
    assert permit_state(permit) == P.REQUESTED


# --- advice to the officer -----------------------------------------------------------------------------


@pytest.mark.parametrize(("sign_type", "changes", "expected"), [
    (SignType.WALL_PARALLEL, {}, []),
    (SignType.PROJECTING, {"projection_m": "1.50", "width_m": "0.80", "height_m": "1.20"}, []),
    (SignType.PROJECTING, {"projection_m": "1.60", "width_m": "0.80", "height_m": "1.20"},
     ["A projecting sign reaching 1.60 m from the wall (more than 1.50 m)."]),
    (SignType.PROJECTING, {"projection_m": "1.00", "width_m": "1.00", "height_m": "1.20"},
     ["A large projecting sign: 1.20 m² of face (more than 1.00 m²)."]),
    (SignType.FREE_STANDING, {"top_height_m": "2.50"}, []),
    (SignType.FREE_STANDING, {"top_height_m": "2.60"}, ["A free-standing sign 2.60 m high (more than 2.50 m)."]),
    (SignType.WALL_PARALLEL, {"top_height_m": "10.50"},
     ["The top edge is 10.50 m above the pavement (more than 10.00 m, about the 3rd storey)."]),
    (None, {"top_height_m": "12"},
     ["The top edge is 12.00 m above the pavement (more than 10.00 m, about the 3rd storey)."]),
])
def test_the_officer_is_told_when_the_shanghai_rules_suggest_the_districts_full_permit(no_db, sign_type, changes,
                                                                                      expected):
    """DOMAIN.md: large or far-reaching projecting signs, free-standing signs over 2.5 m, signs over 10 m."""
    assert permits.district_permit_reasons(plan(sign_type=sign_type, **changes)) == expected


def test_the_reach_of_a_projecting_sign_is_the_streets_own_guideline(no_db):
    reaching = plan(sign_type=SignType.PROJECTING, projection_m="1.30", width_m="0.5", height_m="0.5")
    assert permits.district_permit_reasons(reaching) == []
    assert permits.district_permit_reasons(reaching, max_reach_m=Decimal("1.20")) == [
        "A projecting sign reaching 1.30 m from the wall (more than 1.20 m)."]


# --- who decides -------------------------------------------------------------------------------------


DECISIONS = {
    "grant": lambda user, permit: permits.grant(user, permit, ["条件"]),
    "deny": lambda user, permit: permits.deny(user, permit, DENIAL),
    "require_district": lambda user, permit: permits.require_district(user, permit, "需区级许可"),
}


@pytest.mark.parametrize("decision", DECISIONS)
@pytest.mark.parametrize("who", ["owner", "co_owner", "lead", "co_lead", "treasurer", "contractor", "neighbour",
                                 "admin", "lead_elsewhere", "officer_elsewhere", "nobody"])
def test_only_an_officer_of_the_projects_street_decides(app, world, cast, project, decision, who):
    """The shop, its alliance, the platform's admin and the officer of another street: refused, nothing changes."""
    permit = send_plan(project, by=cast.owner)
    user = world.b.officer if who == "officer_elsewhere" else getattr(cast, who)
    before = everything(app)
    with pytest.raises(NotAllowed):
        DECISIONS[decision](user, db.session.get(Permit, permit.id))
    assert everything(app) == before


@pytest.mark.parametrize("decision", DECISIONS)
def test_an_officer_does_not_decide_on_their_own_shops_plan(app, world, cast, decision):
    """An officer who also owns a shop of the street sends its plan: another officer must decide on it."""
    officer_and_owner = user_with_role(Role.STREET_OFFICER, street=world.a.street)
    grant_role(officer_and_owner, Role.SHOP_OWNER, shop=world.a.other_shop)
    db.session.commit()
    mine = make_project(S.DESIGN_APPROVED, by=officer_and_owner, shop=world.a.other_shop)
    permit = send_plan(mine, by=officer_and_owner)
    before = everything(app)
    with pytest.raises(DomainError, match="another officer must decide on it"):
        DECISIONS[decision](officer_and_owner, permit)
    assert everything(app) == before
    DECISIONS[decision](cast.officer, permit)
    assert permit_state(permit) != P.REQUESTED


def test_the_permit_pages_answer_as_authz_does(app, world, cast, project):
    """An officer of another street gets what a made-up id gets (404); the shop sees its permit but may not decide
    (403); a shop owner of the same alliance does not even see it."""
    permit = send_plan(project, by=cast.owner)
    url = f"/permits/{permit.id}"
    assert login_as(cast.officer).get("/permits/999999").status_code == 404
    assert login_as(cast.officer).post("/permits/999999/grant").status_code == 404
    for who, page, decide in [("officer", 200, None), ("owner", 200, 403), ("lead", 200, 403),
                              ("treasurer", 200, 403), ("neighbour", 404, 404), ("lead_elsewhere", 404, 404),
                              ("nobody", 404, 404)]:
        browser = login_as(getattr(cast, who))
        assert browser.get(url).status_code == page, who
        if decide:
            for action in ("grant", "deny", "district", "record"):
                assert browser.post(f"{url}/{action}", data={"reason": "x"}).status_code == decide, (who, action)
    elsewhere = login_as(world.b.officer)
    assert elsewhere.get(url).status_code == 404
    for action in ("grant", "deny", "district", "record", "upload"):
        assert elsewhere.post(f"{url}/{action}").status_code == 404, action
    assert login_as(cast.officer).post(f"{url}/upload").status_code == 403  # the shop uploads the district's
    plan_form = f"/projects/{project.id}/permit/plan"
    assert login_as(cast.officer).get(plan_form).status_code == 403
    assert login_as(world.b.officer).get(plan_form).status_code == 404
    assert (permit_state(permit), state_of(project)) == (P.REQUESTED, S.PERMIT_REQUESTED)


# --- refused plans leave nothing behind ---------------------------------------------------------------


@pytest.mark.parametrize(("changes", "message"), [
    ({"width_m": "0"}, "Width (m) must be more than 0 and at most 50."),
    ({"width_m": "50.01"}, "Width (m) must be more than 0 and at most 50."),
    ({"height_m": "-1"}, "Height (m) must be more than 0 and at most 50."),
    ({"projection_m": "-0.10"}, "Projection from the wall (m) must be between 0 and 50."),
    ({"clearance_m": "51"}, "Clear height above the pavement (m) must be between 0 and 50."),
    ({"top_height_m": "2.50"}, "The top edge must be higher than the bottom edge (the clear height)."),
    ({"weight_kg": "0"}, "Estimated weight (kg) must be more than 0 and at most 5000."),
    ({"weight_kg": "5000.1"}, "Estimated weight (kg) must be more than 0 and at most 5000."),
    ({"weight_kg": "一百"}, "Estimated weight (kg): please enter a number."),
    ({"width_m": None}, "Width (m): please enter a number."),
    ({"width_m": "NaN"}, "Width (m) must be more than 0 and at most 50."),
    ({"height_m": "Infinity"}, "Height (m) must be more than 0 and at most 50."),
    ({"fixing_method": ""}, "Fixing method: please fill this in."),
    ({"host_wall": "  \n "}, "Host wall: please fill this in."),
    ({"fixing_method": "锚" * 201}, "Fixing method can be at most 200 characters."),
    ({"illuminated": True, "wiring": " "}, "An illuminated sign needs its wiring described"),
])
def test_a_plan_no_sign_has_is_refused_and_changes_nothing(app, cast, project, changes, message):
    before = everything(app)
    with pytest.raises(DomainError, match=re.escape(message)):
        send_plan(project, by=cast.owner, **changes)
    assert everything(app) == before
    assert count(Permit) == 0 and state_of(project) == S.DESIGN_APPROVED


@pytest.mark.parametrize(("files", "message"), [
    ([], "Add at least one drawing or photo of the plan."),
    ([(b"%PDF-1.4 not a photo", "结构图.pdf")], "结构图.pdf"),
    ([(None, "结构图1.jpg"), (b"GIF89a broken", "结构图2.jpg")], "结构图2.jpg"),  # one good photo, one bad: neither
])
def test_a_plan_without_an_acceptable_drawing_is_refused_and_leaves_no_file(app, cast, project, files, message):
    before = everything(app)
    with pytest.raises(DomainError, match=re.escape(message)):
        permits.request_permit(cast.owner, project, PLAN, [upload(data, name) for data, name in files])
    assert everything(app) == before  # no permit, no photo row, no orphan file


def test_a_plan_the_form_refuses_shows_why_under_the_field_and_writes_nothing(app, cast, project):
    browser = login_as(cast.owner)
    url = f"/projects/{project.id}/permit/plan"
    page = browser.get(url).get_data(as_text=True)
    form_key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)
    before = everything(app)
    data = {**{k: str(v) for k, v in PLAN.items() if k != "illuminated"}, "idempotency_key": form_key,
            "weight_kg": "6000", "photos": [(io.BytesIO(fresh_jpeg()), "结构图.jpg")]}
    response = browser.post(url, data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    block = re.search(r'<div id="weight_kg-help" class="field-help">(.*?)</div>', text_of(response), re.S).group(1)
    assert "Estimated weight (kg) must be more than 0 and at most 5000." in block
    assert everything(app) == before


def test_the_same_plan_form_sent_twice_makes_one_permit(app, world, cast, project):
    """A double tap on a slow connection: the second copy of the form gets the first one's permit."""
    browser = login_as(cast.owner)
    url = f"/projects/{project.id}/permit/plan"
    page = browser.get(url).get_data(as_text=True)
    assert 'value="5.00"' in page and 'value="M12化学锚栓"' in page  # started from the approved design
    form_key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', page).group(1)
    data = {k: str(v) for k, v in PLAN.items() if k != "illuminated"} | {"idempotency_key": form_key}
    for _ in range(2):
        response = browser.post(url, data={**data, "photos": [(io.BytesIO(fresh_jpeg()), "结构图.jpg")]},
                                content_type="multipart/form-data")
        assert response.status_code == 302
    permit = db.session.scalar(select(Permit))
    assert response.location == f"/permits/{permit.id}"
    assert (count(Permit), permit.round, len(permit.plan_photos), state_of(project)) == (1, 1, 1, S.PERMIT_REQUESTED)


# --- at the same moment ------------------------------------------------------------------------------


def get(model, id_: int):
    return db.session.get(model, id_)


@pytest.mark.postgres_only
@pytest.mark.parametrize("second", ["the same officer's double tap", "another officer denying"])
def test_two_decisions_sent_at_once_move_the_permit_once_and_the_second_is_told(app, world, cast, project, second):
    other = cast.officer if second.startswith("the same") else user_with_role(Role.STREET_OFFICER,
                                                                            street=world.a.street)
    permit = send_plan(project, by=cast.owner)
    ids = (cast.officer.id, other.id, permit.id)

    def first_grants():
        return permits.grant(get(User, ids[0]), get(Permit, ids[2]), ["条件一"])

    def second_decides():
        user, found = get(User, ids[1]), get(Permit, ids[2])
        return permits.grant(user, found, ["条件一"]) if user.id == ids[0] else permits.deny(user, found, DENIAL)

    results = at_once(app, first_grants, second_decides)
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and type(refused[0]) is DomainError  # told it was decided meanwhile, not forbidden
    moves = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.in_(
        ["project.grant_permit", "project.deny_permit", "permit.grant", "permit.deny"]))).all()
    assert len(moves) == 2  # one move of the permit, one of the project
    state = permit_state(permit)
    assert (state, state_of(project)) in [(P.GRANTED, S.PERMIT_GRANTED), (P.DENIED, S.PERMIT_DENIED)]
    assert count(PermitCondition) == (1 if state == P.GRANTED else 0)


@pytest.mark.postgres_only
def test_two_plans_sent_at_once_from_two_forms_make_one_permit(app, world, cast, project):
    """The owner and the lead send the plan at the same moment: one permit, and the second is told."""
    ids = (cast.owner.id, cast.lead.id, project.id)

    def send(user_id: int):
        return lambda: permits.request_permit(get(User, user_id), get(Project, ids[2]), PLAN,
                                              [upload(filename="结构图.jpg")], idempotency_key=key())

    results = at_once(app, send(ids[0]), send(ids[1]))
    assert len([r for r in results if isinstance(r, DomainError)]) == 1
    assert count(Permit) == 1 and state_of(project) == S.PERMIT_REQUESTED
    permit = db.session.scalar(select(Permit))
    assert len(permit.plan_photos) == 1  # the loser's photo went with its rolled-back transaction
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "project.request_permit")) == 1


# --- the pages ---------------------------------------------------------------------------------------


def test_the_officer_decides_on_the_permit_page_and_the_project_page_shows_each_person_the_next_step(
        app, world, cast, project):
    owner, officer, lead = login_as(cast.owner), login_as(cast.officer), login_as(cast.lead)
    project_url = f"/projects/{project.id}"
    assert "Next: the shop sends the sign's structural plan" in text_of(owner.get(project_url))
    assert 'data-action="send-plan"' in owner.get(project_url).get_data(as_text=True)
    assert 'data-action="send-plan"' not in officer.get(project_url).get_data(as_text=True)

    permit = send_plan(project, by=cast.owner, top_height_m=Decimal("10.50"))
    url = f"/permits/{permit.id}"
    page = text_of(officer.get(url))
    assert "The top edge is 10.50 m above the pavement" in page  # advice for the one deciding
    assert all(f'data-action="{a}"' in page for a in ("grant", "deny", "require-district"))
    shop_page = text_of(owner.get(url))
    assert "The top edge is 10.50 m" not in shop_page and 'data-action="grant"' not in shop_page
    assert "Next: review the plan and decide." in text_of(officer.get(project_url))
    assert "The street office is looking at the plan." in text_of(owner.get(project_url))

    response = officer.post(f"{url}/deny", data={"reason": ""}, follow_redirects=True)
    assert "Please give a reason." in flashed_errors(response)
    officer.post(f"{url}/deny", data={"reason": DENIAL})
    assert "Next: revise the plan and send it again." in text_of(owner.get(project_url))
    assert "Waiting for the shop to revise the plan." in text_of(login_as(cast.treasurer).get(project_url))
    assert DENIAL in text_of(owner.get(f"/projects/{project.id}/timeline"))
    assert 'data-action="revise"' in owner.get(url).get_data(as_text=True)

    send_plan(project, by=cast.owner)
    response = officer.post(f"{url}/grant", data={"conditions": "安装后提交拉拔试验记录\r\n\r\n夜间施工须报备\n"},
                            follow_redirects=True)
    page = text_of(response)
    assert "The permit is granted; the shop has been told." in page
    assert re.search(r"<li>安装后提交拉拔试验记录</li><li>夜间施工须报备</li>", page)
    assert "the project can now be funded" in text_of(lead.get(project_url))
    timeline = text_of(owner.get(f"/projects/{project.id}/timeline"))
    assert "granted the structural permit" in timeline and "夜间施工须报备" in timeline


def test_the_permit_page_opens_with_its_state_why_and_each_persons_next_step(app, world, cast, project):
    """The officer is sent to the plan before the choices; the shop reads why it was denied and revises from the
    first screen, then brings the district's permit from there; the officer sees it before recording its number."""
    permit = send_plan(project, by=cast.owner)
    owner, officer = login_as(cast.owner), login_as(cast.officer)
    url = f"/permits/{permit.id}"
    deciding = officer.get(url)
    assert 'href="#decision" data-testid="next-step"' in first_screen(deciding)
    page = deciding.get_data(as_text=True)
    assert page.index('id="plan"') < page.index('id="decision"')  # the plan before the choices
    assert all(page.count(f'data-action="{a}"') == 1 for a in ("grant", "deny", "require-district"))
    waiting = first_screen(owner.get(url))
    assert "next-step" not in waiting and "Grant the permit" in waiting  # what the office does next

    officer.post(f"{url}/deny", data={"reason": DENIAL})
    denied = first_screen(owner.get(url))
    assert "Denied" in denied and DENIAL in denied and 'data-action="revise"' in denied
    assert "next-step" not in first_screen(officer.get(url))

    send_plan(project, by=cast.owner)
    officer.post(f"{url}/district", data={"reason": "须区级常规许可"})
    brought = owner.get(url)
    assert "须区级常规许可" in first_screen(brought) and 'data-action="upload-district"' in first_screen(brought)
    assert brought.get_data(as_text=True).count('data-action="upload-district"') == 1
    owner.post(f"{url}/upload", data={"photos": [(io.BytesIO(fresh_jpeg()), "区级许可.jpg")]},
               content_type="multipart/form-data")
    recording = officer.get(url)
    assert 'href="#decision" data-testid="next-step"' in first_screen(recording)  # record, or deny: the district
    page = recording.get_data(as_text=True)                                        # may refuse too
    assert page.count('data-action="record-district"') == page.count('data-action="deny"') == 1
    assert page.index("区级许可") < page.index('id="decision"')  # the district's permit is seen before deciding

    officer.post(f"{url}/record", data={"number": "沪静绿容许〔2026〕8号", "conditions": ""})
    granted = first_screen(owner.get(url))
    assert "Granted" in granted and "须区级常规许可" not in granted  # an old reason is no longer the why


def test_the_district_steps_on_the_pages(app, world, cast, project):
    permit = send_plan(project, by=cast.owner)
    owner, officer = login_as(cast.owner), login_as(cast.officer)
    url = f"/permits/{permit.id}"
    officer.post(f"{url}/district", data={"reason": "须区级常规许可"})
    assert permit_state(permit) == P.DISTRICT_REQUIRED
    assert "Next: upload the district's permit once you have it." in text_of(owner.get(f"/projects/{project.id}"))
    response = owner.post(f"{url}/upload", data={"photos": [(io.BytesIO(fresh_jpeg()), "区级许可.jpg")]},
                          content_type="multipart/form-data", follow_redirects=True)
    assert "The district's permit has been uploaded" in text_of(response)
    response = officer.post(f"{url}/record", data={"number": "沪静绿容许〔2026〕7号", "conditions": ""},
                            follow_redirects=True)
    assert "沪静绿容许〔2026〕7号" in text_of(response)
    assert (permit_state(permit), state_of(project)) == (P.GRANTED, S.PERMIT_GRANTED)


def test_the_permit_page_costs_the_same_queries_for_a_short_story_as_for_a_long_one(app, world, cast):
    """One round, one drawing and one condition, or four rounds, seven drawings and six conditions: as many
    queries for the shop's owner, the lead and the officer."""
    short = make_project(S.PERMIT_GRANTED, by=cast.owner, shop=world.a.shop, title="短", conditions=["条件"])
    long = make_project(S.DESIGN_APPROVED, by=cast.owner, shop=world.a.shop, title="长")
    permit = send_plan(long, by=cast.owner)
    for n in range(3):
        permits.deny(cast.officer, permit, f"第{n + 1}轮意见")
        send_plan(long, by=cast.owner, photos=2)
    permits.grant(cast.officer, permit, [f"条件{n}" for n in range(6)])
    short_permit = db.session.scalar(select(Permit).where(Permit.project_id == short.id))
    browsers = [login_as(cast.owner), login_as(cast.lead), login_as(cast.officer)]

    def queries(project: Project, permit_id: int) -> list[int]:
        counts = []
        for browser in browsers:
            for url in (f"/permits/{permit_id}", f"/projects/{project.id}"):
                db.session.expire_all()  # the request loads everything itself, as in a fresh process
                with counted_queries() as statements:
                    assert browser.get(url).status_code == 200, url
                # (the test's own session opens a SAVEPOINT around the first request: not the page's query)
                counts.append(len([q for q in statements if not q.startswith(("SAVEPOINT", "RELEASE"))]))
        return counts

    assert queries(long, permit.id) == queries(short, short_permit.id)


def test_a_rooftop_sign_is_advised_to_the_district_and_checked_for_welds_and_lightning(app):
    from flask_babel import force_locale

    from merchant_alliance.safety.checklists import DEFAULT_ITEMS

    with force_locale("en"):
        reasons = permits.district_permit_reasons({"sign_type": "rooftop", "projection_m": 0, "width_m": 4,
                                                   "height_m": 1, "top_height_m": 9})
    assert reasons == ["A sign on the roof."]
    rooftop = {spec.code for spec in DEFAULT_ITEMS if not spec.applies_to or "rooftop" in spec.applies_to}
    assert {"S07", "S15"} <= rooftop and not {"S12", "S13", "S14"} & rooftop
