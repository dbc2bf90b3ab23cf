"""Browser tests: the real app on a live server, driven by Debian's Chromium at a phone viewport.

Every test gets its own file-based SQLite database (shared by the server's threads) and its own
server on a free port. CSRF is on, as in real use. `app` is overridden here, so the database
fixtures of tests/conftest.py (`world`, `outbox`, …) work against the live server's database and
the tests are not parametrised by `backend`: the browser runs on SQLite only.

Set BROWSER_SCREENSHOTS=/some/dir to save a screenshot of each main page of the journeys there.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from playwright.sync_api import BrowserContext, Locator, Page, expect
from werkzeug.serving import make_server

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.extensions import db, limiter
from tests import factories
from tests.services import chromium_path

PHONE = {"width": 390, "height": 844}
MIN_TAP_HEIGHT = 44
SCREENSHOTS = os.environ.get("BROWSER_SCREENSHOTS", "")


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


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The app the live server serves, on a SQLite file its threads share; seed it with the factories."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'live.sqlite3'}",
                     WTF_CSRF_ENABLED=True, SERVER_NAME=None)
    with app.app_context():
        db.create_all()
        limiter.reset()
        factories.bind(db.session)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The base URL of the app served on 127.0.0.1 from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
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
    context.set_default_timeout(10_000)
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

    def check_layout(self) -> None:
        """Nothing scrolls sideways at phone width, and the page's buttons are big enough to tap."""
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

    def screenshot(self, name: str) -> None:
        """Save a full-page screenshot when BROWSER_SCREENSHOTS names a folder (for looking, not asserting)."""
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture
def phone(page: Page) -> Phone:
    return Phone(page)


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
        handle = image.element_handle()
        image.page.wait_for_function("(img) => img.complete", arg=handle)
        width, src = handle.evaluate("(img) => [img.naturalWidth, img.currentSrc]")
        assert width > 0, f"{src} did not load"
    return count
