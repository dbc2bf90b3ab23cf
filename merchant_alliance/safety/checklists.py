"""The street's checklist and safety settings: data the street office edits, never code.

A street without a checklist of its own starts from DOMAIN.md's S01–S16 (version 1, made the first time it is
needed). Editing saves a new version; an inspection keeps the version it was started with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Street, User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.once import lock_row, submit_once
from merchant_alliance.safety.models import (
    ILLUMINATED,
    Certificate,
    ChecklistItem,
    ChecklistTemplate,
    SafetySettings,
    Severity,
)
from merchant_alliance.shops.models import SIGN_TYPE_LABELS, SignType


@dataclass(frozen=True)
class ItemSpec:
    code: str
    text_zh: str
    text_en: str
    severity: Severity
    photo_required: bool = False
    applies_to: tuple[str, ...] = ()  # SignType values and ILLUMINATED; empty: every sign


C, M, N = Severity.CRITICAL, Severity.MAJOR, Severity.MINOR
STRUCTURES = (SignType.PROJECTING, SignType.CANOPY, SignType.FREE_STANDING, SignType.ROOFTOP)

# DOMAIN.md "A realistic inspection checklist": the default for every street.
DEFAULT_ITEMS = (
    ItemSpec("S01", "招牌形式确认", "Sign type confirmed (wall-parallel, projecting, canopy, free-standing)", N),
    ItemSpec("S02", "实测长/高/出挑", "Measured length, height and projection within the approved design", M,
             photo_required=True),
    ItemSpec("S03", "牌面底标高", "Clear height of the sign's bottom edge above the pavement", C, photo_required=True),
    ItemSpec("S04", "被依附结构", "Host wall suitable (not dilapidated, not unsuitable brick)", C, photo_required=True),
    ItemSpec("S05", "连接方式及螺栓扭矩", "Fixing method and bolt torque", C, photo_required=True),
    ItemSpec("S06", "锚栓/膨胀螺栓", "Anchors present and tight", C),
    ItemSpec("S07", "焊缝", "No weld cracks", C, applies_to=STRUCTURES),
    ItemSpec("S08", "钢构件锈蚀", "No steel corrosion or coating loss", M),
    ItemSpec("S09", "构件变形/倾斜", "No deformation or tilt", C),
    ItemSpec("S10", "面板材料", "Compliant face material (no plywood, glass, indoor aluminium-plastic board)", M),
    ItemSpec("S11", "面板与骨架连接", "Panel firmly fixed to the frame", M),
    ItemSpec("S12", "电线穿管", "Wiring in conduit, not aged or damaged", C, photo_required=True,
             applies_to=(ILLUMINATED,)),
    ItemSpec("S13", "漏电保护/接地", "Leakage protection and earthing", C, applies_to=(ILLUMINATED,)),
    ItemSpec("S14", "灯具防水", "Luminaires waterproof", M, applies_to=(ILLUMINATED,)),
    ItemSpec("S15", "防雷", "Lightning protection where required", M,
             applies_to=(SignType.PROJECTING, SignType.FREE_STANDING, SignType.ROOFTOP)),
    ItemSpec("S16", "消防疏散", "Does not block fire exits, windows or evacuation routes", C),
)

# The kinds an item may apply to, in the order the editor shows them.
KINDS = (*(kind.value for kind in SignType), ILLUMINATED)


def current_template(street_id: int) -> ChecklistTemplate:
    """The street's checklist as it stands (its latest version); version 1 from the default when it has none.
    Not committed: the caller's transaction writes it with whatever it is doing."""
    template = db.session.scalar(select(ChecklistTemplate).where(ChecklistTemplate.street_id == street_id)
                                 .order_by(ChecklistTemplate.version.desc()).limit(1))
    if template is None:
        template = _first_version(street_id)
    return template


def _first_version(street_id: int) -> ChecklistTemplate:
    """Version 1 from the default. Two requests making it at once: the second finds the first's."""
    template = default_template(street_id)
    try:
        with db.session.begin_nested():
            db.session.add(template)
    except IntegrityError:
        return db.session.scalar(select(ChecklistTemplate).where(
            ChecklistTemplate.street_id == street_id, ChecklistTemplate.version == 1))
    return template


def default_template(street_id: int) -> ChecklistTemplate:
    """Version 1 as DOMAIN.md's S01–S16, not added to the session (a page shows it before it is ever saved)."""
    return ChecklistTemplate(street_id=street_id, version=1, note="DOMAIN S01–S16", items=_items_of(DEFAULT_ITEMS))


def _items_of(specs: Sequence[ItemSpec]) -> list[ChecklistItem]:
    return [ChecklistItem(position=number, code=spec.code, text_zh=spec.text_zh, text_en=spec.text_en,
                          severity=spec.severity, photo_required=spec.photo_required,
                          applies_to=",".join(str(kind) for kind in spec.applies_to))
            for number, spec in enumerate(specs, start=1)]


def settings_for(street_id: int) -> SafetySettings:
    """The street's safety settings; the defaults (a year's validity, 2/14/30 days to rectify) when it has none.
    Not committed."""
    settings = db.session.get(SafetySettings, street_id)
    if settings is None:
        settings = SafetySettings(street_id=street_id, code=default_code(street_id))
        try:
            with db.session.begin_nested():
                db.session.add(settings)
        except IntegrityError:
            settings = db.session.get(SafetySettings, street_id, populate_existing=True)
    return settings


def default_code(street_id: int) -> str:
    """A street's code in serial numbers until the office sets its own: ST and its number (ST007)."""
    return f"ST{street_id:03d}"


# --- the street office edits its checklist and settings -------------------------------------------------------

AUDIT_LABELS = {
    "safety.checklist_saved": _l("saved a new version of the safety checklist"),
    "safety.settings_saved": _l("changed the street's safety settings"),
}
AUDIT_OBJECTS = {"checklisttemplate": _l("Safety checklist")}

# What an item may apply to, named for the reader (KINDS gives the order).
KIND_LABELS = {**{kind.value: label for kind, label in SIGN_TYPE_LABELS.items()}, ILLUMINATED: _l("Illuminated")}

MAX_ITEMS = 100
CODE_LENGTH = 10  # ChecklistItem.code
TEXT_LENGTH = 200  # ChecklistItem.text_zh, text_en
NOTE_LENGTH = 200  # ChecklistTemplate.note
ITEM_CODE = re.compile(r"[A-Z]+[0-9]+\Z")  # S01, EL2
STREET_CODE = re.compile(r"[A-Z0-9]{2,12}\Z")  # SafetySettings.code, the start of every certificate's serial
MIN_DAYS, MAX_DAYS = 1, 3650

CODE_MISSING = _l("Give the item a code, such as S17.")
CODE_FORM = _l("A code is letters followed by digits, at most 10 characters, such as S17.")
CODE_TWICE = _l("Another item already has the code %(code)s.")
ZH_MISSING = _l("Write the item in Chinese.")
EN_MISSING = _l("Write the item in English.")
TOO_LONG = _l("At most %(max)s characters.")
SEVERITY_UNKNOWN = _l("Choose critical, major or minor.")
KIND_UNKNOWN = _l("Choose the kinds of sign from the list.")
ITEMS_REFUSED = _l("The checklist was not saved. Please correct the items marked below.")
NO_ITEMS = _l("A checklist needs at least one item.")
TOO_MANY_ITEMS = _l("A checklist can have at most %(n)s items.")
NOTHING_CHANGED = _l("This is the same checklist as version %(n)s: change, add or remove an item before saving.")
CHANGED_MEANWHILE = _l("Someone else saved version %(n)s of this checklist a moment ago. Look at it, then make "
                       "your changes again.")
STREET_CODE_FORM = _l("The street code is 2 to 12 capital letters or digits, such as YYL.")
STREET_CODE_TAKEN = _l("Another street uses the code %(code)s. Please choose another one.")
DAYS_RANGE = _l("Choose a number of days from %(min)s to %(max)s.")


@dataclass(frozen=True)
class Problem:
    """What is wrong with one item: its place in the list given (from 0), the field, the message."""

    index: int
    field: str  # code, text_zh, text_en, severity or applies_to
    message: LazyString
    params: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        return str(self.message) % dict(self.params) if self.params else str(self.message)


class ChecklistRefused(DomainError):
    """Some items break the rules; each problem names its item and field, so a form shows it beside them."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(ITEMS_REFUSED)
        self.problems = problems


def check_items(items: Sequence[Any]) -> tuple[list[ItemSpec], list[Problem]]:
    """The items as they would be stored (codes in capitals, texts trimmed, kinds in KINDS' order), and every
    problem with them. An item is anything with ItemSpec's attributes."""
    specs: list[ItemSpec] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        found: list[tuple[str, LazyString, tuple]] = []
        code = str(item.code or "").strip().upper()
        if not code:
            found.append(("code", CODE_MISSING, ()))
        elif len(code) > CODE_LENGTH or not ITEM_CODE.match(code):
            found.append(("code", CODE_FORM, ()))
        elif code in seen:
            found.append(("code", CODE_TWICE, (("code", code),)))
        seen.add(code)
        texts = {}
        for field, missing in (("text_zh", ZH_MISSING), ("text_en", EN_MISSING)):
            texts[field] = str(getattr(item, field) or "").strip()
            if not texts[field]:
                found.append((field, missing, ()))
            elif len(texts[field]) > TEXT_LENGTH:
                found.append((field, TOO_LONG, (("max", TEXT_LENGTH),)))
        try:
            severity = Severity(str(item.severity))
        except ValueError:
            severity = Severity.MAJOR
            found.append(("severity", SEVERITY_UNKNOWN, ()))
        kinds = item.applies_to or ()
        kinds = {str(kind).strip() for kind in (kinds.split(",") if isinstance(kinds, str) else kinds)} - {""}
        if kinds - set(KINDS):
            found.append(("applies_to", KIND_UNKNOWN, ()))
        problems.extend(Problem(index, field, message, params) for field, message, params in found)
        specs.append(ItemSpec(code, texts["text_zh"], texts["text_en"], severity, bool(item.photo_required),
                              tuple(kind for kind in KINDS if kind in kinds)))
    return specs, problems


def save_version(user: User, street: Street, items: Sequence[Any], note: str = "", *, based_on: int | None = None,
                 idempotency_key: str | None = None) -> ChecklistTemplate:
    """Save the street's checklist as its next version; committed, once per form key. The earlier versions, and
    the inspections made with them, stay as they were. `based_on` is the version the officer edited: a version
    someone else saved since is never overwritten silently."""
    if not authz.can(user, "manage_safety", street):
        raise NotAllowed()
    specs, problems = check_items(items)
    if problems:
        raise ChecklistRefused(problems)
    if not specs:
        raise DomainError(NO_ITEMS)
    if len(specs) > MAX_ITEMS:
        raise DomainError(TOO_MANY_ITEMS, n=MAX_ITEMS)
    note = (note or "").strip()
    if len(note) > NOTE_LENGTH:
        raise DomainError(TOO_LONG, max=NOTE_LENGTH).on("note")
    street_id = street.id

    def write() -> ChecklistTemplate:
        latest = current_template(street_id)
        if based_on is not None and latest.version != based_on:
            raise DomainError(CHANGED_MEANWHILE, n=latest.version)
        changes = _changes(latest.items, specs)
        if not changes:
            raise DomainError(NOTHING_CHANGED, n=latest.version)
        template = ChecklistTemplate(street_id=street_id, version=latest.version + 1, note=note,
                                     created_by_id=user.id, items=_items_of(specs))
        try:
            with db.session.begin_nested():
                db.session.add(template)
        except IntegrityError:  # (street, version) is unique: another officer's save of this number came first
            raise DomainError(CHANGED_MEANWHILE, n=template.version) from None
        audit.record(user, "safety.checklist_saved", template, street_id=street_id, version=template.version,
                     note=note or None, **changes)
        return template

    return submit_once(user, idempotency_key, ChecklistTemplate, write)


def _changes(before: Sequence[ChecklistItem], after: Sequence[ItemSpec]) -> dict[str, Any]:
    """Which codes were added, removed or changed, and whether the order changed (only what did)."""
    old = {item.code: _spec_of(item) for item in before}
    new = {spec.code: spec for spec in after}
    changes = {
        "added": [code for code in new if code not in old],
        "removed": [code for code in old if code not in new],
        "changed": [code for code, spec in new.items() if code in old and old[code] != spec],
        "reordered": [code for code in old if code in new] != [code for code in new if code in old],
    }
    return {name: value for name, value in changes.items() if value}


def _spec_of(item: ChecklistItem) -> ItemSpec:
    return ItemSpec(item.code, item.text_zh, item.text_en, Severity(item.severity), item.photo_required,
                    tuple(kind for kind in KINDS if kind in item.kinds))


RISKIER_MORE_OFTEN = _l("A riskier sign cannot be inspected less often than a safer one.")


def update_settings(user: User, street: Street, code: str, high_risk_days: int, medium_risk_days: int,
                    low_risk_days: int, critical_days: int, major_days: int, minor_days: int) -> SafetySettings:
    """The street's code in certificate serial numbers, how often a sign is re-inspected by risk level (its
    certificate is valid until then), and the default days to rectify by severity; committed. Certificates and
    rectification orders already made keep their dates."""
    if not authz.can(user, "manage_safety", street):
        raise NotAllowed()
    code = str(code or "").strip().upper()
    if not STREET_CODE.match(code):
        raise DomainError(STREET_CODE_FORM).on("code")
    values: dict[str, Any] = {"high_risk_days": high_risk_days, "medium_risk_days": medium_risk_days,
                              "low_risk_days": low_risk_days, "critical_days": critical_days,
                              "major_days": major_days, "minor_days": minor_days}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or not MIN_DAYS <= value <= MAX_DAYS:
            raise DomainError(DAYS_RANGE, min=MIN_DAYS, max=MAX_DAYS).on(name)
    if not high_risk_days <= medium_risk_days <= low_risk_days:
        raise DomainError(RISKIER_MORE_OFTEN).on("medium_risk_days" if medium_risk_days < high_risk_days
                                                 else "low_risk_days")
    lock_row(Street, street.id)  # two saves at once: the second waits, then changes what the first saved
    if _code_taken(code, street.id):
        raise DomainError(STREET_CODE_TAKEN, code=code).on("code")
    settings = settings_for(street.id)
    changes = {name: [getattr(settings, name), value] for name, value in {"code": code, **values}.items()
               if getattr(settings, name) != value}
    if changes:
        for name, (_, value) in changes.items():
            setattr(settings, name, value)
        settings.updated_by_id = user.id
        audit.record(user, "safety.settings_saved", street, street_id=street.id, changes=changes)
    try:
        db.session.commit()
    except IntegrityError:  # another street took the same code at the same moment (codes are unique)
        db.session.rollback()
        raise DomainError(STREET_CODE_TAKEN, code=code).on("code") from None
    return settings


def _code_taken(code: str, street_id: int) -> bool:
    """Whether serial numbers starting with `code` could be another street's: its code now, one it printed on a
    certificate before, or the default code of another street (ST and its number)."""
    default = re.fullmatch(r"ST0*([0-9]+)", code)
    if default and int(default.group(1)) != street_id:
        return True
    return db.session.scalar(select(
        select(SafetySettings.street_id).where(SafetySettings.code == code, SafetySettings.street_id != street_id)
        .exists()
        | select(Certificate.id).where(Certificate.serial.startswith(f"{code}-"), Certificate.street_id != street_id)
        .exists()))


# --- what the street office's pages show ----------------------------------------------------------------------


def saved_version(street_id: int, number: int | None = None) -> ChecklistTemplate | None:
    """One saved version (the latest when `number` is None) with its items and who saved it."""
    query = (select(ChecklistTemplate).where(ChecklistTemplate.street_id == street_id)
             .options(selectinload(ChecklistTemplate.items), joinedload(ChecklistTemplate.created_by)))
    if number is None:
        query = query.order_by(ChecklistTemplate.version.desc()).limit(1)
    else:
        query = query.where(ChecklistTemplate.version == number)
    return db.session.scalar(query)


def shown_version(street_id: int, number: int | None = None) -> ChecklistTemplate | None:
    """What a page shows as that version (the latest when None): the saved one, or the default as version 1 while
    the street has saved none (shown, never written on a GET)."""
    template = saved_version(street_id, number)
    if template is None and (number is None or (number == 1 and saved_version(street_id) is None)):
        template = default_template(street_id)
    return template


@dataclass(frozen=True)
class VersionRow:
    number: int
    note: str
    saved_at: datetime
    saved_by: str | None
    items: int


def versions_of(street_id: int) -> list[VersionRow]:
    """Every saved version of the street's checklist, newest first, in one query."""
    items = (select(func.count(ChecklistItem.id)).where(ChecklistItem.template_id == ChecklistTemplate.id)
             .correlate(ChecklistTemplate).scalar_subquery())
    rows = db.session.execute(
        select(ChecklistTemplate.version, ChecklistTemplate.note, ChecklistTemplate.created_at, User.name, items)
        .outerjoin(User, User.id == ChecklistTemplate.created_by_id)
        .where(ChecklistTemplate.street_id == street_id).order_by(ChecklistTemplate.version.desc()))
    return [VersionRow(*row) for row in rows]


def shown_settings(street_id: int) -> SafetySettings:
    """The street's settings, or the defaults (not saved) when the street office has set none."""
    saved = db.session.get(SafetySettings, street_id)
    if saved is not None:
        return saved
    defaults = {column.name: column.default.arg for column in SafetySettings.__table__.columns
                if column.name.endswith("_days")}
    return SafetySettings(street_id=street_id, code=default_code(street_id), **defaults)
