"""Inspections on site: the checklist that applies to the sign, answers saved one by one, the result rules, the
rectification loop, and the certificate with its public status.

Projects reach `installed` through the contractors' works (another domain); here an approved project is set to
`installed` directly, as if its works were done.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.projects import services as project_services
from merchant_alliance.projects.models import ProjectState
from merchant_alliance.safety import certificates, checklists, inspections, rectifications
from merchant_alliance.safety.certificates import Status
from merchant_alliance.safety.models import (
    Certificate,
    InspectionAnswer,
    InspectionKind,
    InspectionState,
    Outcome,
    Permit,
    PermitCondition,
    PermitState,
    RectificationOrder,
    RectificationState,
    Severity,
)
from merchant_alliance.shops.models import SignType
from merchant_alliance.timeutil import local_today
from tests.concurrency import at_once
from tests.fixtures.projects import make_project
from tests.projects.helpers import put_in_state, upload

S = ProjectState
PHOTO_ITEMS = {spec.code for spec in checklists.DEFAULT_ITEMS if spec.photo_required}


def installed(world, **design):
    project = make_project(S.DESIGN_APPROVED, by=world.a.owner, shop=world.a.shop)
    put_in_state(project, S.INSTALLED)  # funded and installed: the works are another domain's
    db.session.commit()
    return project


def answer_all(officer, inspection, failing: dict[str, str] = (), photos: bool = True) -> None:
    """Answer every applicable question: pass, except `failing` (code → note); photos where required."""
    failing = dict(failing)
    for question in inspections.questions(inspection):
        if not question.required:
            continue
        outcome = Outcome.FAIL if question.code in failing else Outcome.PASS
        attach = [upload(filename=f"{question.code}.jpg")] if photos and question.photo_required else []
        inspections.save_answer(officer, inspection, question.code, outcome, failing.get(question.code, ""),
                                attach, seen_revision=question.answer.revision if question.answer else 0)


def codes(asked) -> list[str]:
    return [question.code for question in asked]


def test_the_officer_sees_only_the_items_that_apply_to_the_sign(app, world):
    """A plain wall sign is not asked about welds, wiring or lightning; a lit projecting sign is."""
    project = installed(world)
    inspection = inspections.start_for_project(world.a.officer, project)
    asked = codes(inspections.questions(inspection))
    assert inspection.kind == InspectionKind.ACCEPTANCE and project.state == S.INSPECTION
    assert inspection.sign_type == str(project.latest_version.sign_type)
    if inspection.sign_type == SignType.WALL_PARALLEL and not inspection.illuminated:
        assert asked == ["S01", "S02", "S03", "S04", "S05", "S06", "S08", "S09", "S10", "S11", "S16"]
    inspection.sign_type, inspection.illuminated = SignType.PROJECTING.value, True
    assert codes(inspections.questions(inspection)) == [spec.code for spec in checklists.DEFAULT_ITEMS]


def question(code, severity, outcome=None, photos=1, required=True):
    asked = inspections.Question(code, code, code, severity, photo_required=False, required=required)
    if outcome is not None:
        asked.answer = InspectionAnswer(code=code, outcome=outcome, note="")
    return asked


@pytest.mark.parametrize(("answers", "reason", "passed", "to_rectify", "advice"), [
    ([("S05", Severity.CRITICAL, Outcome.FAIL)], "", False, ["S05"], []),
    ([("S05", Severity.CRITICAL, Outcome.FAIL), ("S08", Severity.MAJOR, Outcome.FAIL)], "已加固", False,
     ["S05", "S08"], []),  # no exception outweighs a critical item
    ([("S08", Severity.MAJOR, Outcome.FAIL)], "", False, ["S08"], []),
    ([("S08", Severity.MAJOR, Outcome.FAIL)], "锈蚀轻微，已约定下月除锈", True, [], []),
    ([("S01", Severity.MINOR, Outcome.FAIL)], "", True, [], ["S01"]),
    ([("S05", Severity.CRITICAL, Outcome.NOT_APPLICABLE), ("S01", Severity.MINOR, Outcome.PASS)], "", True, [], []),
])
def test_the_result_follows_the_rules(answers, reason, passed, to_rectify, advice):
    verdict = inspections.evaluate([question(code, severity, outcome) for code, severity, outcome in answers], reason)
    assert verdict.passed is passed
    assert codes(verdict.to_rectify) == to_rectify
    assert codes(verdict.failed_minor) == advice


def test_an_unanswered_item_or_a_missing_photo_keeps_the_inspection_open(app, world):
    project = installed(world)
    officer = world.a.officer
    inspection = inspections.start_for_project(officer, project)
    with pytest.raises(DomainError, match="S01"):
        inspections.finish(officer, inspection)
    answer_all(officer, inspection, photos=False)
    with pytest.raises(DomainError, match="S02"):  # S02 asks for a photo of the measurement
        inspections.finish(officer, inspection)
    db.session.refresh(inspection)
    assert inspection.state == InspectionState.OPEN and project.state == S.INSPECTION


def test_a_failed_critical_item_orders_a_rectification_and_the_reinspection_signs_the_sign_off(app, world):
    """The whole loop: fail S05, the shop fixes it with a photo, the re-inspection re-checks it and passes; the
    project is completed and the certificate has the street's next serial number."""
    project = installed(world)
    officer, owner = world.a.officer, world.a.owner
    inspection = inspections.start_for_project(officer, project)
    answer_all(officer, inspection, failing={"S05": "螺栓松动，扭矩不足"})
    verdict = inspections.finish(officer, inspection)
    assert not verdict.passed
    assert inspection.state == InspectionState.FAILED and project.state == S.RECTIFICATION
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    assert [item.code for item in order.items] == ["S05"]  # exactly the failed item
    assert order.items[0].answer.note == "螺栓松动，扭矩不足"
    assert order.deadline == local_today() + timedelta(days=2)  # critical: the street's 48 hours
    assert certificates.released(project.id) is False

    with pytest.raises(DomainError):  # a fix needs a photo
        rectifications.report_fixed(owner, order.items[0], "已重新紧固", [])
    rectifications.report_fixed(owner, order.items[0], "已重新紧固", [upload(filename="紧固后.jpg")])
    assert order.state == RectificationState.FIXED

    again = inspections.start_for_project(officer, project)
    assert again.kind == InspectionKind.REINSPECTION and again.rectification_id == order.id
    asked = inspections.questions(again)
    assert asked[0].code == "S05" and asked[0].required and not any(q.required for q in asked[1:])
    inspections.save_answer(officer, again, "S05", Outcome.PASS, "复查合格", [upload(filename="复查.jpg")])
    assert inspections.finish(officer, again).passed
    assert project.state == S.COMPLETED and order.state == RectificationState.CLOSED
    certificate = db.session.scalar(select(Certificate).where(Certificate.project_id == project.id))
    code = checklists.settings_for(world.a.street.id).code
    assert certificate.serial == f"{code}-{local_today().year}-00001"
    assert certificate.next_due_on == local_today() + timedelta(days=365)
    assert certificates.released(project.id) is True
    assert certificates.public_status(certificate.token).status == Status.SAFE


def test_major_failures_pass_only_with_the_officers_reasons_and_minor_ones_become_advice(app, world):
    project = installed(world)
    officer = world.a.officer
    inspection = inspections.start_for_project(officer, project)
    answer_all(officer, inspection, failing={"S08": "局部锈蚀", "S01": "形式与设计略有出入"})
    verdict = inspections.finish(officer, inspection, exception_reason="锈蚀面积小于5%，下次巡检复核")
    assert verdict.passed and verdict.excepted
    certificate = db.session.scalar(select(Certificate).where(Certificate.inspection_id == inspection.id))
    assert certificate.advisories.startswith("S01")
    assert inspection.exception_reason.startswith("锈蚀面积")


def test_the_permits_conditions_are_checked_by_the_inspection(app, world):
    project = installed(world)
    db.session.add(Permit(
        project_id=project.id, alliance_id=project.alliance_id, street_id=world.a.street.id,
        state=PermitState.GRANTED, fixing_method="化学锚栓", host_wall="混凝土", width_m=3, height_m=1,
        projection_m=0.2, clearance_m=3.2, top_height_m=4.2, weight_kg=40, submitted_by_id=world.a.owner.id,
        conditions=[PermitCondition(position=1, text="安装后提供锚栓拉拔试验报告")]))
    db.session.commit()
    inspection = inspections.start_for_project(world.a.officer, project)
    asked = inspections.questions(inspection)
    assert asked[-1].code == "C1" and asked[-1].text_zh == "安装后提供锚栓拉拔试验报告"
    answer_all(world.a.officer, inspection, failing={"C1": "未提供报告"})
    assert not inspections.finish(world.a.officer, inspection).passed  # a condition weighs as a major item
    certificate_count = db.session.scalar(select(func.count()).select_from(Certificate))
    assert certificate_count == 0


def test_only_an_officer_of_the_signs_street_inspects(app, world):
    project = installed(world)
    for someone in (world.b.officer, world.a.lead, world.a.owner, world.admin):
        with pytest.raises(NotAllowed):
            inspections.start_for_project(someone, project)
        db.session.rollback()
    inspection = inspections.start_for_project(world.a.officer, project)
    for someone in (world.b.officer, world.a.owner):
        with pytest.raises(NotAllowed):
            inspections.save_answer(someone, inspection, "S01", Outcome.PASS)
    assert db.session.scalar(select(func.count()).select_from(InspectionAnswer)) == 0


def test_a_result_cannot_be_set_from_the_projects_own_buttons(app, world):
    project = installed(world)
    with pytest.raises(DomainError):  # the row exists, but only finishing an inspection takes it
        project_services.move(world.a.officer, project, "start_inspection")
    inspections.start_for_project(world.a.officer, project)
    with pytest.raises(DomainError):
        project_services.move(world.a.officer, project, "pass_inspection")
    assert project.state == S.INSPECTION


def test_an_item_not_on_the_checklist_or_a_bad_outcome_is_refused(app, world):
    inspection = inspections.start_for_project(world.a.officer, installed(world))
    with pytest.raises(DomainError):
        inspections.save_answer(world.a.officer, inspection, "S99", Outcome.PASS)
    with pytest.raises(DomainError):
        inspections.save_answer(world.a.officer, inspection, "S01", "maybe")
    with pytest.raises(DomainError):
        inspections.save_answer(world.a.officer, inspection, "S01", Outcome.PASS, "长" * 2001)


def test_a_double_tap_saves_the_answer_once_and_a_stale_change_is_refused(app, world):
    officer = world.a.officer
    inspection = inspections.start_for_project(officer, installed(world))
    first = inspections.save_answer(officer, inspection, "S01", Outcome.PASS, "与设计一致")
    again = inspections.save_answer(officer, inspection, "S01", Outcome.PASS, "与设计一致", seen_revision=0)
    assert again.id == first.id and again.revision == 1
    changed = inspections.save_answer(officer, inspection, "S01", Outcome.FAIL, "实为灯箱", seen_revision=1)
    assert changed.revision == 2 and changed.outcome == Outcome.FAIL
    with pytest.raises(DomainError, match=officer.name):  # made on revision 1: someone changed it since
        inspections.save_answer(officer, inspection, "S01", Outcome.PASS, "", seen_revision=1)
    assert db.session.get(InspectionAnswer, first.id).outcome == Outcome.FAIL


@pytest.mark.postgres_only
def test_two_officers_answering_one_item_at_once_never_overwrite_each_other(app, world):
    from merchant_alliance.accounts.models import Role
    from tests.factories import user_with_role

    inspection = inspections.start_for_project(world.a.officer, installed(world))
    colleague = user_with_role(Role.STREET_OFFICER, street=world.a.street)
    db.session.commit()
    ids = (world.a.officer.id, colleague.id, inspection.id)
    results = at_once(app, lambda: _answer(ids[0], ids[2], Outcome.PASS, "合格"),
                      lambda: _answer(ids[1], ids[2], Outcome.FAIL, "面板松动"))
    assert sorted(type(r).__name__ for r in results) == ["DomainError", "InspectionAnswer"]
    saved = db.session.scalars(select(InspectionAnswer).where(InspectionAnswer.inspection_id == inspection.id)).all()
    assert len(saved) == 1 and saved[0].revision == 1


def _answer(user_id, inspection_id, outcome, note):
    from merchant_alliance.accounts.models import User
    from merchant_alliance.safety.models import Inspection

    user, inspection = db.session.get(User, user_id), db.session.get(Inspection, inspection_id)
    return inspections.save_answer(user, inspection, "S11", outcome, note)


def test_a_finished_inspection_takes_no_more_answers(app, world):
    officer = world.a.officer
    inspection = inspections.start_for_project(officer, installed(world))
    answer_all(officer, inspection)
    inspections.finish(officer, inspection)
    with pytest.raises(DomainError):
        inspections.save_answer(officer, inspection, "S01", Outcome.FAIL, "再看一眼", seen_revision=1)


def test_the_public_status_says_revoked_superseded_or_nothing_for_a_wrong_token(app, world):
    officer = world.a.officer
    project = installed(world)
    inspection = inspections.start_for_project(officer, project)
    answer_all(officer, inspection)
    inspections.finish(officer, inspection)
    first = db.session.scalar(select(Certificate).where(Certificate.inspection_id == inspection.id))
    assert certificates.public_status(first.token).status == Status.SAFE
    assert certificates.public_status("x" + first.token[1:]) is None
    assert certificates.public_status("") is None
    periodic = inspections.start_for_sign(officer, project.signboard)
    answer_all(officer, periodic)
    inspections.finish(officer, periodic)
    second = db.session.scalar(select(Certificate).where(Certificate.inspection_id == periodic.id))
    assert second.serial.endswith("-00002")
    old = certificates.public_status(first.token)
    assert old.status == Status.SUPERSEDED and old.current.id == second.id
    certificates.revoke(officer, second, "复查发现面板开裂")
    assert certificates.public_status(second.token).status == Status.REVOKED
    with pytest.raises(NotAllowed):
        certificates.revoke(world.b.officer, first, "越权")


def test_an_overdue_rectification_is_reported_once(app, world):
    officer = world.a.officer
    project = installed(world)
    inspection = inspections.start_for_project(officer, project)
    answer_all(officer, inspection, failing={"S16": "堵塞消防通道"})
    inspections.finish(officer, inspection)
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    assert rectifications.tell_about_overdue() == 0  # not late yet
    order.deadline = local_today() - timedelta(days=1)
    db.session.commit()
    assert [o.id for o in db.session.scalars(rectifications.overdue_orders(world.a.street.id))] == [order.id]
    assert db.session.scalars(rectifications.overdue_orders(world.b.street.id)).all() == []
    assert rectifications.tell_about_overdue() == 1
    assert rectifications.tell_about_overdue() == 0


def test_the_officer_moves_a_rectifications_deadline_and_the_shop_is_told(app, world):
    officer = world.a.officer
    project = installed(world)
    inspection = inspections.start_for_project(officer, project)
    answer_all(officer, inspection, failing={"S08": "锈蚀", "S05": "螺栓松动"})
    inspections.finish(officer, inspection)
    order = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    assert sorted((item.code, item.deadline - local_today()) for item in order.items) == [
        ("S05", timedelta(days=2)), ("S08", timedelta(days=14))]  # by severity, the street's defaults
    later = local_today() + timedelta(days=10)
    rectifications.set_deadline(officer, order, later)
    assert order.deadline == later and {item.deadline for item in order.items} == {later}
    for bad in (local_today() - timedelta(days=1), local_today() + timedelta(days=400)):
        with pytest.raises(DomainError):
            rectifications.set_deadline(officer, order, bad)
    for someone in (world.a.owner, world.a.lead, world.b.officer):
        with pytest.raises(NotAllowed):
            rectifications.set_deadline(someone, order, local_today())
    db.session.refresh(order)
    assert order.deadline == later


def test_a_failed_reinspection_closes_the_old_order_and_orders_what_it_found(app, world):
    officer, owner = world.a.officer, world.a.owner
    project = installed(world)
    inspection = inspections.start_for_project(officer, project)
    answer_all(officer, inspection, failing={"S05": "螺栓松动"})
    inspections.finish(officer, inspection)
    first = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    rectifications.report_fixed(owner, first.items[0], "已紧固", [upload()])
    again = inspections.start_for_project(officer, project)
    inspections.save_answer(officer, again, "S05", Outcome.FAIL, "仍然松动", [upload()])
    assert not inspections.finish(officer, again).passed
    second = db.session.scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == again.id))
    assert first.state == RectificationState.CLOSED and second.state == RectificationState.OPEN
    assert [item.code for item in second.items] == ["S05"] and project.state == S.RECTIFICATION
    third = inspections.start_for_project(officer, project)
    assert third.rectification_id == second.id


def test_a_removed_sign_says_so_on_its_public_page(app, world):
    officer = world.a.officer
    project = installed(world)
    inspection = inspections.start_for_project(officer, project)
    answer_all(officer, inspection)
    inspections.finish(officer, inspection)
    certificate = db.session.scalar(select(Certificate).where(Certificate.inspection_id == inspection.id))
    from merchant_alliance.shops.models import SignCondition

    project.signboard.condition = SignCondition.REMOVED  # the shop took it down (the sign's edit form)
    db.session.commit()
    assert certificates.public_status(certificate.token).status == Status.REMOVED
