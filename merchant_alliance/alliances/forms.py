"""Forms for streets, alliances and invitations."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from merchant_alliance.once import IdempotentForm


class StreetForm(IdempotentForm):
    name = StringField(_l("Street name"), validators=[DataRequired(), Length(max=100)])
    district = StringField(_l("District"), validators=[Optional(), Length(max=100)])


class AllianceForm(IdempotentForm):
    name = StringField(_l("Alliance name"), validators=[DataRequired(), Length(max=100)])
    road = StringField(_l("Road"), validators=[Optional(), Length(max=100)],
                       description=_l("The road the alliance's shops are on, e.g. 愚园路"))


class InvitationForm(IdempotentForm):
    role = SelectField(_l("Role"), validators=[DataRequired()])
    name = StringField(_l("Name of the person"), validators=[Optional(), Length(max=100)])
    phone = StringField(_l("Mobile number (optional)"), validators=[Optional(), Length(max=20)],
                        render_kw={"inputmode": "tel"})
    email = StringField(_l("Email (optional, the link is sent there)"), validators=[Optional(), Length(max=254)],
                        render_kw={"inputmode": "email"})
