"""Browser tests: the real app on a live server, driven by Debian's Chromium at a phone viewport.

Every test gets its own file-based SQLite database (shared by the server's threads) and its own
server on a free port. CSRF is on, as in real use. `app` is overridden here, so the database
fixtures of tests/conftest.py (`world`, `outbox`, …) work against the live server's database and
the tests are not parametrised by `backend`: the browser runs on SQLite only.

Set BROWSER_SCREENSHOTS=/some/dir to save a screenshot of each main page of the journeys there.

Every page a journey checks (`Phone.check_layout`) is also run through axe-core (tests/browser/assets/axe-core):
a serious or critical accessibility violation fails the test.

The app's Content-Security-Policy forbids `eval`, so nothing here hands Playwright a string to evaluate
repeatedly in the page (Playwright evaluates a string condition with `eval` while it polls): waits are
`expect(locator)…` assertions, or a condition polled from Python with `page.evaluate`, which runs through
the DevTools protocol and is not subject to the page's CSP.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from playwright.sync_api import BrowserContext, Error, Locator, Page, expect
from werkzeug.serving import make_server

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.extensions import db, limiter
from tests import factories
from tests.services import chromium_path

PHONE = {"width": 390, "height": 844}
MIN_TAP_HEIGHT = 44
SCREENSHOTS = os.environ.get("BROWSER_SCREENSHOTS", "")
# Generous, because the suite runs beside other work on small machines; every wait below retries
# until its condition holds, so a fast machine never waits this long.
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

AXE_SOURCE = (Path(__file__).parent / "assets" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
# WCAG 2.0–2.2 A and AA, and axe's best practices; only these impacts fail a test.
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    "resultTypes": ["violations"],
}
AXE_BLOCKING = ("serious", "critical")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """Debian's Chromium, headless; never a downloaded browser."""
    return {
        "executable_path": chromium_path(),
        "headless": True,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def browser_context_args() -> dict:
    """A phone: 390×844 CSS pixels, touch, Chinese as the browser's language."""
    return {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 3, "locale": "zh-CN"}


@contextlib.contextmanager
def live_app(database: Path, **config) -> Iterator[Flask]:
    """An app for the live server on the SQLite file `database` (created if new), in an app context."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}", WTF_CSRF_ENABLED=True,
                     SERVER_NAME=None, **config)
    with app.app_context():
        db.create_all()
        limiter.reset()
        factories.bind(db.session)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The app the live server serves, on a SQLite file its threads share; seed it with the factories."""
    with live_app(tmp_path / "live.sqlite3") as app:
        yield app


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The base URL of the app served on 127.0.0.1 from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["EXTERNAL_URL"] = f"http://127.0.0.1:{server.server_port}"  # links in mail and invitations
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def context(new_context, live_server: str) -> BrowserContext:
    """pytest-playwright's context, with relative URLs resolved against the live server."""
    context = new_context(base_url=live_server)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def translated(app: Flask, locale: str, message: str) -> str:
    """`message` as the app shows it in `locale` (the English source until a translation exists)."""
    with app.test_request_context(), force_locale(locale):
        return gettext(message)


class Phone:
    """What a person does with the site on their phone, in the site's own words and controls.

    Elements are found by id, test id, URL or role: the default language is Chinese, so English
    labels cannot be relied on until the user switches language.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.checked_pages: set[tuple[str, str]] = set()

    def open(self, path: str) -> None:
        self.page.goto(path)
        self.check_layout()

    def submit(self) -> None:
        """Press the main form's submit button (not the menu's logout or language buttons)."""
        self.page.locator("main form.form button[type=submit]").click()
        self.page.wait_for_load_state()

    def open_menu(self) -> None:
        menu = self.page.locator("details.menu")
        if menu.get_attribute("open") is None:
            menu.locator("summary").click()
        expect(menu.locator(".menu-panel")).to_be_visible()

    def follow_menu_link(self, href: str) -> None:
        self.open_menu()
        self.page.locator(f'.menu-panel a[href="{href}"]').click()
        expect(self.page).to_have_url(re.compile(re.escape(href) + "$"))
        self.check_layout()

    def log_in(self, login: str, password: str) -> None:
        self.open("/login")
        self.page.locator("#login").fill(login)
        self.page.locator("#password").fill(password)
        self.submit()

    def log_out(self) -> None:
        self.open_menu()
        self.page.locator('form[action="/logout"] button[type=submit]').click()
        expect(self.page.locator('form[action="/logout"]')).to_have_count(0)

    def switch_language(self, code: str) -> None:
        self.open_menu()
        self.page.locator(f'.lang-switch button[name="lang"][value="{code}"]').click()
        expect(self.page.locator("html")).to_have_attribute("lang", code.replace("_", "-"))

    def wait_until_loaded(self) -> None:
        """The page and its stylesheet have loaded: also a page that upload.js wrote in place, which
        `wait_for_load_state` cannot see (it is no navigation). Polled from Python, not with
        `wait_for_function`, which the CSP would refuse."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while True:
            try:
                if self.page.evaluate("document.readyState") == "complete":
                    return
            except Error as error:  # a navigation replaced the page between two polls: ask the new one
                if "context was destroyed" not in error.message:
                    raise
            assert time.monotonic() < deadline, f"{self.page.url} did not finish loading"
            self.page.wait_for_timeout(50)

    def check_layout(self) -> None:
        """Nothing scrolls sideways at phone width, the page's buttons are big enough to tap, and axe-core
        finds no serious or critical accessibility problem (once per page and viewer in a test)."""
        self.wait_until_loaded()
        page = self.page
        # A mobile browser zooms out to fit wide content, which widens window.innerWidth with it:
        # compare with the phone's own width too.
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        overflow = max(widths) - PHONE["width"]
        assert overflow <= 0, f"{page.url} overflows the {PHONE['width']}px viewport by {overflow}px"
        too_small = page.evaluate(
            """(min) => [...document.querySelectorAll('main .button, main button, summary, .lang-option')]
                .filter((el) => el.checkVisibility())
                .map((el) => [el.textContent.trim() || el.getAttribute('aria-label'),
                              el.getBoundingClientRect().height])
                .filter(([, height]) => height < min)""",
            MIN_TAP_HEIGHT,
        )
        assert not too_small, f"{page.url}: buttons shorter than {MIN_TAP_HEIGHT}px: {too_small}"
        self.check_accessibility()

    def check_accessibility(self) -> None:
        """axe-core on the page as it is now, unless this test already checked this URL for this viewer
        (the same URL shows other things to another role)."""
        viewer = self.page.locator(".menu-user").all_text_contents()
        key = (self.page.url, "".join(viewer))
        if key in self.checked_pages:
            return
        self.checked_pages.add(key)
        problems = axe_violations(self.page)
        if problems:  # raised, not asserted: pytest would repeat the whole list after the message
            heading = f"{self.page.url}: axe-core found serious or critical problems:"
            raise AssertionError("\n".join([heading, *problems]))

    def screenshot(self, name: str) -> None:
        """Save a full-page screenshot when BROWSER_SCREENSHOTS names a folder (for looking, not asserting)."""
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def phone(page: Page) -> Phone:
    return Phone(page)


def axe_violations(page: Page, impacts: tuple[str, ...] = AXE_BLOCKING) -> list[str]:
    """axe-core's violations of `impacts` on the page, one line each: rule, impact, element, help.

    axe is injected with `page.evaluate` (the DevTools protocol is not bound by the page's CSP), never
    served by the app nor fetched from elsewhere; a page that upload.js rewrote in place keeps it.
    """
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(AXE_SOURCE)
    violations = page.evaluate("(options) => axe.run(document, options).then((r) => r.violations)", AXE_OPTIONS)
    problems = []
    for violation in violations:
        for node in violation["nodes"]:
            if node["impact"] in impacts:
                where = " ".join(map(str, node["target"]))
                summary = node["failureSummary"].replace("\n", "\n      ")
                problems.append(f"  {violation['id']} ({node['impact']}) at {where}: {violation['help']} "
                                f"<{violation['helpUrl']}>\n      {summary}")
    return problems


# --- Photos: made on the spot with Pillow, and checked as the browser shows them -----------------


def write_jpeg(path: Path, size: tuple[int, int] = (1200, 900), *, colour: tuple[int, int, int] = (139, 30, 30),
               noisy: bool = False) -> Path:
    """A JPEG at `path`. `noisy` makes one that compresses like a phone camera's: 4000×3000 is over 3 MB."""
    from PIL import Image

    if noisy:
        width, height = size
        grain = Image.frombytes("RGB", (width // 4, height // 4), os.urandom((width // 4) * (height // 4) * 3))
        image = grain.resize(size, Image.Resampling.BILINEAR)
    else:
        image = Image.new("RGB", size, colour)
    image.save(path, "JPEG", quality=85)
    return path


def expect_images_loaded(images: Locator) -> int:
    """Every <img> in `images` has loaded (lazy ones are scrolled to first); returns how many there are."""
    count = images.count()
    for index in range(count):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        expect(image).to_have_js_property("complete", True)
        width, src = image.evaluate("(img) => [img.naturalWidth, img.currentSrc]")
        assert width > 0, f"{src} did not load"
    return count
