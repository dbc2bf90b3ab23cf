"""Forms for the shop register."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DecimalField, HiddenField, IntegerField, MultipleFileField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from merchant_alliance.once import IdempotentForm
from merchant_alliance.photos.forms import PHOTO_ACCEPT
from merchant_alliance.shops.models import SignCondition, SignType
from merchant_alliance.shops.services import FIELD_LABELS, MAX_IMPORT_BYTES


class ShopForm(IdempotentForm):
    name = StringField(FIELD_LABELS["name"], validators=[DataRequired(), Length(max=100)])
    house_number = StringField(FIELD_LABELS["house_number"], validators=[DataRequired(), Length(max=30)],
                               description=_l("As on the door plate, without the road: 1018, 1018-1, 1018弄3"))
    facade_width_m = DecimalField(FIELD_LABELS["facade_width_m"], places=2,
                                  validators=[Optional(), NumberRange(min=0.1, max=200)],
                                  render_kw={"inputmode": "decimal"})
    business_type = StringField(FIELD_LABELS["business_type"], validators=[Optional(), Length(max=50)])
    contact_phone = StringField(FIELD_LABELS["contact_phone"], validators=[Optional(), Length(max=20)],
                                render_kw={"inputmode": "tel"})
    licence_number = StringField(FIELD_LABELS["licence_number"], validators=[Optional(), Length(max=30)])


class ImportUploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Please choose a CSV file."))],
                     render_kw={"accept": ".csv,text/csv"})


class ImportConfirmForm(IdempotentForm):
    content = HiddenField(validators=[Length(max=MAX_IMPORT_BYTES)])


PHOTO_INPUT = {"accept": PHOTO_ACCEPT, "multiple": True,
               "data-photo-input": True}
METRES = {"inputmode": "decimal", "step": "0.01"}


def sign_type_choices() -> list[tuple[str, str]]:
    return [(t.value, t.label) for t in SignType]


class SignSpecMixin:
    """The size and type fields shared by a signboard and a design version."""

    sign_type = SelectField(_l("Type of sign"), choices=sign_type_choices, validators=[DataRequired()])
    width_m = DecimalField(_l("Width (m)"), places=2, validators=[InputRequired(), NumberRange(min=0.01, max=50)],
                           render_kw=METRES)
    height_m = DecimalField(_l("Height (m)"), places=2, validators=[InputRequired(), NumberRange(min=0.01, max=50)],
                            render_kw=METRES)
    projection_m = DecimalField(_l("Projection from the wall (m)"), places=2,
                                validators=[Optional(), NumberRange(min=0, max=50)], render_kw=METRES)
    clearance_m = DecimalField(_l("Clear height above the pavement (m)"), places=2,
                               validators=[Optional(), NumberRange(min=0, max=50)], render_kw=METRES,
                               description=_l("From the pavement to the bottom edge of the sign."))
    illuminated = BooleanField(_l("Illuminated"))


class SignboardForm(SignSpecMixin, IdempotentForm):
    position = StringField(_l("Position on the facade"), validators=[DataRequired(), Length(max=100)],
                           description=_l("For example: above the main door"))
    material = StringField(_l("Material"), validators=[Optional(), Length(max=100)])
    install_year = IntegerField(_l("Year installed"), validators=[Optional(), NumberRange(min=1900, max=2100)],
                                render_kw={"inputmode": "numeric"})
    condition = SelectField(_l("Condition"), choices=lambda: [(c.value, c.label) for c in SignCondition
                                                                 if c != SignCondition.REMOVED])
    photos = MultipleFileField(_l("Photos of the sign"), render_kw=PHOTO_INPUT)
