"""Forms of the street office's checklist editor and safety settings.

The editor is one form: a row per item, and a few blank rows to add items. The rules an item must follow are the
service's (checklists.check_items); the form only carries the rows there and puts each problem beside its field.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from merchant_alliance.errors import DomainError
from merchant_alliance.once import IdempotentForm
from merchant_alliance.safety import checklists
from merchant_alliance.safety.models import ChecklistTemplate, Severity

BLANK_ROWS = 3  # rows to add items, below the checklist's own
DAYS = {"inputmode": "numeric", "min": checklists.MIN_DAYS, "max": checklists.MAX_DAYS}
CODE_INPUT = {"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"}


class ItemForm(Form):
    """One row of the editor (no CSRF token of its own: the checklist form carries it)."""

    code = StringField(_l("Code"), validators=[Length(max=checklists.CODE_LENGTH, message=checklists.TOO_LONG)],
                       render_kw=CODE_INPUT)
    text_zh = StringField(_l("Item in Chinese"),
                          validators=[Length(max=checklists.TEXT_LENGTH, message=checklists.TOO_LONG)])
    text_en = StringField(_l("Item in English"),
                          validators=[Length(max=checklists.TEXT_LENGTH, message=checklists.TOO_LONG)])
    severity = SelectField(_l("Severity"), choices=lambda: [(s.value, s.label) for s in Severity],
                           default=Severity.MAJOR.value, validate_choice=False)
    photo_required = BooleanField(_l("Photo required"))
    applies_to = SelectMultipleField(_l("Applies to"),
                                     choices=lambda: [(k, checklists.KIND_LABELS[k]) for k in checklists.KINDS],
                                     widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                                     validate_choice=False, description=_l("Tick none for every sign."))
    remove = BooleanField(_l("Remove this item"))

    @property
    def blank(self) -> bool:
        return not any((field.data or "").strip() for field in (self.code, self.text_zh, self.text_en))


class ChecklistForm(IdempotentForm):
    items = FieldList(FormField(ItemForm), max_entries=checklists.MAX_ITEMS + BLANK_ROWS)
    based_on = IntegerField(widget=HiddenInput(), validators=[Optional(), NumberRange(min=0)])
    note = StringField(_l("What changed, and why"),
                       validators=[Optional(), Length(max=checklists.NOTE_LENGTH, message=checklists.TOO_LONG)])

    def fill(self, template: ChecklistTemplate) -> None:
        """The rows of `template`, then blank rows to add items; the version it is based on."""
        for item in template.items:
            self.items.append_entry({
                "code": item.code, "text_zh": item.text_zh, "text_en": item.text_en,
                "severity": str(item.severity), "photo_required": item.photo_required,
                "applies_to": [kind for kind in checklists.KINDS if kind in item.kinds]})
        for _ in range(BLANK_ROWS):
            self.items.append_entry()
        self.based_on.data = template.version

    def specs(self) -> list[checklists.ItemSpec]:
        """The items to save: every row but the removed and the blank ones, in the order shown."""
        self._kept = [row for row in self.items if not row.form.remove.data and not row.form.blank]
        return [checklists.ItemSpec(code=row.form.code.data or "", text_zh=row.form.text_zh.data or "",
                                    text_en=row.form.text_en.data or "", severity=row.form.severity.data,
                                    photo_required=bool(row.form.photo_required.data),
                                    applies_to=tuple(row.form.applies_to.data or ()))
                for row in self._kept]

    def show_problems(self, error: DomainError | None) -> None:
        """Put each of the service's problems beside the field of the row it is about."""
        for problem in getattr(error, "problems", ()):
            field = self._kept[problem.index].form[problem.field]
            field.errors = [*field.errors, str(problem)]


class SafetySettingsForm(FlaskForm):
    street_code = StringField(
        _l("Street code"), filters=[lambda value: value.strip().upper() if value else value],
        validators=[InputRequired(), Length(max=12),
                    Regexp(checklists.STREET_CODE, message=checklists.STREET_CODE_FORM)],
        description=_l("Begins every certificate's serial number, e.g. YYL-2026-00017."), render_kw=CODE_INPUT)
    high_risk_days = IntegerField(_l("Inspect a high-risk sign every (days)"), render_kw=DAYS, validators=[
        InputRequired(), NumberRange(checklists.MIN_DAYS, checklists.MAX_DAYS, message=checklists.DAYS_RANGE)],
        description=_l("Projecting and rooftop signs, and lit signs with one more reason."))
    medium_risk_days = IntegerField(_l("Inspect a medium-risk sign every (days)"), render_kw=DAYS, validators=[
        InputRequired(), NumberRange(checklists.MIN_DAYS, checklists.MAX_DAYS, message=checklists.DAYS_RANGE)])
    low_risk_days = IntegerField(_l("Inspect a low-risk sign every (days)"), render_kw=DAYS, validators=[
        InputRequired(), NumberRange(checklists.MIN_DAYS, checklists.MAX_DAYS, message=checklists.DAYS_RANGE)],
        description=_l("Small wall signs in good repair."))
    critical_days = IntegerField(_l("Days to rectify a critical item"), render_kw=DAYS, validators=[
        InputRequired(), NumberRange(checklists.MIN_DAYS, checklists.MAX_DAYS, message=checklists.DAYS_RANGE)])
    major_days = IntegerField(_l("Days to rectify a major item"), render_kw=DAYS, validators=[
        InputRequired(), NumberRange(checklists.MIN_DAYS, checklists.MAX_DAYS, message=checklists.DAYS_RANGE)])
    minor_days = IntegerField(_l("Days to rectify a minor item"), render_kw=DAYS, validators=[
        InputRequired(), NumberRange(checklists.MIN_DAYS, checklists.MAX_DAYS, message=checklists.DAYS_RANGE)])
