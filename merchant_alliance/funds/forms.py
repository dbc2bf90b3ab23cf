"""Forms for recording money. Each carries a one-time key, so a double submit records once."""


from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DecimalField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from merchant_alliance.funds.models import EntryKind, PaymentMethod, ShareCover
from merchant_alliance.inputs import DayField
from merchant_alliance.once import IdempotentForm
from merchant_alliance.photos.forms import PHOTO_ACCEPT

# What the treasurer records directly. Money going out goes through an approved expense request.
RECORDABLE_KINDS = (EntryKind.CONTRIBUTION, EntryKind.SUBSIDY, EntryKind.DONATION)


class EntryForm(IdempotentForm):
    kind = SelectField(_l("What is it?"), choices=lambda: [(k.value, k.label) for k in RECORDABLE_KINDS])
    amount = StringField(_l("Amount (yuan)"), validators=[DataRequired(), Length(max=30)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    shop_id = SelectField(_l("From which shop"), coerce=int, validators=[Optional()])
    pledge_id = SelectField(_l("This payment settles the pledge"), coerce=int, validators=[Optional()],
                            description=_l("Choose the shop's pledge this money pays, if any"))
    counterparty = StringField(_l("Payer (for a subsidy or donation)"), validators=[Optional(), Length(max=100)],
                               description=_l("For example: 静安寺街道办事处"))
    method = SelectField(_l("How it was paid"), choices=lambda: [(m.value, m.label) for m in PaymentMethod])
    reference = StringField(_l("Reference number"), validators=[Optional(), Length(max=100)],
                            description=_l("The transaction number on the bank or WeChat Pay record"))
    occurred_on = DayField(_l("Date received"), validators=[Optional()])
    purpose = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    receipt = FileField(_l("Photo of the receipt or voucher (optional)"),
                        render_kw={"accept": PHOTO_ACCEPT})


class ReversalForm(IdempotentForm):
    reason = TextAreaField(_l("Why is this entry wrong?"), validators=[DataRequired(), Length(max=2000)])


class BudgetForm(FlaskForm):
    """The lead's split of a project's cost: the alliance's default rule, or the shares typed in."""

    budget = StringField(_l("Budget (yuan)"), validators=[DataRequired(), Length(max=30)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"},
                         description=_l("What the whole renovation costs, from the contractor's quote"))
    split = RadioField(_l("How to split it"), default="rule", choices=lambda: [
        ("rule", _l("The alliance's rule")),
        ("amount", _l("Amounts in yuan")),
        ("percent", _l("Percentages of the budget")),
    ])
    fund_share = StringField(_l("Fund's share"), validators=[Optional(), Length(max=30)],
                             render_kw={"inputmode": "decimal", "autocomplete": "off"})
    subsidy_share = StringField(_l("Subsidy's share"), validators=[Optional(), Length(max=30)],
                                render_kw={"inputmode": "decimal", "autocomplete": "off"},
                                description=_l("The shop pays the rest."))
    subsidy_source = StringField(_l("Subsidy from"), validators=[Optional(), Length(max=100)],
                                 description=_l("For example: 静安寺街道办事处"))


class PledgeForm(IdempotentForm):
    shop_id = SelectField(_l("Shop"), coerce=int, validators=[DataRequired()])
    project_id = SelectField(_l("For the project"), coerce=int, validators=[Optional()])
    amount = StringField(_l("Amount (yuan)"), validators=[DataRequired(), Length(max=30)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    due_on = DayField(_l("To be paid by"), validators=[InputRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class ExpenseRequestForm(IdempotentForm):
    payee = StringField(_l("Pay to"), validators=[Optional(), Length(max=100)],
                        description=_l("Usually the contractor, as named on the invoice"))
    payee_account = StringField(_l("Payee's bank and account number"), validators=[Optional(), Length(max=200)],
                                description=_l("Seen only by the leads, the treasurer and the street office"))
    project_id = SelectField(_l("For the project"), coerce=int, validators=[Optional()])
    refund_shop_id = SelectField(_l("Or: money back to a shop (a refund)"), coerce=int, validators=[Optional()],
                                 description=_l("Leave “Pay to” empty to pay the shop itself"))
    amount = StringField(_l("Amount (yuan)"), validators=[DataRequired(), Length(max=30)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    purpose = TextAreaField(_l("What is it for?"), validators=[DataRequired(), Length(max=2000)])
    receipts = MultipleFileField(_l("Photos of the receipt or invoice"), render_kw={"accept": PHOTO_ACCEPT})
    save_as_draft = BooleanField(_l("Save as a draft; I will add the receipts later"))


class ReceiptsForm(FlaskForm):
    receipts = MultipleFileField(_l("Photos of the receipt or invoice"), render_kw={"accept": PHOTO_ACCEPT})


class PaymentForm(IdempotentForm):
    method = SelectField(_l("How it was paid"), choices=lambda: [(m.value, m.label) for m in PaymentMethod])
    reference = StringField(_l("Reference number"), validators=[Optional(), Length(max=100)],
                            description=_l("The transaction number on the bank or WeChat Pay record"))
    occurred_on = DayField(_l("Date paid"), validators=[Optional()])


class FundRulesForm(FlaskForm):
    fund_percent = DecimalField(_l("The fund pays this percentage of a project's budget"), places=2,
                                validators=[InputRequired(), NumberRange(min=0, max=100)])
    fund_cap = StringField(_l("…but at most (yuan; empty for no cap)"), validators=[Optional(), Length(max=30)],
                           render_kw={"inputmode": "decimal"})
    two_approvals_above = StringField(_l("Expenses above this amount need two leads' approval (yuan)"),
                                      validators=[DataRequired(), Length(max=30)], render_kw={"inputmode": "decimal"})
    shop_share_cover = SelectField(_l("Before a project is funded, the shop's share must be"),
                                   choices=lambda: [(c.value, c.label) for c in ShareCover])


class FundForm(IdempotentForm):
    name = StringField(_l("Name of the new fund"), validators=[DataRequired(), Length(max=100)],
                       description=_l("For example: 备用金 (a reserve fund)"))
