"""Forms for the shop register."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DecimalField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from merchant_alliance.shops.services import FIELD_LABELS


class ShopForm(FlaskForm):
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


class ImportConfirmForm(FlaskForm):
    content = HiddenField()
