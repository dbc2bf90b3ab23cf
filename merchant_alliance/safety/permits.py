"""Structural permits: after the design is approved and before money is spent, the shop (or its alliance's lead)
sends the sign's structural plan to the street office, which grants it (with conditions the acceptance inspection
checks), denies it with reasons (the shop revises the plan and sends it again), or finds that the district's full
permit (常规许可) is needed first: the shop then uploads the district's permit and the officer records its number.

The permit moves on its own workflow (`permits`, one instance of merchant_alliance.workflow); the project moves
with it by rows this module adds to the project lifecycle (`register_workflow_rows`): design_approved or
permit_denied → permit_requested → permit_granted | permit_denied. No button takes those rows: only these
services do, since each needs the permit's own record. Every service commits once, moves and records together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.datastructures import FileStorage

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.notifications.services import notify, page
from merchant_alliance.once import submit_once
from merchant_alliance.pagecache import scopes_of
from merchant_alliance.photos.models import Photo
from merchant_alliance.photos.services import PreparedPhotos, prepare_photos, save_photos
from merchant_alliance.projects.lifecycle import lifecycle, shop_side
from merchant_alliance.projects.models import DesignVersion, Project, ProjectState
from merchant_alliance.safety.models import Permit, PermitCondition, PermitState, permit_photos
from merchant_alliance.safety.permissions import officer_of_project
from merchant_alliance.safety.queries import officers_of_street
from merchant_alliance.shops.models import SignType
from merchant_alliance.timeutil import utcnow
from merchant_alliance.workflow import Attempt, Transition, Workflow, may

S, P = ProjectState, PermitState

AUDIT_LABELS = {
    "permit.requested": _l("sent the structural plan to the street office"),
    "permit.grant": _l("granted the structural permit"),
    "permit.deny": _l("denied the structural permit"),
    "permit.require_district": _l("found that the district's full permit is needed"),
    "permit.district_uploaded": _l("uploaded the district's permit"),
    "permit.record_district": _l("recorded the district permit's number"),
    "project.request_permit": _l("asked for the structural permit"),
    "project.grant_permit": _l("granted the structural permit"),
    "project.deny_permit": _l("denied the structural permit"),
}
AUDIT_OBJECTS = {"permit": _l("Structural permit")}

# Moves of the permit alone (the project does not move with them): their events go on the project's timeline.
_PERMIT_ONLY = {"require_district"}


def _describe(permit: Permit, transition: Transition) -> dict[str, Any]:
    details = {"alliance_id": permit.alliance_id, "street_id": permit.street_id, "round": permit.round,
               "permit_state": str(transition.target)}
    if transition.action in _PERMIT_ONLY:
        details["project_id"] = permit.project_id
    return details


permits: Workflow[Permit] = Workflow(
    "permit", Permit,
    not_now=_l("This is not possible while the permit is “%(state)s”."),
    conflict=_l("Someone else decided on this permit a moment ago. Please look again."),
    describe=_describe,
)
permits.add(
    Transition(P.REQUESTED, "grant", P.GRANTED, may("decide"), _l("Grant the permit")),
    Transition(P.REQUESTED, "deny", P.DENIED, may("decide"), _l("Deny the permit"), needs_reason=True,
               style="danger"),
    Transition(P.REQUESTED, "require_district", P.DISTRICT_REQUIRED, may("decide"),
               _l("The district's full permit is needed"), needs_reason=True, style="secondary"),
    Transition(P.DISTRICT_REQUIRED, "record_district", P.GRANTED, may("decide"),
               _l("Record the district permit's number")),
    # The district refused, or the shop never brings its permit.
    Transition(P.DISTRICT_REQUIRED, "deny", P.DENIED, may("decide"), _l("Deny the permit"), needs_reason=True,
               style="danger"),
    # Only by sending the revised plan (request_permit), never from a button.
    Transition(P.DENIED, "resubmit", P.REQUESTED, may("submit"), _l("Send the revised plan"), event="requested",
               button=False),
)
permits.allow("upload_district", P.DISTRICT_REQUIRED)
permits.explain("grant", _l("This permit has already been decided: it is “%(state)s”."), P.GRANTED, P.DENIED)
for _action in ("deny", "require_district", "record_district"):
    permits.explain(_action, _l("This permit has already been decided: it is “%(state)s”."), P.GRANTED, P.DENIED)

DECISIONS = ("grant", "deny", "require_district", "record_district")


@permits.guard(*DECISIONS)
def not_own_plan(permit: Permit, user: User, attempt: Attempt) -> LazyString | None:
    if permit.submitted_by_id == user.id or authz.owns_shop(user, permit.project.shop_id):
        return _l("This plan is for your own shop or was sent by you, so another officer must decide on it.")
    return None


@permits.guard("record_district")
def district_permit_uploaded(permit: Permit, user: User, attempt: Attempt) -> LazyString | None:
    if not permit.district_photos:
        return _l("The shop has not uploaded the district's permit yet.")
    return None


# --- the rows the permit adds to the project lifecycle -------------------------------------------------


PROJECT_ROWS = (
    Transition(S.DESIGN_APPROVED, "request_permit", S.PERMIT_REQUESTED, may("propose"),
               _l("Send the structural plan"), button=False, page="permits.plan", by=shop_side),
    Transition(S.PERMIT_DENIED, "request_permit", S.PERMIT_REQUESTED, may("propose"), _l("Send the revised plan"),
               button=False, page="permits.plan", by=shop_side),
    Transition(S.PERMIT_REQUESTED, "grant_permit", S.PERMIT_GRANTED, officer_of_project,
               _l("Grant the structural permit"), button=False),
    Transition(S.PERMIT_REQUESTED, "deny_permit", S.PERMIT_DENIED, officer_of_project,
               _l("Deny the structural permit"), needs_reason=True, style="danger", button=False),
)


def register_workflow_rows() -> None:
    """Add the permit's steps to the projects' lifecycle (called by safety.init_app; again changes nothing)."""
    lifecycle.add(*PROJECT_ROWS)


# --- the plan ----------------------------------------------------------------------------------------

MAX_METRES = Decimal("50")
MAX_WEIGHT_KG = Decimal("5000")
PLAN_LABELS = {
    "fixing_method": _l("Fixing method"),
    "host_wall": _l("Host wall"),
    "width_m": _l("Width (m)"),
    "height_m": _l("Height (m)"),
    "projection_m": _l("Projection from the wall (m)"),
    "clearance_m": _l("Clear height above the pavement (m)"),
    "top_height_m": _l("Height of the top edge above the pavement (m)"),
    "weight_kg": _l("Estimated weight (kg)"),
    "illuminated": _l("Illuminated"),
    "wiring": _l("Lighting and wiring"),
    "notes": _l("Notes for the street office"),
}
PLAN_FIELDS = tuple(PLAN_LABELS)
# (field, smallest allowed, whether the smallest is allowed itself, largest, decimal places)
_NUMBERS = (
    ("width_m", Decimal(0), False, MAX_METRES, Decimal("0.01")),
    ("height_m", Decimal(0), False, MAX_METRES, Decimal("0.01")),
    ("projection_m", Decimal(0), True, MAX_METRES, Decimal("0.01")),  # a flat sign: 0
    ("clearance_m", Decimal(0), True, MAX_METRES, Decimal("0.01")),  # a free-standing sign may stand on the ground
    ("top_height_m", Decimal(0), False, MAX_METRES, Decimal("0.01")),
    ("weight_kg", Decimal(0), False, MAX_WEIGHT_KG, Decimal("0.1")),
)
_TEXTS = (("fixing_method", 200, True), ("host_wall", 200, True), ("wiring", 5000, False), ("notes", 5000, False))

NUMBER_MISSING = _l("%(field)s: please enter a number.")
MORE_THAN_ZERO = _l("%(field)s must be more than 0 and at most %(max)s.")
ZERO_OR_MORE = _l("%(field)s must be between 0 and %(max)s.")
TEXT_MISSING = _l("%(field)s: please fill this in.")
TEXT_TOO_LONG = _l("%(field)s can be at most %(n)s characters.")
TOP_BELOW_BOTTOM = _l("The top edge must be higher than the bottom edge (the clear height).")
WIRING_MISSING = _l("An illuminated sign needs its wiring described: cables, conduit, leakage protection.")
NO_PLAN_PHOTO = _l("Add at least one drawing or photo of the plan.")


def clean_plan(plan: Mapping[str, Any]) -> dict[str, Any]:
    """The plan's values checked and tidied (numbers as Decimal, texts stripped); a DomainError naming the field
    for the first value no sign has (a typing mistake: centimetres for metres, a negative weight)."""
    values: dict[str, Any] = {}
    for name, low, low_allowed, high, places in _NUMBERS:
        label = PLAN_LABELS[name]
        raw = plan.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raise DomainError(NUMBER_MISSING, field=label).on(name)
        try:
            number = Decimal(str(raw).strip())
        except InvalidOperation:
            raise DomainError(NUMBER_MISSING, field=label).on(name) from None
        if not number.is_finite() or number > high or number < low or (number == low and not low_allowed):
            raise DomainError(ZERO_OR_MORE if low_allowed else MORE_THAN_ZERO, field=label, max=high).on(name)
        values[name] = number.quantize(places)
    for name, longest, required in _TEXTS:
        text = str(plan.get(name) or "").strip()
        if required and not text:
            raise DomainError(TEXT_MISSING, field=PLAN_LABELS[name]).on(name)
        if len(text) > longest:
            raise DomainError(TEXT_TOO_LONG, field=PLAN_LABELS[name], n=longest).on(name)
        values[name] = text
    if values["top_height_m"] <= values["clearance_m"]:
        raise DomainError(TOP_BELOW_BOTTOM).on("top_height_m")
    values["illuminated"] = bool(plan.get("illuminated"))
    if values["illuminated"] and not values["wiring"]:
        raise DomainError(WIRING_MISSING).on("wiring")
    return values


def plan_from_design(project: Project) -> dict[str, Any]:
    """The plan as the approved design describes it (what the plan form starts from)."""
    version = project.latest_version
    if version is None:
        return {}
    clearance = version.clearance_m if version.clearance_m is not None else Decimal(0)
    return {"width_m": version.width_m, "height_m": version.height_m, "projection_m": version.projection_m,
            "clearance_m": version.clearance_m, "top_height_m": clearance + version.height_m,
            "illuminated": version.illuminated, "wiring": version.lighting, "fixing_method": version.fixing_method}


def plan_of(permit: Permit) -> dict[str, Any]:
    return {name: getattr(permit, name) for name in PLAN_FIELDS}


# --- advice: does the district have to decide? -----------------------------------------------------------

# DOMAIN.md (Shanghai order no. 41): the district's full permit is needed for signs that may affect public safety.
# The examples below are advice shown to the officer, who decides; the reach of a projecting sign is the street's
# own guideline (projects.guidelines), the others are the order's figures.
LARGE_PROJECTING_FACE_M2 = Decimal("1.0")
FREE_STANDING_MAX_M = Decimal("2.5")
TOP_EDGE_MAX_M = Decimal("10")
DEFAULT_MAX_REACH_M = Decimal("1.5")


def district_permit_reasons(plan: Mapping[str, Any], *, max_reach_m: Decimal = DEFAULT_MAX_REACH_M) -> list[str]:
    """Why the plan may need the district's full permit (常规许可), in the reader's language; [] when nothing
    suggests it. `plan` holds the plan's numbers and the design's `sign_type`."""
    sign_type = plan.get("sign_type")
    sign_type = SignType(sign_type) if sign_type else None
    reach = Decimal(plan.get("projection_m") or 0)
    face = Decimal(plan.get("width_m") or 0) * Decimal(plan.get("height_m") or 0)
    top = Decimal(plan.get("top_height_m") or 0)
    reasons = []
    if sign_type == SignType.PROJECTING and reach > max_reach_m:
        reasons.append(_l("A projecting sign reaching %(reach)s m from the wall (more than %(max)s m).",
                          reach=_m(reach), max=_m(max_reach_m)))
    if sign_type == SignType.PROJECTING and face > LARGE_PROJECTING_FACE_M2:
        reasons.append(_l("A large projecting sign: %(area)s m² of face (more than %(max)s m²).",
                          area=_m(face), max=_m(LARGE_PROJECTING_FACE_M2)))
    if sign_type == SignType.FREE_STANDING and top > FREE_STANDING_MAX_M:
        reasons.append(_l("A free-standing sign %(height)s m high (more than %(max)s m).",
                          height=_m(top), max=_m(FREE_STANDING_MAX_M)))
    if sign_type == SignType.ROOFTOP:
        reasons.append(_l("A sign on the roof."))
    if top > TOP_EDGE_MAX_M:
        reasons.append(_l("The top edge is %(height)s m above the pavement (more than %(max)s m, about the "
                          "3rd storey).", height=_m(top), max=_m(TOP_EDGE_MAX_M)))
    return [str(reason) for reason in reasons]


def _m(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


# --- who hears about it --------------------------------------------------------------------------------

NOTICES = {
    "requested": N_("%(shop)s asks the street office for the structural permit of “%(title)s”."),
    "resubmitted": N_("%(shop)s sent a revised structural plan for “%(title)s” (round %(round)s)."),
    "granted": N_("The structural permit for “%(title)s” is granted."),
    "granted_with_conditions": N_("The structural permit for “%(title)s” is granted, on these conditions: "
                                  "%(conditions)s"),
    "denied": N_("The structural permit for “%(title)s” was denied: %(reason)s"),
    "district_required": N_("“%(title)s” needs the district's full permit: %(reason)s Upload it here once you "
                            "have it."),
    "district_uploaded": N_("%(shop)s uploaded the district's permit for “%(title)s”."),
}


def _tell_officers(user: User, permit: Permit, key: str) -> None:
    project = permit.project
    notify(officers_of_street(permit.street_id) - {user.id}, NOTICES[key], page("permits.permit", permit_id=permit.id),
           shop=project.shop.name, title=project.title, round=permit.round)


def _tell_the_shop(user: User, permit: Permit, key: str, **values: Any) -> None:
    from merchant_alliance.projects.services import people_concerned

    project = permit.project
    notify(people_concerned(project) - {user.id}, NOTICES[key], page("permits.permit", permit_id=permit.id),
           title=project.title, **values)


# --- the services ---------------------------------------------------------------------------------------


def permit_of(project: Project) -> Permit | None:
    return db.session.scalar(select(Permit).where(Permit.project_id == project.id))


def request_permit(user: User, project: Project, plan: Mapping[str, Any], photos: Sequence[FileStorage] = (), *,
                   idempotency_key: str | None = None) -> Permit:
    """Send the project's structural plan, with drawings and photos, to the street office: the project's permit
    is made (or, after a denial, revised for another round) and the project waits for the decision. Committed;
    one form, one request."""
    if not authz.can(user, "propose", project):
        raise NotAllowed()
    lifecycle.check(user, project, "request_permit", internal=True)  # refused before any photo is processed
    values = clean_plan(plan)
    earlier = permit_of(project)
    files = [f for f in photos if f is not None and f.filename]
    if not files and (earlier is None or not earlier.plan_photos):
        raise DomainError(NO_PLAN_PHOTO).on("photos")
    prepared = prepare_photos(files)  # the slow part, before anything is written

    def write() -> Permit:
        stored = save_photos(user, prepared, alliance=project.alliance, shop=project.shop)
        if earlier is None:
            lifecycle.perform(user, project, "request_permit", internal=True, details={"round": 1})
            permit = Permit(project_id=project.id, alliance_id=project.alliance_id,
                            street_id=project.alliance.street_id, state=P.REQUESTED, round=1,
                            submitted_by_id=user.id, **values)
            db.session.add(permit)
            db.session.flush()
            audit.record(user, "permit.requested", permit, alliance_id=permit.alliance_id,
                         street_id=permit.street_id, round=1, permit_state=str(P.REQUESTED))
        else:
            permit = earlier
            permits.perform(user, permit, "resubmit", internal=True, values={
                **values, "round": Permit.round + 1, "submitted_by_id": user.id, "submitted_at": utcnow(),
                "decided_by_id": None, "decided_at": None, "reason": ""})
            lifecycle.perform(user, project, "request_permit", internal=True, details={"round": permit.round})
        _link(permit, stored, "plan")
        _tell_officers(user, permit, "requested" if permit.round == 1 else "resubmitted")
        return permit

    return submit_once(user, idempotency_key, Permit, write,
                       conflict=DomainError(_l("The structural plan of this project was sent a moment ago.")))


def _link(permit: Permit, photos: Sequence[Photo], kind: str) -> None:
    if photos:
        db.session.execute(insert(permit_photos).execution_options(cache_scopes=scopes_of(permit)),
                           [{"permit_id": permit.id, "photo_id": photo.id, "kind": kind} for photo in photos])
        db.session.expire(permit, ["plan_photos" if kind == "plan" else "district_photos"])


MAX_CONDITIONS = 20
CONDITION_LENGTH = 300


def clean_conditions(conditions: Sequence[str]) -> list[str]:
    """The conditions, one per entry, blank ones dropped."""
    texts = [text.strip() for text in conditions if text and text.strip()]
    if len(texts) > MAX_CONDITIONS:
        raise DomainError(_l("At most %(n)s conditions, please."), n=MAX_CONDITIONS).on("conditions")
    if any(len(text) > CONDITION_LENGTH for text in texts):
        raise DomainError(_l("Each condition can be at most %(n)s characters."), n=CONDITION_LENGTH).on("conditions")
    return texts


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise DomainError(_l("A reason can be at most %(n)s characters."), n=2000).on("reason")
    return reason


def _may_decide(user: User, permit: Permit) -> None:
    if not authz.can(user, "decide", permit):
        raise NotAllowed()


def _check(user: User, permit: Permit, action: str, project_action: str, attempt: Attempt | None = None) -> None:
    """Both moves of a decision checked before either is written (a project withdrawn meanwhile refuses it)."""
    permits.check(user, permit, action, attempt)
    lifecycle.check(user, permit.project, project_action, attempt, internal=True)


def _decided(user: User) -> dict[str, Any]:
    return {"decided_by_id": user.id, "decided_at": utcnow()}


def _add_conditions(permit: Permit, texts: Sequence[str]) -> None:
    db.session.add_all([PermitCondition(permit_id=permit.id, position=n, text=text)
                        for n, text in enumerate(texts, start=1)])
    db.session.flush()
    db.session.expire(permit, ["conditions"])


def _tell_granted(user: User, permit: Permit, texts: Sequence[str]) -> None:
    if texts:
        _tell_the_shop(user, permit, "granted_with_conditions", conditions="; ".join(texts))
    else:
        _tell_the_shop(user, permit, "granted")


def grant(user: User, permit: Permit, conditions: Sequence[str] = ()) -> Permit:
    """The officer grants the plan, with conditions the acceptance inspection checks; the project may be funded.
    Committed. Two decisions at once: the first wins, the second is told."""
    _may_decide(user, permit)
    texts = clean_conditions(conditions)
    _check(user, permit, "grant", "grant_permit")
    permits.perform(user, permit, "grant", values={**_decided(user), "reason": ""}, details={"conditions": texts})
    _add_conditions(permit, texts)
    lifecycle.perform(user, permit.project, "grant_permit", internal=True,
                      details={"conditions": texts} if texts else None)
    _tell_granted(user, permit, texts)
    db.session.commit()
    return permit


def deny(user: User, permit: Permit, reason: str) -> Permit:
    """The officer denies the plan, saying why; the shop revises it and sends it again. Committed."""
    _may_decide(user, permit)
    attempt = Attempt(reason=_reason(reason))
    _check(user, permit, "deny", "deny_permit", attempt)
    permits.perform(user, permit, "deny", attempt, values={**_decided(user), "reason": attempt.reason})
    lifecycle.perform(user, permit.project, "deny_permit", attempt, internal=True)
    _tell_the_shop(user, permit, "denied", reason=attempt.reason)
    db.session.commit()
    return permit


def require_district(user: User, permit: Permit, reason: str) -> Permit:
    """The officer finds that the district must decide (常规许可): the shop brings the district's permit; the
    project keeps waiting. Committed."""
    _may_decide(user, permit)
    attempt = Attempt(reason=_reason(reason))
    permits.perform(user, permit, "require_district", attempt, values={**_decided(user), "reason": attempt.reason})
    _tell_the_shop(user, permit, "district_required", reason=attempt.reason)
    db.session.commit()
    return permit


def upload_district_permit(user: User, permit: Permit, photos: Sequence[FileStorage]) -> list[Photo]:
    """The shop (or its lead) uploads photos or scans of the district's permit. Committed; a photo already
    uploaded (a double tap) is not added again."""
    if not authz.can(user, "submit", permit):
        raise NotAllowed()
    if not permits.allows(permit, "upload_district"):
        raise DomainError(_l("The district's permit is uploaded once the street office asks for it."))
    prepared = prepare_photos(photos)  # the slow part, before anything is written
    if not prepared.images:
        raise DomainError(_l("Add a photo or scan of the district's permit.")).on("photos")
    known = {photo.sha256 for photo in permit.district_photos}
    new = PreparedPhotos([(name, image) for name, image in prepared.images if image.sha256 not in known])
    if not new.images:
        return []
    project = permit.project
    stored = save_photos(user, new, alliance=project.alliance, shop=project.shop)
    permits.hold(permit, "upload_district")  # still waiting for it where it is written: not after a decision
    _link(permit, stored, "district")
    audit.record(user, "permit.district_uploaded", permit, alliance_id=permit.alliance_id, street_id=permit.street_id,
                 project_id=permit.project_id, photos=len(stored))
    _tell_officers(user, permit, "district_uploaded")
    db.session.commit()
    return stored


def record_district_permit(user: User, permit: Permit, number: str, conditions: Sequence[str] = ()) -> Permit:
    """The officer records the number of the district's permit the shop uploaded: the permit is granted (with
    conditions, if any) and the project may be funded. Committed."""
    _may_decide(user, permit)
    number = (number or "").strip()
    if not number:
        raise DomainError(_l("Enter the number of the district's permit.")).on("number")
    if len(number) > 60:
        raise DomainError(_l("A permit number can be at most %(n)s characters."), n=60).on("number")
    texts = clean_conditions(conditions)
    _check(user, permit, "record_district", "grant_permit")
    permits.perform(user, permit, "record_district", values={**_decided(user), "district_number": number},
                    details={"number": number, "conditions": texts})
    _add_conditions(permit, texts)
    lifecycle.perform(user, permit.project, "grant_permit", internal=True,
                      details={"district_number": number, **({"conditions": texts} if texts else {})})
    _tell_granted(user, permit, texts)
    db.session.commit()
    return permit


# --- reading --------------------------------------------------------------------------------------------


def load_permit(permit_id: int) -> Permit | None:
    """A permit with its project, shop, alliance, people, conditions and photos, loaded up front."""
    return db.session.scalar(select(Permit).where(Permit.id == permit_id).options(
        joinedload(Permit.project).joinedload(Project.shop), joinedload(Permit.project).joinedload(Project.alliance),
        joinedload(Permit.submitted_by), joinedload(Permit.decided_by), selectinload(Permit.conditions),
        selectinload(Permit.plan_photos), selectinload(Permit.district_photos)))


def permit_for_card(project: Project) -> Permit | None:
    """The project's permit with its conditions (what the project page's card shows), or None."""
    return db.session.scalar(select(Permit).where(Permit.project_id == project.id)
                             .options(selectinload(Permit.conditions)))


def approved_design(project: Project) -> DesignVersion | None:
    """The project's latest design version: the one approved, which the plan builds."""
    return db.session.scalar(select(DesignVersion).where(DesignVersion.project_id == project.id)
                             .order_by(DesignVersion.number.desc()).limit(1))


def history(permit: Permit) -> list[audit.AuditEvent]:
    """The permit's events, oldest first: each round sent and each decision with its reasons."""
    return list(reversed(db.session.scalars(audit.events_for_object(permit)).all()))
