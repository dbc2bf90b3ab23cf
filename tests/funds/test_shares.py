"""Splitting a budget into shares: exact to the fen, rounding stated, impossible splits refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merchant_alliance.errors import DomainError
from merchant_alliance.funds.shares import ShareRule, Shares, split_budget

pytestmark = pytest.mark.usefixtures("no_db")  # refusals are translatable messages


def test_the_default_rule_fund_pays_thirty_percent_up_to_a_cap():
    rule = ShareRule(fund_percent=Decimal(30), fund_cap_fen=3_000_00)
    assert split_budget(8_000_00, rule) == Shares(shop_fen=5_600_00, fund_fen=2_400_00, subsidy_fen=0)
    assert split_budget(20_000_00, rule) == Shares(shop_fen=17_000_00, fund_fen=3_000_00, subsidy_fen=0)


def test_rounding_goes_down_on_percentage_shares_and_the_shop_absorbs_the_remainder():
    # 30% of ¥100.01 is ¥30.003 and 33.33% is ¥33.333…: the fund and the subsidy get whole fen,
    # rounded down; the shop's share makes the total exact.
    shares = split_budget(100_01, ShareRule(fund_percent=Decimal(30), subsidy_percent=Decimal("33.33")))
    assert shares == Shares(shop_fen=36_68, fund_fen=30_00, subsidy_fen=33_33)
    assert shares.total_fen == 100_01


def test_amounts_and_percentages_mix():
    shares = split_budget(12_000_00, ShareRule(fund_percent=Decimal(25), subsidy_fen=2_000_00))
    assert shares == Shares(shop_fen=7_000_00, fund_fen=3_000_00, subsidy_fen=2_000_00)


@pytest.mark.parametrize("budget, rule", [
    (0, ShareRule()),
    (-100, ShareRule()),
    (100_00, ShareRule(fund_percent=Decimal(101))),
    (100_00, ShareRule(fund_percent=Decimal(-1))),
    (100_00, ShareRule(fund_fen=-1)),
    (100_00, ShareRule(fund_fen=60_00, subsidy_fen=50_00)),
    (100_00, ShareRule(fund_percent=Decimal(10), fund_fen=10_00)),
    (100_00, ShareRule(fund_percent=Decimal(10), fund_cap_fen=-5)),
])
def test_impossible_splits_are_refused_with_a_message(budget, rule):
    with pytest.raises(DomainError) as refused:
        split_budget(budget, rule)
    assert str(refused.value)


@given(
    budget=st.integers(min_value=1, max_value=10**10),
    fund=st.decimals(min_value=0, max_value=100, places=2),
    subsidy=st.decimals(min_value=0, max_value=100, places=2),
    cap=st.none() | st.integers(min_value=0, max_value=10**10),
)
def test_shares_always_add_up_exactly_and_respect_the_cap(budget, fund, subsidy, cap):
    rule = ShareRule(fund_percent=fund, subsidy_percent=subsidy, fund_cap_fen=cap)
    if fund + subsidy > 100:
        return
    shares = split_budget(budget, rule)
    assert shares.total_fen == budget
    assert min(shares.shop_fen, shares.fund_fen, shares.subsidy_fen) >= 0
    if cap is not None:
        assert shares.fund_fen <= cap
    assert shares.fund_fen <= budget * fund / 100  # rounded down, never up
