"""Forms of the works. The rules are the services' (merchant_alliance.works.*): a form only turns what was typed into
values, so that every way in refuses the same input with the same words."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    FieldList,
    FormField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from merchant_alliance.inputs import DayField
from merchant_alliance.money import MoneyField
from merchant_alliance.once import IdempotentForm
from merchant_alliance.photos.forms import ATTACHMENT_ACCEPT
from merchant_alliance.shops.forms import PHOTO_INPUT
from merchant_alliance.works.models import Acceptor, ContractorKind

RECEIPTS = _l("Photos of the invoice or receipt")


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ContractorForm(IdempotentForm):
    name = StringField(_l("Company or team name"), validators=[InputRequired(), Length(max=100)])
    kinds = CheckboxesField(_l("What they do"), choices=lambda: [(k.value, k.label) for k in ContractorKind],
                            validate_choice=False)
    licence_number = StringField(_l("Licence or qualification number"), validators=[Optional(), Length(max=30)])
    contact_name = StringField(_l("Contact person"), validators=[Optional(), Length(max=50)])
    contact_phone = StringField(_l("Contact phone"), validators=[Optional(), Length(max=20)],
                                render_kw={"inputmode": "tel", "autocomplete": "off"})
    insurance_expires_on = DayField(_l("Insurance valid until"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)])

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in
                ("name", "kinds", "licence_number", "contact_name", "contact_phone", "insurance_expires_on", "notes")}


class PersonForm(FlaskForm):
    user_id = SelectField(_l("Person with the contractor role"), coerce=int, validate_choice=False)


class SettingsForm(FlaskForm):
    retention_percent = DecimalField(_l("Retention held from each payment (%)"), places=2,
                                     validators=[InputRequired(), NumberRange(min=0, max=3)],
                                     render_kw={"inputmode": "decimal", "step": "0.01"},
                                     description=_l("质保金: at most %(max)s%% of the work's value.", max=3))
    warranty_days = IntegerField(_l("Warranty before the retention is released (days)"),
                                 validators=[InputRequired(), NumberRange(min=0, max=3650)],
                                 render_kw={"inputmode": "numeric"})
    accepted_by = RadioField(_l("Who accepts a milestone"), choices=lambda: [(a.value, a.label) for a in Acceptor])


class InviteForm(FlaskForm):
    contractor_ids = CheckboxesField(_l("Contractors to ask"), coerce=int, validate_choice=False)
    request_note = TextAreaField(_l("What you ask for"), validators=[Optional(), Length(max=2000)],
                         description=_l("For example: remove the old sign, make and install the new one as designed."))


class QuoteForm(FlaskForm):
    amount = MoneyField(_l("Price (yuan)"))
    quote_scope = TextAreaField(_l("What the price includes"), validators=[InputRequired(), Length(max=5000)])
    duration_days = IntegerField(_l("Days needed"), validators=[InputRequired(), NumberRange(min=1, max=365)],
                                 render_kw={"inputmode": "numeric"})
    valid_until = DayField(_l("Valid until"), validators=[InputRequired()])
    photos = MultipleFileField(_l("Photos or PDFs of the quote and drawings"),
                               render_kw={**PHOTO_INPUT, "accept": ATTACHMENT_ACCEPT})


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class SelectForm(FlaskForm):
    reason = TextAreaField(_l("Why this quote"), validators=[Optional(), Length(max=2000)],
                           description=_l("Kept on the project's timeline."))
    start_on = DayField(_l("Work starts on"), validators=[Optional()])


class DoneForm(FlaskForm):
    photos = MultipleFileField(_l("Photos that show it is done"), render_kw=PHOTO_INPUT)
    done_note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class PaymentForm(IdempotentForm):
    receipts = MultipleFileField(RECEIPTS, render_kw=PHOTO_INPUT)
    payee_account = StringField(_l("Bank account (optional)"), validators=[Optional(), Length(max=200)])


class LogForm(IdempotentForm):
    photos = MultipleFileField(_l("Photos of the day"), render_kw=PHOTO_INPUT)
    work_done = TextAreaField(_l("What was done"), validators=[InputRequired(), Length(max=5000)])
    day = DayField(_l("Day"), validators=[InputRequired()])
    crew_size = IntegerField(_l("Crew"), validators=[Optional(), NumberRange(min=0, max=200)],
                             render_kw={"inputmode": "numeric"})
    weather = StringField(_l("Weather"), validators=[Optional(), Length(max=30)])
    problems = TextAreaField(_l("Problems"), validators=[Optional(), Length(max=5000)])


class PunchForm(IdempotentForm):
    description = TextAreaField(_l("The defect"), validators=[InputRequired(), Length(max=2000)])
    photos = MultipleFileField(_l("Photos of the defect"), render_kw=PHOTO_INPUT)


class FixForm(FlaskForm):
    photos = MultipleFileField(_l("Photos of the repair"), render_kw=PHOTO_INPUT)
    fix_note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class ChangeForm(IdempotentForm):
    amount = MoneyField(_l("Change to the price (yuan; negative lowers it)"), allow_zero=True, signed=True)
    change_scope = TextAreaField(_l("What changes, and why"), validators=[InputRequired(), Length(max=5000)])


class ApproveChangeForm(FlaskForm):
    shop_share = MoneyField(_l("Paid by the shop (yuan)"), [Optional()], allow_zero=True)
    fund_share = MoneyField(_l("Paid by the fund (yuan)"), [Optional()], allow_zero=True)
    subsidy_share = MoneyField(_l("Paid by the subsidy (yuan)"), [Optional()], allow_zero=True)
    reason = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


class MilestoneRow(FlaskForm):
    class Meta:
        csrf = False

    id = IntegerField(widget=HiddenInput())
    name = StringField(_l("Milestone"), validators=[InputRequired(), Length(max=100)])
    due_on = DayField(_l("Due"), validators=[InputRequired()])
    share_percent = DecimalField(_l("Share (%)"), places=2, validators=[InputRequired(), NumberRange(min=0, max=100)],
                                 render_kw={"inputmode": "decimal", "step": "0.01"})
    photos_needed = IntegerField(_l("Photos needed"), validators=[InputRequired(), NumberRange(min=0, max=10)],
                                 render_kw={"inputmode": "numeric"})


class MilestonesForm(FlaskForm):
    rows = FieldList(FormField(MilestoneRow), min_entries=0, max_entries=20)
