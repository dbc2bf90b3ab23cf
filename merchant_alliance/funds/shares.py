"""Splitting a project's budget into the shop's, the fund's and the subsidy's shares, to the fen.

Rounding rule (stated once, tested): a share given as a percentage is rounded DOWN to the fen; the
shop's share is whatever remains, so it absorbs the rounding and the shares always add up to the
budget exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from flask_babel import lazy_gettext as _l

from merchant_alliance.errors import DomainError


@dataclass(frozen=True)
class Shares:
    shop_fen: int
    fund_fen: int
    subsidy_fen: int

    @property
    def total_fen(self) -> int:
        return self.shop_fen + self.fund_fen + self.subsidy_fen


@dataclass(frozen=True)
class ShareRule:
    """How much the fund and the subsidy carry: a percentage or a fixed amount each; the fund's optionally capped.

    The alliance's default, e.g. "the fund pays 30%, at most ¥3,000", is `ShareRule(fund_percent=30,
    fund_cap_fen=300_000)`.
    """

    fund_percent: Decimal | None = None
    fund_fen: int | None = None
    fund_cap_fen: int | None = None
    subsidy_percent: Decimal | None = None
    subsidy_fen: int | None = None


def _percent_of(budget_fen: int, percent: Decimal, field: str) -> int:
    if not (Decimal(0) <= Decimal(percent) <= Decimal(100)):
        raise DomainError(_l("A percentage must be between 0 and 100.")).on(field)
    return int((Decimal(budget_fen) * Decimal(percent) / 100).to_integral_value(rounding=ROUND_DOWN))


def _share(budget_fen: int, percent: Decimal | None, amount_fen: int | None, field: str) -> int:
    """One share of the budget; a refusal names `field`, the budget form's field for this share."""
    if percent is not None and amount_fen is not None:
        raise DomainError(_l("Give each share as a percentage or as an amount, not both.")).on(field)
    if amount_fen is not None:
        if amount_fen < 0:
            raise DomainError(_l("A share cannot be negative.")).on(field)
        return amount_fen
    return _percent_of(budget_fen, percent, field) if percent is not None else 0


def split_budget(budget_fen: int, rule: ShareRule) -> Shares:
    """The three shares of `budget_fen` under `rule`; refuses shares that exceed the budget."""
    if budget_fen <= 0:
        raise DomainError(_l("The budget must be more than zero."))
    fund = _share(budget_fen, rule.fund_percent, rule.fund_fen, "fund_share")
    if rule.fund_cap_fen is not None:
        if rule.fund_cap_fen < 0:
            raise DomainError(_l("A share cannot be negative."))
        fund = min(fund, rule.fund_cap_fen)
    subsidy = _share(budget_fen, rule.subsidy_percent, rule.subsidy_fen, "subsidy_share")
    if fund + subsidy > budget_fen:
        raise DomainError(_l("The fund's and the subsidy's shares together are more than the budget."))
    return Shares(shop_fen=budget_fen - fund - subsidy, fund_fen=fund, subsidy_fen=subsidy)
