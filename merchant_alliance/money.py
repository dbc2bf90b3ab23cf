"""Money: integer fen (分) everywhere, parsed from and shown as yuan in one place."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

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


def format_fen(fen: int | None) -> str:
    """¥1,234.56 (negative amounts as -¥1,234.56); an empty string for None."""
    if fen is None:
        return ""
    fen = int(fen)
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def fen_to_input(fen: int | None) -> str:
    """The amount as a form field shows it for editing: 1234.50."""
    if fen is None:
        return ""
    yuan, cents = divmod(fen, 100)
    return f"{yuan}.{cents:02d}"
