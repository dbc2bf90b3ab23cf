"""The checks every journey relies on, proven in the browser: the app's Content-Security-Policy refuses code made
from strings (so the suite must wait without `wait_for_function`), and axe-core, injected under that policy,
really reports a page's problems rather than passing everything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Phone

pytestmark = pytest.mark.browser


def test_the_page_refuses_code_built_from_strings_but_the_suite_can_still_look_at_it(phone: Phone):
    """A script in the page may not `eval` (no 'unsafe-eval'): what polling a string condition does while
    it polls. What the suite uses instead works under the same policy."""
    page = phone.page
    response = page.goto("/login")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy, policy

    page.evaluate("() => setTimeout(() => { try { eval('1'); window.verdict = 'ran'; }"
                  " catch (error) { window.verdict = error.name; } })")
    expect(page.locator("html")).to_have_js_property("lang", "zh-CN")  # a locator assertion works
    verdict = None
    for _ in range(100):  # polled from Python, as Phone.wait_until_loaded does
        verdict = page.evaluate("window.verdict")
        if verdict:
            break
        page.wait_for_timeout(50)
    assert verdict == "EvalError"


def test_no_browser_test_waits_with_a_string_evaluated_in_the_page():
    """`wait_for_function` passes after `eval` only when its condition is already true: a race the CSP loses."""
    sources = sorted(Path(__file__).parent.glob("*.py"))
    assert len(sources) > 3
    offenders = [f"{path.name}:{node.lineno}" for path in sources
                 for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                 if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "wait_for_function"]
    assert not offenders, offenders


def _plant_problems(page: Page) -> None:
    """A button with no name and a wide table whose scrolling box cannot take focus, as a careless template might."""
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend',
            '<button type="button" class="icon"></button>'
            + '<div class="table-wrap" style="overflow-x: auto; width: 200px">'
            + '<table><tr><td style="white-space: nowrap">' + 'x'.repeat(400) + '</td></tr></table></div>');
    }""")


def test_axe_reports_a_serious_problem_with_its_rule_and_element(phone: Phone):
    """axe-core is injected under the app's CSP and reports each serious problem by rule, element and help."""
    phone.open("/login")  # passes: the login page as served has no serious problem
    _plant_problems(phone.page)
    phone.checked_pages.clear()
    with pytest.raises(AssertionError) as failure:
        phone.check_accessibility()
    report = str(failure.value)
    assert "button-name (critical) at .icon: Buttons must have discernible text" in report, report
    assert "scrollable-region-focusable (serious) at .table-wrap" in report, report
