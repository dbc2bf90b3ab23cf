"""Forms for recording money. Each carries a one-time key, so a double submit records once."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
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

from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.funds.budgets import default_rule
from merchant_alliance.funds.models import EntryKind, Fund, PaymentMethod, Pledge, ProjectBudget, ShareCover
from merchant_alliance.funds.services import EntryDetails
from merchant_alliance.funds.shares import ShareRule
from merchant_alliance.inputs import DayField
from merchant_alliance.money import MoneyField, fen_to_input, format_fen, parse_yuan
from merchant_alliance.once import IdempotentForm
from merchant_alliance.photos.forms import PHOTO_ACCEPT
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import local_day_start_utc

# What the treasurer records directly. Money going out goes through an approved expense request.
RECORDABLE_KINDS = (EntryKind.CONTRIBUTION, EntryKind.SUBSIDY, EntryKind.DONATION)


class EntryForm(IdempotentForm):
    kind = SelectField(_l("What is it?"), choices=lambda: [(k.value, k.label) for k in RECORDABLE_KINDS])
    amount = MoneyField(_l("Amount (yuan)"))
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

    def offer(self, shops: list[Shop], open_pledges: list) -> None:
        """What may be chosen: the alliance's shops, and its open pledges (rows of pledges.pledge_rows())."""
        self._shops = {shop.id: shop for shop in shops}
        self.shop_id.choices = [(0, "—"), *((s.id, f"{s.name} · {s.house_number}") for s in shops)]
        self.pledge_id.choices = [(0, "—"), *((p.id, _pledge_label(p)) for p in open_pledges)]

    def details(self) -> EntryDetails:
        """The entry as the treasurer filled it in (after `offer` and validation)."""
        return EntryDetails(
            EntryKind(self.kind.data), self.amount.data, method=PaymentMethod(self.method.data),
            reference=self.reference.data or "", counterparty=self.counterparty.data or "",
            purpose=self.purpose.data or "", shop=self._shops.get(self.shop_id.data),
            pledge=db.session.get(Pledge, self.pledge_id.data) if self.pledge_id.data else None,
            occurred_on=local_day_start_utc(self.occurred_on.data) if self.occurred_on.data else None,
            receipt=self.receipt.data or None,
        )


def _pledge_label(pledge) -> str:
    """“Shop · what is still owed by the due date · what for”, for the choice of the pledge a payment settles."""
    label = _("%(shop)s · %(amount)s by %(due)s", shop=pledge.shop_name,
              amount=format_fen(pledge.amount_fen - pledge.paid_fen), due=pledge.due_on.isoformat())
    about = pledge.project_title or pledge.note
    return f"{label} · {about}" if about else label


class ReversalForm(IdempotentForm):
    reason = TextAreaField(_l("Why is this entry wrong?"), validators=[DataRequired(), Length(max=2000)])


class BudgetForm(FlaskForm):
    """The lead's split of a project's cost: the alliance's default rule, or the shares typed in."""

    budget = MoneyField(_l("Budget (yuan)"),
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

    def show(self, budget: ProjectBudget) -> None:
        """Fill the form with a budget set before, to change it."""
        self.budget.data = budget.budget_fen
        self.split.data = "amount"
        self.fund_share.data = fen_to_input(budget.fund_fen)
        self.subsidy_share.data = fen_to_input(budget.subsidy_fen)
        self.subsidy_source.data = budget.subsidy_source

    def share_rule(self, fund: Fund) -> ShareRule:
        """The split chosen: the alliance's rule, or the shares typed in as yuan or as percentages.
        A share that is not a number is refused under its own field."""
        if self.split.data == "rule":
            return default_rule(fund)
        if self.split.data == "percent":
            return ShareRule(fund_percent=_percent(self.fund_share), subsidy_percent=_percent(self.subsidy_share))
        return ShareRule(fund_fen=_yuan(self.fund_share), subsidy_fen=_yuan(self.subsidy_share))


def _percent(field: StringField) -> Decimal:
    """A share typed as a percentage; nothing typed is 0."""
    try:
        percent = Decimal((field.data or "").strip() or "0")
    except ArithmeticError:
        percent = None
    # "NaN" parses, but cannot even be compared with 0 and 100 (InvalidOperation, a server error).
    if percent is None or not percent.is_finite():
        raise DomainError(_l("A percentage is a number between 0 and 100, e.g. 30 or 12.5.")).on(field.name)
    return percent


def _yuan(field: StringField) -> int:
    """A share typed in yuan, in fen; nothing typed is 0."""
    text = (field.data or "").strip()
    try:
        return parse_yuan(text, allow_zero=True) if text else 0
    except DomainError as error:
        raise error.on(field.name) from None


class PledgeForm(IdempotentForm):
    shop_id = SelectField(_l("Shop"), coerce=int, validators=[DataRequired()])
    project_id = SelectField(_l("For the project"), coerce=int, validators=[Optional()])
    amount = MoneyField(_l("Amount (yuan)"))
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
    amount = MoneyField(_l("Amount (yuan)"))
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
    fund_cap = MoneyField(_l("…but at most (yuan; empty for no cap)"), validators=[Optional()], allow_zero=True)
    two_approvals_above = MoneyField(_l("Expenses above this amount need two leads' approval (yuan)"),
                                     allow_zero=True)
    shop_share_cover = SelectField(_l("Before a project is funded, the shop's share must be"),
                                   choices=lambda: [(c.value, c.label) for c in ShareCover])


class FundForm(IdempotentForm):
    name = StringField(_l("Name of the new fund"), validators=[DataRequired(), Length(max=100)],
                       description=_l("For example: 备用金 (a reserve fund)"))
