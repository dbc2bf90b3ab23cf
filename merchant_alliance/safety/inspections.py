"""Inspections on site: the officer answers the items of the street's checklist that apply to the sign (and the
permit's conditions), one at a time, each saved as it is given; the result follows from the rules.

- Any failed critical item fails the inspection.
- Failed major items fail it, unless the officer records why they pass it anyway (a reasoned exception).
- Failed minor items do not fail it: they become advisories on the certificate.
- Items answered "not applicable" count for nothing.

A failed inspection opens a rectification order with its failed critical and major items; a passed one issues
the certificate (safety.certificates) and closes the order it re-inspected. With a project, the project moves
too: installed → inspection → completed, or → rectification → inspection … (rows the safety domain adds to the
lifecycle; no button takes them: only finishing an inspection does).

Two officers answering at once never overwrite each other silently: a save names the revision it was made on,
and a save on an older revision is refused with what the other officer answered (unless it is the same answer,
as a double tap sends).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.notifications.services import notify, page
from merchant_alliance.photos.services import prepare_photos, save_photos
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import checklists, queries
from merchant_alliance.safety.models import (
    Inspection,
    InspectionAnswer,
    InspectionKind,
    InspectionState,
    Outcome,
    Permit,
    RectificationItem,
    RectificationOrder,
    RectificationState,
    Severity,
)
from merchant_alliance.safety.permissions import officer_of_project
from merchant_alliance.shops.models import Signboard
from merchant_alliance.timeutil import local_today, utcnow
from merchant_alliance.workflow import Transition, Workflow, may

S, IS = ProjectState, InspectionState

AUDIT_LABELS = {
    "inspection.started": _l("started an inspection"),
    "inspection.pass": _l("passed the inspection"),
    "inspection.fail": _l("failed the inspection"),
    "inspection.cancel": _l("cancelled the inspection"),
    "rectification.opened": _l("ordered a rectification"),
    "rectification.item_fixed": _l("reported an item fixed"),
    "rectification.deadline": _l("changed the rectification's deadline"),
    "project.start_inspection": _l("started the inspection"),
    "project.pass_inspection": _l("signed the sign off as safe"),
    "project.fail_inspection": _l("ordered a rectification"),
    "project.mark_installed": _l("marked the sign as installed"),  # events recorded before the works domain
}
AUDIT_OBJECTS = {"inspection": _l("Inspection"), "rectificationorder": _l("Rectification order")}

inspections: Workflow[Inspection] = Workflow(
    "inspection", Inspection,
    not_now=_l("This is not possible while the inspection is “%(state)s”."),
    conflict=_l("Someone else finished or changed this inspection a moment ago. Please look again."),
    describe=lambda inspection, transition: {"alliance_id": inspection.alliance_id,
                                             "street_id": inspection.street_id, "to": str(transition.target)},
)
inspections.add(
    Transition(IS.OPEN, "pass", IS.PASSED, may("inspect"), _l("Passed"), button=False),
    Transition(IS.OPEN, "fail", IS.FAILED, may("inspect"), _l("Failed"), button=False),
    Transition(IS.OPEN, "cancel", IS.CANCELLED, may("inspect"), _l("Cancel the inspection"), needs_reason=True,
               style="danger"),
)
inspections.allow("answer", IS.OPEN)


@inspections.guard("cancel")
def only_without_project(inspection: Inspection, user: User, attempt) -> object:
    if inspection.project_id is not None:
        return _l("A renovation project's inspection cannot be cancelled: finish it, with its result.")
    return None


FINISHED = _l("This inspection is finished: its answers can no longer change.")


PROJECT_ROWS = (
    # Started from the inspection pages (which make the Inspection), never from the project's own buttons.
    Transition(S.INSTALLED, "start_inspection", S.INSPECTION, officer_of_project, _l("Start the acceptance inspection"),
               button=False),
    Transition(S.RECTIFICATION, "start_inspection", S.INSPECTION, officer_of_project, _l("Start the re-inspection"),
               button=False),
    Transition(S.INSPECTION, "pass_inspection", S.COMPLETED, officer_of_project, _l("Inspection passed"),
               button=False),
    Transition(S.INSPECTION, "fail_inspection", S.RECTIFICATION, officer_of_project, _l("Inspection failed"),
               button=False),
)


def register_workflow_rows() -> None:
    """Add the inspection steps to the projects' lifecycle (called by safety.init_app; again changes nothing)."""
    lifecycle.add(*PROJECT_ROWS)


def tell_installed(project: Project, user: User, transition: Transition, attempt) -> None:
    """The shop hears that its new sign is installed (a hook of the works domain's `installation_accepted`; the
    street office sees the sign on its home page)."""
    from merchant_alliance.projects.services import people_concerned

    notify(people_concerned(project) - {user.id},
           N_("The new sign of %(shop)s is recorded as installed: the street office will inspect it."),
           page("projects.project", project_id=project.id), shop=project.shop.name)


# --- what is asked ------------------------------------------------------------------------------------


@dataclass
class Question:
    """One line of an inspection's checklist: an item of the template, or a condition of the permit."""

    code: str
    text_zh: str
    text_en: str
    severity: Severity
    photo_required: bool
    item_id: int | None = None
    condition_id: int | None = None
    required: bool = True  # a re-inspection must answer the rectified items; the others only if the officer does
    answer: InspectionAnswer | None = None

    def text(self, locale: str) -> str:
        return self.text_zh if locale.startswith("zh") else self.text_en


def questions(inspection: Inspection) -> list[Question]:
    """What this inspection asks, in order: for a re-inspection the rectified items first (they must be
    answered), then every other item that applies to this sign and the permit's conditions."""
    answers = {answer.code: answer for answer in inspection.answers}
    asked = [Question(item.code, item.text_zh, item.text_en, item.severity, item.photo_required, item_id=item.id)
             for item in inspection.template.items if item.applies(inspection.sign_type, inspection.illuminated)]
    permit = _permit_of(inspection)
    if permit is not None:
        asked += [Question(c.code, c.text, c.text, Severity.MAJOR, False, condition_id=c.id) for c in permit.conditions]
    if inspection.rectification is not None:
        again = {item.code for item in inspection.rectification.items}
        for question in asked:
            question.required = question.code in again
        asked.sort(key=lambda q: not q.required)  # stable: the template's order within each group
    for question in asked:
        question.answer = answers.get(question.code)
    return asked


def _permit_of(inspection: Inspection) -> Permit | None:
    if inspection.project_id is None:
        return None
    return db.session.scalar(select(Permit).where(Permit.project_id == inspection.project_id))


@dataclass
class Verdict:
    """The result the rules give for a set of answered questions."""

    failed_critical: list[Question] = field(default_factory=list)
    failed_major: list[Question] = field(default_factory=list)
    failed_minor: list[Question] = field(default_factory=list)
    unanswered: list[Question] = field(default_factory=list)
    without_photo: list[Question] = field(default_factory=list)
    excepted: bool = False  # major items failed, passed on the officer's recorded reasons

    @property
    def complete(self) -> bool:
        return not self.unanswered and not self.without_photo

    @property
    def passed(self) -> bool:
        return not self.failed_critical and (not self.failed_major or self.excepted)

    @property
    def to_rectify(self) -> list[Question]:
        """The failed items a rectification order lists (minor ones are advice, not orders)."""
        return [*self.failed_critical, *([] if self.excepted else self.failed_major)]


def evaluate(asked: Sequence[Question], exception_reason: str = "") -> Verdict:
    verdict = Verdict()
    for question in asked:
        answer = question.answer
        if answer is None:
            if question.required:
                verdict.unanswered.append(question)
            continue
        if answer.outcome == Outcome.NOT_APPLICABLE:
            continue
        if question.photo_required and not answer.photos:
            verdict.without_photo.append(question)
        if answer.outcome == Outcome.FAIL:
            {Severity.CRITICAL: verdict.failed_critical, Severity.MAJOR: verdict.failed_major,
             Severity.MINOR: verdict.failed_minor}[question.severity].append(question)
    verdict.excepted = bool(verdict.failed_major and not verdict.failed_critical and exception_reason.strip())
    return verdict


# --- starting ----------------------------------------------------------------------------------------


ALREADY_OPEN = _l("This sign already has an inspection in progress.")


def start_for_project(user: User, project: Project) -> Inspection:
    """The acceptance inspection of an installed project's sign, or the re-inspection after its rectification.
    Committed. Two officers starting at once: the second is told (the project moves only once)."""
    kind = InspectionKind.REINSPECTION if project.state == S.RECTIFICATION else InspectionKind.ACCEPTANCE
    rectification = _open_order(project.signboard_id) if kind == InspectionKind.REINSPECTION else None
    lifecycle.perform(user, project, "start_inspection", internal=True)
    version = project.latest_version
    sign_type, illuminated = ((version.sign_type, version.illuminated) if version is not None
                              else (project.signboard.sign_type, project.signboard.illuminated))
    return _start(user, project.signboard, kind, project=project, rectification=rectification,
                  sign_type=str(sign_type), illuminated=illuminated)


def start_for_sign(user: User, signboard: Signboard, kind: InspectionKind = InspectionKind.PERIODIC, *,
                   commit: bool = True) -> Inspection:
    """A periodic inspection (or the follow-up of a report) of any sign on the street; the re-inspection of its
    open rectification order when it has one. Committed (unless `commit` is False: the caller commits it with
    what it writes too)."""
    if not authz.officer_of(user, signboard.shop.alliance.street_id):
        raise NotAllowed()
    if kind == InspectionKind.ACCEPTANCE:
        raise DomainError(_l("An acceptance inspection belongs to a renovation project."))
    rectification = _open_order(signboard.id)
    if rectification is not None:
        kind = InspectionKind.REINSPECTION
    if db.session.scalar(select(Inspection.id).where(Inspection.signboard_id == signboard.id,
                                                     Inspection.state == IS.OPEN).limit(1)) is not None:
        raise DomainError(ALREADY_OPEN)
    if signboard.removed_at is not None:
        raise DomainError(_l("This sign was removed: there is nothing to inspect."))
    return _start(user, signboard, kind, project=None, rectification=rectification,
                  sign_type=str(signboard.sign_type), illuminated=signboard.illuminated, commit=commit)


def _start(user: User, signboard: Signboard, kind: InspectionKind, *, project: Project | None,
           rectification: RectificationOrder | None, sign_type: str, illuminated: bool,
           commit: bool = True) -> Inspection:
    shop = signboard.shop
    street_id = shop.alliance.street_id
    if not authz.officer_of(user, street_id):
        raise NotAllowed()
    inspection = Inspection(
        signboard=signboard, shop=shop, alliance_id=shop.alliance_id, street_id=street_id, project=project,
        template=checklists.current_template(street_id), rectification=rectification, kind=kind,
        sign_type=sign_type, illuminated=illuminated, started_by_id=user.id)
    try:
        with db.session.begin_nested():
            db.session.add(inspection)
    except IntegrityError:  # another officer started one a moment ago (one under way per sign)
        db.session.rollback()
        raise DomainError(ALREADY_OPEN) from None
    audit.record(user, "inspection.started", inspection, alliance_id=shop.alliance_id, street_id=street_id,
                 kind=str(kind), signboard=signboard.id, project=project.id if project else None)
    if commit:
        db.session.commit()
    return inspection


def _open_order(signboard_id: int) -> RectificationOrder | None:
    return open_orders_of([signboard_id]).get(signboard_id)


def open_orders_of(signboard_ids: Sequence[int]) -> dict[int, RectificationOrder]:
    """signboard id → its rectification order not yet closed (the newest), in one query."""
    if not signboard_ids:
        return {}
    return {order.signboard_id: order for order in db.session.scalars(select(RectificationOrder).where(
        RectificationOrder.signboard_id.in_(signboard_ids),
        RectificationOrder.state != RectificationState.CLOSED).order_by(RectificationOrder.id))}


# --- answering -----------------------------------------------------------------------------------------


ANSWERED_MEANWHILE = _l("%(name)s answered this item a moment ago (%(outcome)s). Look at their answer, then "
                        "change it if you need to.")
NOT_ON_CHECKLIST = _l("This item is not on this inspection's checklist.")
NOTE_TOO_LONG = _l("A note can be at most %(n)s characters.")


def save_answer(user: User, inspection: Inspection, code: str, outcome: str, note: str = "",
                photos: Sequence[FileStorage] = (), *, seen_revision: int = 0) -> InspectionAnswer:
    """Save one answer (and its new photos) as it is given; committed. `seen_revision` is the answer's revision
    the officer's page showed (0: none yet)."""
    if not authz.can(user, "inspect", inspection):
        raise NotAllowed()
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise DomainError(_l("Choose pass, fail or not applicable.")) from None
    note = (note or "").strip()
    if len(note) > 2000:
        raise DomainError(NOTE_TOO_LONG, n=2000)
    question = next((q for q in questions(inspection) if q.code == code), None)
    if question is None:
        raise DomainError(NOT_ON_CHECKLIST)
    prepared = prepare_photos(photos)  # the slow part, before anything is written or locked
    # Files first, then their rows: the database is locked (on SQLite, all of it) only once they are on disk.
    stored = save_photos(user, prepared, alliance=inspection.alliance, shop=inspection.shop) \
        if prepared.images else []
    inspections.hold(inspection, "answer", FINISHED)
    answer = _current_answer(inspection.id, code)
    if answer is None:
        answer = InspectionAnswer(
            inspection_id=inspection.id, alliance_id=inspection.alliance_id, item_id=question.item_id,
            condition_id=question.condition_id, code=code, outcome=outcome, note=note, answered_by_id=user.id)
        try:
            with db.session.begin_nested():
                db.session.add(answer)
        except IntegrityError:  # another officer's first answer to this item came in meanwhile
            answer = _current_answer(inspection.id, code)
            _refuse_unless_same(answer, outcome, note, prepared)
            return answer
    elif answer.revision != seen_revision:
        _refuse_unless_same(answer, outcome, note, prepared)
        return answer
    else:
        changed = db.session.execute(
            update(InspectionAnswer).where(InspectionAnswer.id == answer.id,
                                           InspectionAnswer.revision == seen_revision)
            .values(outcome=outcome, note=note, revision=seen_revision + 1, answered_by_id=user.id,
                    answered_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        db.session.expire(answer)
        if changed != 1:
            _refuse_unless_same(answer, outcome, note, prepared)
            return answer
    if stored:
        answer.photos.extend(stored)
    db.session.commit()
    db.session.expire(inspection, ["answers"])  # the session keeps what it loaded across commits
    return answer


def _current_answer(inspection_id: int, code: str) -> InspectionAnswer | None:
    return db.session.scalar(select(InspectionAnswer).where(
        InspectionAnswer.inspection_id == inspection_id, InspectionAnswer.code == code)
        .execution_options(populate_existing=True))


def _refuse_unless_same(answer: InspectionAnswer, outcome: Outcome, note: str, prepared) -> None:
    """A save made on an older revision: nothing to do when it says what is already saved (a double tap, photos
    included), else refused, naming who answered and what."""
    known = {photo.sha256 for photo in answer.photos}
    if answer.outcome == outcome and answer.note == note and all(sha in known for sha, _ in _hashes(prepared)):
        db.session.rollback()
        return
    db.session.rollback()
    raise DomainError(ANSWERED_MEANWHILE, name=answer.answered_by.name, outcome=answer.outcome.label)


def _hashes(prepared) -> list[tuple[str, str]]:
    return [(image.sha256, name) for name, image in prepared.images]


# --- finishing ----------------------------------------------------------------------------------------


def finish(user: User, inspection: Inspection, *, exception_reason: str = "", summary: str = "") -> Verdict:
    """Finish the inspection with the result its answers give: the certificate when it passes, a rectification
    order when it fails; the project (if any) moves with it. Committed."""
    from merchant_alliance.safety import certificates, registry

    if not authz.can(user, "inspect", inspection):
        raise NotAllowed()
    exception_reason, summary = (exception_reason or "").strip()[:2000], (summary or "").strip()[:2000]
    verdict = evaluate(questions(inspection), exception_reason)
    if verdict.unanswered:
        raise DomainError(_l("Answer every item first: %(codes)s."),
                          codes=", ".join(q.code for q in verdict.unanswered))
    if verdict.without_photo:
        raise DomainError(_l("These items need a photo: %(codes)s."),
                          codes=", ".join(q.code for q in verdict.without_photo))
    passed = verdict.passed
    inspections.perform(user, inspection, "pass" if passed else "fail", internal=True, values={
        "completed_by_id": user.id, "completed_at": utcnow(), "summary": summary,
        "exception_reason": exception_reason if verdict.excepted else ""},
        details={"failed": [q.code for q in verdict.to_rectify], "advisories": [q.code for q in verdict.failed_minor]})
    if inspection.project is not None and inspection.project.state == S.INSPECTION:
        lifecycle.perform(user, inspection.project, "pass_inspection" if passed else "fail_inspection", internal=True)
    if inspection.rectification is not None:  # re-inspected: its order is done with, whatever the result
        inspection.rectification.state = RectificationState.CLOSED
        inspection.rectification.closed_at = utcnow()
    next_due_on = registry.record_inspection(inspection, passed)  # the sign's line in the street's registry
    if passed:
        certificates.issue(user, inspection, valid_until=next_due_on, advisories=verdict.failed_minor)
    else:  # a new order, with what this visit found
        _open_rectification(user, inspection, verdict.to_rectify)
    _tell_the_shop(inspection, passed)
    db.session.commit()
    return verdict


def cancel(user: User, inspection: Inspection, reason: str) -> None:
    """Cancel an inspection started by mistake; a project's returns to where it was. Committed."""
    from merchant_alliance.workflow import Attempt

    inspections.perform(user, inspection, "cancel", Attempt(reason=reason))
    db.session.commit()


def _open_rectification(user: User, inspection: Inspection, failed: Sequence[Question]) -> RectificationOrder:
    settings = checklists.settings_for(inspection.street_id)
    today = local_today()
    items = [RectificationItem(alliance_id=inspection.alliance_id, answer=q.answer, code=q.code, severity=q.severity,
                               deadline=today + timedelta(days=settings.days_for(q.severity))) for q in failed]
    order = RectificationOrder(
        inspection_id=inspection.id, signboard_id=inspection.signboard_id, shop_id=inspection.shop_id,
        alliance_id=inspection.alliance_id, street_id=inspection.street_id, project_id=inspection.project_id,
        deadline=min(item.deadline for item in items), items=items)
    db.session.add(order)
    db.session.flush()
    audit.record(user, "rectification.opened", order, alliance_id=order.alliance_id, street_id=order.street_id,
                 items=[item.code for item in items], deadline=order.deadline.isoformat())
    return order


RESULT_NOTICES = {
    True: N_("The safety inspection of %(shop)s's sign passed: the certificate is issued."),
    False: N_("The safety inspection of %(shop)s's sign found items to fix by %(deadline)s."),
}


def _tell_the_shop(inspection: Inspection, passed: bool) -> None:
    """The shop's owners and the alliance's leads hear the result."""
    people = queries.shop_people(inspection.shop_id, inspection.alliance_id)
    order = None if passed else db.session.scalar(
        select(RectificationOrder).where(RectificationOrder.inspection_id == inspection.id))
    notify(people, RESULT_NOTICES[passed], page("safety.inspection", inspection_id=inspection.id),
           shop=inspection.shop.name, deadline=order.deadline.isoformat() if order else "")
