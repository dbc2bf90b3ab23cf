"""Forms for recording money. Each carries a one-time key, so a double submit records once."""

import uuid

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from merchant_alliance.funds.models import EntryKind, PaymentMethod
from merchant_alliance.photos.forms import PHOTO_ACCEPT

# What the treasurer records directly. Expenses and refunds go through approval (next step).
RECORDABLE_KINDS = (EntryKind.CONTRIBUTION, EntryKind.SUBSIDY, EntryKind.DONATION)


class IdempotentForm(FlaskForm):
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=64)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.idempotency_key.data:
            self.idempotency_key.data = uuid.uuid4().hex


class EntryForm(IdempotentForm):
    kind = SelectField(_l("What is it?"), choices=lambda: [(k.value, k.label) for k in RECORDABLE_KINDS])
    amount = StringField(_l("Amount (yuan)"), validators=[DataRequired(), Length(max=30)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    shop_id = SelectField(_l("From which shop"), coerce=int, validators=[Optional()])
    counterparty = StringField(_l("Payer (for a subsidy or donation)"), validators=[Optional(), Length(max=100)],
                               description=_l("For example: 静安寺街道办事处"))
    method = SelectField(_l("How it was paid"), choices=lambda: [(m.value, m.label) for m in PaymentMethod])
    reference = StringField(_l("Reference number"), validators=[Optional(), Length(max=100)],
                            description=_l("The transaction number on the bank or WeChat Pay record"))
    occurred_on = DateField(_l("Date received"), validators=[Optional()])
    purpose = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    receipt = FileField(_l("Photo of the receipt or voucher (optional)"),
                        render_kw={"accept": PHOTO_ACCEPT})


class ReversalForm(IdempotentForm):
    reason = TextAreaField(_l("Why is this entry wrong?"), validators=[DataRequired(), Length(max=2000)])
