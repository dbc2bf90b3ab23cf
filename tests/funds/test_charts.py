"""Charts drawn on the server: well-formed SVG, bars true to the money, nothing anyone typed runs as markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from flask import current_app

from merchant_alliance.funds import charts

pytestmark = pytest.mark.usefixtures("no_db")
SVG = "{http://www.w3.org/2000/svg}"
SCRIPT = "<script>alert('店')</script>"


def parse(svg) -> ET.Element:
    root = ET.fromstring(str(svg))  # noqa: S314 - our own output, parsed to check it is well-formed
    assert root.tag == f"{SVG}svg"
    return root


def bars(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if css_class in rect.get("class", "").split()
            and "chart-bar" in rect.get("class", "").split()]


def size(rect: ET.Element, attribute: str) -> float:
    return float(rect.get(attribute))


# --- the axis ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("max_fen", "top", "step"), [
    (0, 100, 100),  # nothing yet: ¥0 to ¥1
    (-5, 100, 100),
    (1, 1, 1),
    (123_450, 150_000, 50_000),  # ¥1,234.50 → ¥0, ¥500, ¥1,000, ¥1,500
    (100_000, 100_000, 50_000),
    (999_999_99, 1_000_000_00, 500_000_00),
])
def test_the_axis_goes_past_the_largest_value_in_round_steps(max_fen, top, step):
    axis = charts.nice_axis(max_fen)
    assert (axis.top_fen, axis.step_fen) == (top, step)
    assert axis.ticks[0] == 0 and axis.ticks[-1] == axis.top_fen >= max_fen
    assert str(axis.step_fen).strip("0") in {"1", "2", "5"}


def test_tick_labels_are_yuan():
    assert [charts.tick_label(fen) for fen in (0, 50_000, 1_500_000_00, 50)] == ["¥0", "¥500", "¥1,500,000", "¥0.50"]


# --- income and spending, month by month -------------------------------------------------------


def test_the_bar_chart_is_well_formed_and_labelled_for_screen_readers():
    root = parse(charts.income_spending_chart([("2026-10", 100_00, 50_00)], title="Money in and out",
                                              chart_id="flows"))
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    ids = {element.get("id"): element for element in root.iter() if element.get("id")}
    assert ids[title_id].tag == f"{SVG}title" and ids[title_id].text == "Money in and out"
    assert "2026-10" in ids[desc_id].text and "¥100.00" in ids[desc_id].text and "¥50.00" in ids[desc_id].text
    assert all(element.get("style") is None for element in root.iter())  # colours come from CSS classes


def test_bar_heights_are_proportional_to_the_money_and_stand_on_one_baseline():
    root = parse(charts.income_spending_chart(
        [("2026-10", 100_00, 50_00), ("2026-11", 200_00, 0), ("2026-12", 0, 150_00)], title="t"))
    income, spending = bars(root, "chart-income"), bars(root, "chart-spending")
    assert len(income) == len(spending) == 3
    october = size(income[0], "height")
    assert october > 0
    assert size(income[1], "height") == pytest.approx(2 * october, abs=0.1)
    assert size(spending[0], "height") == pytest.approx(october / 2, abs=0.1)
    assert size(spending[2], "height") == pytest.approx(1.5 * october, abs=0.1)
    assert size(spending[1], "height") == size(income[2], "height") == 0
    baselines = {round(size(rect, "y") + size(rect, "height"), 1) for rect in income + spending}
    assert len(baselines) == 1
    assert [int(rect.get("data-fen")) for rect in income] == [100_00, 200_00, 0]
    ticks = [text.text for text in root.iter(f"{SVG}text") if text.get("class") == "chart-tick"]
    assert ticks[0] == "¥0" and ticks[-1] == "¥200"


@pytest.mark.parametrize("rows", [[], [("2026-10", 0, 0), ("2026-11", 0, 0)]])
def test_a_chart_of_nothing_draws_without_dividing_by_zero(rows):
    root = parse(charts.income_spending_chart(rows, title="t"))
    assert all(size(rect, "height") == 0 for rect in bars(root, "chart-income") + bars(root, "chart-spending"))
    if not rows:
        assert root.find(f"{SVG}desc").text == "No figures yet."


def test_a_label_with_markup_is_escaped_not_run():
    svg = charts.income_spending_chart([(SCRIPT, 10_00, 0)], title=f"Chart {SCRIPT} & co")
    assert "<script>" not in str(svg) and "&lt;script&gt;" in str(svg)
    root = parse(svg)
    assert root.find(f"{SVG}title").text == f"Chart {SCRIPT} & co"
    assert root.find(f"{SVG}script") is None and not list(root.iter(f"{SVG}script"))
    assert any(SCRIPT in (title.text or "") for title in root.iter(f"{SVG}title"))


def test_jinja_inlines_the_chart_once_escaped_not_twice():
    chart = charts.income_spending_chart([("小店 <b>", 10_00, 0)], title="t")
    page = current_app.jinja_env.from_string("<figure>{{ chart }}</figure>").render(chart=chart)  # autoescaped
    assert page.startswith("<figure><svg ") and "小店 &lt;b&gt;" in page and "&amp;lt;" not in page


# --- budget against actual, per project --------------------------------------------------------


def test_budget_bars_are_as_long_as_the_money_and_overspending_stands_out():
    root = parse(charts.budget_actual_chart(
        [("咖啡馆木质新店招", 10_000_00, 5_000_00), ("面包房", 4_000_00, 6_000_00), ("花店", 0, 0)],
        title="Budget and actual"))
    budgets = bars(root, "chart-budget")
    within, over = bars(root, "chart-actual"), bars(root, "chart-over")
    assert len(budgets) == 3 and len(within) == 2 and len(over) == 1
    full = size(budgets[0], "width")
    assert size(within[0], "width") == pytest.approx(full / 2, abs=0.1)
    assert size(budgets[1], "width") == pytest.approx(full * 0.4, abs=0.1)
    assert size(over[0], "width") == pytest.approx(full * 0.6, abs=0.1)
    assert size(budgets[2], "width") == size(within[1], "width") == 0
    assert int(over[0].get("data-fen")) == 6_000_00


def test_long_or_hostile_project_titles_are_cut_and_escaped():
    title = "一个非常非常非常长的项目名称，用来测试截断"
    root = parse(charts.budget_actual_chart([(title, 100_00, 50_00), (SCRIPT, 100_00, 0)], title="t"))
    labels = [text.text for text in root.iter(f"{SVG}text") if text.get("class") == "chart-label"]
    assert labels[0].endswith("…") and len(labels[0]) == charts.LABEL_CHARS
    tooltips = [group.find(f"{SVG}title").text for group in root.iter(f"{SVG}g")]
    assert tooltips[0].startswith(title) and "¥100.00" in tooltips[0] and "¥50.00" in tooltips[0]
    assert SCRIPT in tooltips[1]
    assert not list(root.iter(f"{SVG}script"))


def test_an_empty_budget_chart_is_still_a_chart():
    root = parse(charts.budget_actual_chart([], title="t"))
    assert root.find(f"{SVG}desc").text == "No figures yet."
    assert float(root.get("height")) > 0
