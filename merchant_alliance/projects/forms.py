"""Forms for signboards, proposals, design versions, comments, reviews and guidelines."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from merchant_alliance.money import MoneyField
from merchant_alliance.once import IdempotentForm
from merchant_alliance.shops.forms import METRES, PHOTO_INPUT, SignSpecMixin


class ProposalForm(IdempotentForm):
    signboard_id = SelectField(_l("Signboard"), coerce=int, validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)],
                        description=_l("For example: new wooden sign for the café"))
    description = TextAreaField(_l("What do you want to change, and why?"), validators=[Optional(), Length(max=5000)])


class DesignVersionForm(SignSpecMixin, IdempotentForm):
    materials = StringField(_l("Materials"), validators=[Optional(), Length(max=200)],
                            description=_l("Face and frame, e.g. aluminium panel on a galvanised steel frame"))
    lighting = StringField(_l("Lighting"), validators=[Optional(), Length(max=200)])
    fixing_method = StringField(_l("Fixing method"), validators=[Optional(), Length(max=200)],
                                description=_l("How the sign is fixed to the wall, e.g. M12 chemical anchors"))
    estimated_cost = MoneyField(_l("Estimated cost (yuan)"), validators=[Optional()])
    notes = TextAreaField(_l("Notes for the reviewer"), validators=[Optional(), Length(max=5000)])
    mockups = MultipleFileField(_l("Mock-ups of the new design"), render_kw=PHOTO_INPUT)
    current = MultipleFileField(_l("Photos of the sign as it is now"), render_kw=PHOTO_INPUT)


class CommentForm(IdempotentForm):
    body = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=5000)])
    photos = MultipleFileField(_l("Photos (optional)"), render_kw=PHOTO_INPUT)


class TransitionForm(FlaskForm):
    action = HiddenField(validators=[DataRequired(), Length(max=40)])
    reason = TextAreaField(_l("Reason or note"), validators=[Optional(), Length(max=2000)])


class GuidelineForm(FlaskForm):
    max_width_share = DecimalField(_l("Maximum sign width as a share of the facade (0.10–1.00)"), places=2,
                                   validators=[InputRequired(), NumberRange(min=0.1, max=1)], render_kw=METRES)
    max_height_m = DecimalField(_l("Maximum height (m)"), places=2,
                                validators=[InputRequired(), NumberRange(min=0, max=50)], render_kw=METRES)
    max_projection_wall_m = DecimalField(_l("Maximum projection of wall-parallel signs and canopies (m)"), places=2,
                                         validators=[InputRequired(), NumberRange(min=0, max=50)], render_kw=METRES)
    max_projection_projecting_m = DecimalField(_l("Maximum reach of projecting signs (m)"), places=2,
                                               validators=[InputRequired(), NumberRange(min=0, max=50)],
                                               render_kw=METRES)
    min_clearance_m = DecimalField(_l("Minimum clear height under projecting signs and canopies (m)"), places=2,
                                   validators=[InputRequired(), NumberRange(min=0, max=50)], render_kw=METRES)
    lighting_allowed = BooleanField(_l("Illuminated signs allowed"))
    notes = TextAreaField(_l("Other guidance for shops"), validators=[Optional(), Length(max=5000)])


GOAL_RANGE = _l("The goal must be a number of signs between %(min)s and %(max)s.")


class RenewalGoalForm(FlaskForm):
    """The lead's goal: how many signs the alliance means to renew (blank: no goal)."""

    goal = IntegerField(_l("Signs to renew"),
                        validators=[Optional(), NumberRange(min=1, max=10_000, message=GOAL_RANGE)])
