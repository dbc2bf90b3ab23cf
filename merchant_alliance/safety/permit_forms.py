"""Forms of the structural permit: the shop's plan and the officer's decisions. The ranges are the service's
(safety.permits.clean_plan), so that the API and the forms refuse the same plans with the same words."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, MultipleFileField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from merchant_alliance.once import IdempotentForm
from merchant_alliance.safety.permits import PLAN_LABELS
from merchant_alliance.shops.forms import METRES, PHOTO_INPUT


class PlanForm(IdempotentForm):
    fixing_method = StringField(PLAN_LABELS["fixing_method"], validators=[InputRequired(), Length(max=200)],
                                description=_l("For example: M12 chemical anchors into the concrete beam, four "
                                               "per side"))
    host_wall = StringField(PLAN_LABELS["host_wall"], validators=[InputRequired(), Length(max=200)],
                            description=_l("What the sign is fixed to, and its state: concrete beam, solid brick, "
                                           "rendered; any cracks"))
    width_m = DecimalField(PLAN_LABELS["width_m"], places=2, validators=[InputRequired()], render_kw=METRES)
    height_m = DecimalField(PLAN_LABELS["height_m"], places=2, validators=[InputRequired()], render_kw=METRES)
    projection_m = DecimalField(PLAN_LABELS["projection_m"], places=2, validators=[InputRequired()],
                                render_kw=METRES)
    clearance_m = DecimalField(PLAN_LABELS["clearance_m"], places=2, validators=[InputRequired()],
                               render_kw=METRES, description=_l("From the pavement to the bottom edge of the sign."))
    top_height_m = DecimalField(PLAN_LABELS["top_height_m"], places=2, validators=[InputRequired()],
                                render_kw=METRES)
    weight_kg = DecimalField(PLAN_LABELS["weight_kg"], places=1, validators=[InputRequired()],
                             render_kw={"inputmode": "decimal", "step": "0.1"},
                             description=_l("Face, frame and fixings together."))
    illuminated = BooleanField(PLAN_LABELS["illuminated"])
    wiring = TextAreaField(PLAN_LABELS["wiring"], validators=[Optional(), Length(max=5000)],
                           description=_l("Lamps, cables in conduit, where the power comes from, leakage "
                                          "protection and earthing."))
    notes = TextAreaField(PLAN_LABELS["notes"], validators=[Optional(), Length(max=5000)])
    photos = MultipleFileField(_l("Drawings and photos of the plan"), render_kw=PHOTO_INPUT)


class GrantForm(FlaskForm):
    conditions = TextAreaField(_l("Conditions (one per line; the acceptance inspection checks each)"),
                               validators=[Optional(), Length(max=7000)])


class DecisionReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason (the shop will see it)"), validators=[Optional(), Length(max=2000)])


class DistrictUploadForm(FlaskForm):
    photos = MultipleFileField(_l("Photos or scans of the district's permit"), render_kw=PHOTO_INPUT)


class DistrictNumberForm(FlaskForm):
    number = StringField(_l("Number of the district's permit"), validators=[Optional(), Length(max=60)])
    conditions = TextAreaField(_l("Conditions (one per line; the acceptance inspection checks each)"),
                               validators=[Optional(), Length(max=7000)])
