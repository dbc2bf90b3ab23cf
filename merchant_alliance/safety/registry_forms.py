"""Forms of the registry pages: planning a road's periodic inspections, and closing a sign as removed."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from merchant_alliance.inputs import DayField
from merchant_alliance.safety.forms import CAMERA


class PlanForm(FlaskForm):
    """Start a periodic inspection of every due sign of one road, on the route of one day."""

    road = SelectField(_l("Road"), coerce=int, validate_choice=True,
                       validators=[InputRequired(message=_l("Choose a road."))])
    day = DayField(_l("Day of the route"), validators=[InputRequired(message=_l("Please choose a date."))])

    def offer(self, alliances) -> PlanForm:
        self.road.choices = [(a.id, a.road or a.name) for a in alliances]
        return self


class RemovalForm(FlaskForm):
    """Close the sign in the registry as taken down: a photo of the facade without it, and a note."""

    photos = MultipleFileField(_l("Photo of the facade without the sign"), render_kw=CAMERA)
    removal_note = TextAreaField(_l("Note"), render_kw={"maxlength": 500}, validators=[
        Optional(), Length(max=500, message=_l("A note can be at most %(max)d characters."))],
        description=_l("For example: taken down by the shop on 3 March, wall repaired."))
