"""Money: integer fen (分) everywhere, parsed from and shown as yuan in one place."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import StopValidation

from merchant_alliance.errors import DomainError

# Above this an amount is a typing mistake, not a signboard (¥100,000,000.00).
MAX_FEN = 100_000_000 * 100
_AMOUNT_RE = re.compile(r"^\d{1,3}(,\d{3})*(\.\d{1,2})?$|^\d+(\.\d{1,2})?$")


def parse_yuan(text: str | None, *, allow_zero: bool = False) -> int:
    """Fen from what a person typed: "1,234.5", "1234.50", "¥1234". Refuses anything else clearly."""
    raw = (text or "").strip().replace("¥", "").replace("￥", "").replace("元", "").strip()
    if not raw:
        raise DomainError(_l("Please enter an amount."))
    if raw.startswith("-"):
        raise DomainError(_l("The amount cannot be negative."))
    if not _AMOUNT_RE.match(raw):
        if re.match(r"^[\d,]*\.\d{3,}$", raw):
            raise DomainError(_l("Amounts have at most two decimals (fen)."))
        raise DomainError(_l("%(text)s is not an amount in yuan, e.g. 1234.50.", text=text.strip()))
    try:
        fen = int((Decimal(raw.replace(",", "")) * 100).to_integral_exact())
    except InvalidOperation:
        raise DomainError(_l("%(text)s is not an amount in yuan, e.g. 1234.50.", text=text.strip())) from None
    if fen == 0 and not allow_zero:
        raise DomainError(_l("The amount must be more than zero."))
    if fen > MAX_FEN:
        raise DomainError(_l("The amount is larger than %(max)s.", max=format_fen(MAX_FEN)))
    return fen


def format_fen(fen: int | None, *, signed: bool = False) -> str:
    """¥1,234.56 (negative amounts as -¥1,234.56, and positive ones as +¥1,234.56 when `signed`); an empty string
    for None."""
    if fen is None:
        return ""
    fen = int(fen)
    sign = "-" if fen < 0 else ("+" if signed and fen > 0 else "")
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def fen_to_input(fen: int | None) -> str:
    """The amount as a form field shows it for editing: 1234.50."""
    if fen is None:
        return ""
    yuan, cents = divmod(fen, 100)
    return f"{yuan}.{cents:02d}"


class MoneyField(StringField):
    """A form field for an amount typed in yuan whose `data` is fen (an int), or None when left empty.

    A bad amount is refused under the field with `parse_yuan`'s message; zero is refused unless
    `allow_zero`; a minus sign is accepted when `signed` (a change that lowers a price). The field is required
    unless its validators include `Optional()`.
    """

    MAX_TYPED = 40  # longer than any amount up to MAX_FEN written with separators

    def __init__(self, label=None, validators=None, *, allow_zero: bool = False, signed: bool = False,
                 **kwargs) -> None:
        render_kw = {"inputmode": "decimal" if not signed else "text", "autocomplete": "off",
                     **(kwargs.pop("render_kw", None) or {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.allow_zero, self.signed = allow_zero, signed
        if not self.flags.optional:
            self.flags.required = True  # marked as required on the page; the field itself refuses an empty one

    def process_formdata(self, valuelist: list[str]) -> None:
        text = (valuelist[0] if valuelist else "").strip()
        self.data = None
        if len(text) > self.MAX_TYPED:
            raise ValueError(str(_l("%(text)s is not an amount in yuan, e.g. 1234.50.", text=text[:20] + "…")))
        sign = 1
        if self.signed and text[:1] in ("-", "−"):
            sign, text = -1, text[1:].strip()
        if text:
            try:
                self.data = sign * parse_yuan(text, allow_zero=self.allow_zero)
            except DomainError as error:
                raise ValueError(str(error)) from None

    def pre_validate(self, form) -> None:
        if self.data is None and not self.process_errors and not self.flags.optional:
            raise StopValidation(str(_l("Please enter an amount.")))

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]  # what the person typed, shown back as typed when it was refused
        if isinstance(self.data, int):
            return ("-" if self.data < 0 else "") + fen_to_input(abs(self.data))
        return ""
