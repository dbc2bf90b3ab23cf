"""Forms of the inspection, rectification and certificate pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, MultipleFileField, RadioField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from merchant_alliance.inputs import DayField
from merchant_alliance.photos.forms import PHOTO_ACCEPT
from merchant_alliance.safety.models import Outcome

# The upload field (macros/photos.html photo_field) adds a "take a photo" button of its own.
CAMERA = {"accept": PHOTO_ACCEPT}


class AnswerForm(FlaskForm):
    """One checklist item, saved on its own as soon as it is answered."""

    outcome = RadioField(_l("Result"), choices=lambda: [(o.value, o.label) for o in Outcome], validate_choice=False,
                         validators=[InputRequired(message=_l("Choose pass, fail or not applicable."))])
    finding = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    photos = MultipleFileField(_l("Photos"), render_kw=CAMERA)
    seen_revision = IntegerField(widget=HiddenField.widget, default=0,
                                 validators=[Optional(), NumberRange(min=0)])


class FinishForm(FlaskForm):
    exception_reason = TextAreaField(
        _l("Why the failed major items do not fail the inspection (leave empty to fail it)"),
        validators=[Optional(), Length(max=2000)])
    summary = TextAreaField(_l("Summary for the shop"), validators=[Optional(), Length(max=2000)])


class FixForm(FlaskForm):
    fixed_note = TextAreaField(_l("What was done"), validators=[Optional(), Length(max=2000)])
    photos = MultipleFileField(_l("Photo of the fixed item"), render_kw=CAMERA)


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class DeadlineForm(FlaskForm):
    deadline = DayField(_l("Fix by"), validators=[InputRequired(message=_l("Please choose a date."))])
