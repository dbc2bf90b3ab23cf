"""Charts drawn on the server as inline SVG: no JavaScript, nothing loaded from outside, and they print.

Colours come from CSS classes (the "Charts" section of static/css/app.css), never from inline styles:
the Content-Security-Policy forbids those, and the print stylesheet can then turn them into greys.
Every label is escaped here, since shop names and project titles are whatever people typed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup, escape

from merchant_alliance.money import format_fen

SVG_NS = "http://www.w3.org/2000/svg"
FONT_WIDTH = 7.0  # rough width of one character at the chart's font size, for margins
LABEL_CHARS = 12  # longer row labels are cut, the full label stays in the tooltip


@dataclass(frozen=True)
class Axis:
    """A value axis from zero to `top_fen`, with round ticks every `step_fen`."""

    top_fen: int
    step_fen: int

    @property
    def ticks(self) -> list[int]:
        return list(range(0, self.top_fen + 1, self.step_fen))

    def scale(self, fen: int, length: float) -> float:
        """How long a bar of `fen` is on an axis drawn `length` units long (never below zero)."""
        return length * max(fen, 0) / self.top_fen


def nice_axis(max_fen: int, ticks: int = 4) -> Axis:
    """An axis from zero past `max_fen` in about `ticks` round steps (1, 2 or 5 times a power of ten).

    Nothing to show still gets an axis (0 to ¥1), so an empty chart never divides by zero.
    """
    if max_fen <= 0:
        return Axis(top_fen=100, step_fen=100)
    raw = -(-max_fen // ticks)  # ceiling division: integers, no float rounding surprises
    magnitude = 10 ** (len(str(raw)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return Axis(top_fen=-(-max_fen // step) * step, step_fen=step)


def tick_label(fen: int) -> str:
    """¥1,200 for whole yuan, ¥0.50 otherwise."""
    return f"¥{fen // 100:,}" if fen % 100 == 0 else format_fen(fen)


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _chart_id(chart_id: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", chart_id.lower()) or "chart"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _svg(chart_id: str, css_class: str, width: int, height: int, title: str, desc: str, body: list[str]) -> Markup:
    """The <svg> element around `body` (already escaped), labelled for screen readers by its title and desc."""
    head = (
        f'<svg xmlns="{SVG_NS}" class="chart {css_class}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )
    return Markup("".join([head, *body, "</svg>"]))  # noqa: S704 - every piece of text in it went through escape()


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    """Swatches with their names, left to right from (x, y)."""
    parts = []
    for css_class, name in items:
        parts.append(f'<rect class="chart-swatch {css_class}" x="{_num(x)}" y="{_num(y - 9)}" width="10" height="10"/>')
        parts.append(f'<text class="chart-legend" x="{_num(x + 14)}" y="{_num(y)}">{escape(name)}</text>')
        x += 24 + FONT_WIDTH * len(name) * 1.4
    return parts


def income_spending_chart(
    rows: Sequence[tuple[str, int, int]], *, title: str, chart_id: str = "flows", width: int = 640, height: int = 260,
) -> Markup:
    """Grouped vertical bars, income beside spending, for each (label, income_fen, spending_fen) row."""
    chart_id = _chart_id(chart_id)
    income_name, spending_name = _("Income"), _("Spending")
    axis = nice_axis(max((max(income, spending) for _label, income, spending in rows), default=0))
    left = 12 + FONT_WIDTH * max(len(tick_label(tick)) for tick in axis.ticks)
    top, bottom, right = 28, 26, 8
    plot_width, plot_height = width - left - right, height - top - bottom
    base = top + plot_height
    parts = _legend([("chart-income", income_name), ("chart-spending", spending_name)], left, 14)
    for tick in axis.ticks:
        y = base - axis.scale(tick, plot_height)
        parts.append(f'<line class="chart-grid" x1="{_num(left)}" x2="{_num(width - right)}" '
                     f'y1="{_num(y)}" y2="{_num(y)}"/>')
        parts.append(f'<text class="chart-tick" x="{_num(left - 6)}" y="{_num(y + 4)}" '
                     f'text-anchor="end">{escape(tick_label(tick))}</text>')
    group = plot_width / max(len(rows), 1)
    bar = group * 0.35
    for i, (label, income, spending) in enumerate(rows):
        x = left + i * group + (group - 2 * bar) / 2
        for offset, css_class, name, fen in ((0, "chart-income", income_name, income),
                                             (bar, "chart-spending", spending_name, spending)):
            bar_height = axis.scale(fen, plot_height)
            parts.append(
                f'<rect class="chart-bar {css_class}" x="{_num(x + offset)}" y="{_num(base - bar_height)}" '
                f'width="{_num(bar)}" height="{_num(bar_height)}" data-fen="{int(fen)}">'
                f"<title>{escape(label)} · {escape(name)} {escape(format_fen(fen))}</title></rect>"
            )
        parts.append(f'<text class="chart-label" x="{_num(left + (i + 0.5) * group)}" y="{_num(base + 16)}" '
                     f'text-anchor="middle">{escape(_short(label))}</text>')
    parts.append(f'<line class="chart-axis" x1="{_num(left)}" x2="{_num(width - right)}" '
                 f'y1="{_num(base)}" y2="{_num(base)}"/>')
    desc = "; ".join(f"{label}: {income_name} {format_fen(income)}, {spending_name} {format_fen(spending)}"
                     for label, income, spending in rows) or _("No figures yet.")
    return _svg(chart_id, "chart-flows", width, height, title, desc, parts)


def budget_actual_chart(
    rows: Sequence[tuple[str, int, int]], *, title: str, chart_id: str = "budgets", width: int = 640,
) -> Markup:
    """Horizontal bars, one row per (label, budget_fen, actual_fen): the budget as a wide pale bar, what was
    actually spent as a narrow bar inside it, marked as over budget when it goes past the budget's end."""
    chart_id = _chart_id(chart_id)
    budget_name, actual_name, over_name = _("Budget"), _("Actual"), _("Over budget")
    axis = nice_axis(max((max(budget, actual) for _label, budget, actual in rows), default=0))
    row_height, top, bottom = 40, 28, 24
    right = 8 + FONT_WIDTH * len(tick_label(axis.top_fen)) / 2  # the last tick's label is centred on the end
    left = 12 + FONT_WIDTH * 1.6 * LABEL_CHARS  # room for CJK labels, which are about twice as wide
    height = top + row_height * max(len(rows), 1) + bottom
    plot_width = width - left - right
    base = height - bottom
    parts = _legend([("chart-budget", budget_name), ("chart-actual", actual_name), ("chart-over", over_name)],
                    left, 14)
    for tick in axis.ticks:
        x = left + axis.scale(tick, plot_width)
        parts.append(f'<line class="chart-grid" x1="{_num(x)}" x2="{_num(x)}" y1="{top}" y2="{_num(base)}"/>')
        parts.append(f'<text class="chart-tick" x="{_num(x)}" y="{_num(base + 16)}" '
                     f'text-anchor="middle">{escape(tick_label(tick))}</text>')
    summaries = [_("%(label)s: budget %(budget)s, actual %(actual)s", label=label, budget=format_fen(budget),
                   actual=format_fen(actual)) for label, budget, actual in rows]
    for i, ((label, budget, actual), summary) in enumerate(zip(rows, summaries, strict=True)):
        y = top + i * row_height
        state = "chart-over" if actual > budget else "chart-actual"
        parts.append(f"<g class=\"chart-row\"><title>{escape(summary)}</title>")
        parts.append(f'<text class="chart-label" x="{_num(left - 8)}" y="{_num(y + row_height / 2 + 4)}" '
                     f'text-anchor="end">{escape(_short(label))}</text>')
        parts.append(f'<rect class="chart-bar chart-budget" x="{_num(left)}" y="{_num(y + 8)}" '
                     f'width="{_num(axis.scale(budget, plot_width))}" height="{row_height - 16}" '
                     f'data-fen="{int(budget)}"/>')
        parts.append(f'<rect class="chart-bar {state}" x="{_num(left)}" y="{_num(y + 14)}" '
                     f'width="{_num(axis.scale(actual, plot_width))}" height="{row_height - 28}" '
                     f'data-fen="{int(actual)}"/>')
        parts.append("</g>")
    parts.append(f'<line class="chart-axis" x1="{_num(left)}" x2="{_num(left)}" y1="{top}" y2="{_num(base)}"/>')
    desc = "; ".join(summaries) or _("No figures yet.")
    return _svg(chart_id, "chart-budgets", width, height, title, desc, parts)
