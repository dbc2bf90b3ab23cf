"""The street safety loop on phones: the street officer inspects an installed sign on the street and fails one
critical item with a note and a photo; the shop reports it fixed with a photo; the officer re-inspects and
passes it; the certificate and its A6 tag print, and the tag's QR link opens the public page saying "safe".

Everyone touches only what the page shows them (buttons, links, the photo chooser); every page they pass
through, each time it changes, must fit 390 px, have buttons big enough to tap and no serious or critical axe-core
problem (Phone.check_layout). Such problems do not stop the journey: they are noted with the step and page, and the
test fails at the end listing each once, so one run shows both whether the loop works and everything to fix.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import segno
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select

from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety.models import (
    Certificate,
    Inspection,
    InspectionKind,
    InspectionState,
    Outcome,
    RectificationOrder,
    RectificationState,
)
from tests import factories
from tests.browser.conftest import Phone, axe_violations, expect_images_loaded, translated, write_jpeg
from tests.fixtures.projects import make_project
from tests.projects.helpers import put_in_state

pytestmark = pytest.mark.browser

FAILED = "S05"  # "Fixing method and bolt torque": critical, photo required
NOTE = "东侧两颗M12锚栓未拧紧，扭矩不足。"
FIX_NOTE = "已按设计扭矩重新紧固四颗锚栓。"
PHOTO_REQUIRED = "Photo required"


@pytest.fixture
def installed(app, world) -> dict:
    """Side A's shop with a renovation whose design the lead approved, recorded as installed (set directly:
    the contractors' domain that will move projects to `installed` does not exist yet)."""
    project = make_project(ProjectState.DESIGN_APPROVED, by=world.a.owner, shop=world.a.shop, title="愚园路新店招")
    put_in_state(project, ProjectState.INSTALLED)
    db.session.commit()
    return {"project_id": project.id, "shop": world.a.shop.name, "officer": world.a.officer.phone,
            "owner": world.a.owner.phone, "owner_id": world.a.owner.id}


class Journey(Phone):
    """A phone that notes the pages' layout and accessibility problems and goes on: the journey runs to its end,
    then fails listing each problem once (the axe rule, the element, what is wrong) with every step and page
    where it was seen. Phones made with `problems=` of another note into the same list."""

    def __init__(self, page: Page, problems: dict[str, list[str]] | None = None) -> None:
        super().__init__(page)
        self.step = ""
        self.problems: dict[str, list[str]] = {} if problems is None else problems

    def at(self, step: str) -> None:
        self.step = step

    def _note(self, problem: str) -> None:
        where = f"[{self.step}] {urlsplit(self.page.url).path}"
        self.problems.setdefault(re.sub(r":nth-child\(\d+\)", "", problem), []).append(where)

    def check_layout(self) -> None:
        try:
            super().check_layout()
        except AssertionError as problem:  # too wide, or buttons too small: axe still looks at the page
            self._note(str(problem).splitlines()[0].replace(self.page.url, "").lstrip(": "))
            self.check_accessibility()

    def check_accessibility(self) -> None:
        # Once per page, viewer and content: a page saved or finished in place is looked at again.
        viewer = self.page.locator(".menu-user").all_text_contents()
        key = (self.page.url.split("#")[0], "".join(viewer), self.page.locator("main").inner_text())
        if key in self.checked_pages:
            return
        self.checked_pages.add(key)
        for problem in axe_violations(self.page):
            self._note(problem.strip())

    def report(self) -> str:
        def seen(where: list[str]) -> str:
            return ", ".join(f"{place} ×{where.count(place)}" if where.count(place) > 1 else place
                             for place in dict.fromkeys(where))

        return "\n".join(f"- {problem}\n    seen at: {seen(where)}" for problem, where in self.problems.items())

    @contextlib.contextmanager
    def reporting(self) -> Iterator[None]:
        """Fail with every problem noted, after the journey or with the error that stopped it."""
        try:
            yield
        except BaseException as error:
            if self.problems:
                error.add_note("Problems on the pages so far:\n" + self.report())
            raise
        if self.problems:
            raise AssertionError("The journey works, but its pages have problems (axe-core serious/critical, wider "
                                 "than 390 px, or buttons under 44 px):\n" + self.report())


def _fresh():
    """The test's own session, seeing what the live server committed since."""
    db.session.rollback()
    return db.session


def _choose_photo(page: Page, scope: Locator, photo: Path) -> None:
    """Tap the field's "Choose photos" button and pick `photo`; its preview appears before anything is sent."""
    field = scope.locator("[data-photo-field]")
    with page.expect_file_chooser() as chooser:
        field.locator("label.photo-button").last.click()
    chooser.value.set_files(photo)
    expect(field.locator(".photo-preview li")).to_have_text([re.compile(re.escape(photo.name))])


def _answer(phone: Phone, item: Locator, code: str, outcome: Outcome, *, note: str = "",
            photo: Path | None = None) -> None:
    """Answer one item and tap its Save: the page comes back at that item, showing the saved answer."""
    page = phone.page
    item.locator(f'input[type=radio][value="{outcome.value}"]').check()
    if note:
        item.locator("textarea").fill(note)
    if photo is not None:
        _choose_photo(page, item, photo)
    item.locator(f"[data-action=save-{code}]").click()
    expect(page).to_have_url(re.compile(rf"/inspections/\d+#q-{code}$"))
    phone.check_layout()
    saved = page.locator(f"#q-{code}")
    expect(saved.get_by_test_id(f"answer-{code}")).to_be_visible()
    if note:
        expect(saved.get_by_test_id(f"answer-{code}")).to_contain_text(note)
    expect(saved).to_have_class(re.compile(rf"\boutcome-{outcome.value}\b"))
    expect(saved).to_be_in_viewport()  # the page opens at the item just saved, not at its top
    if photo is not None:
        expect(saved.locator(".photo-grid img")).to_have_count(1)


def _finish(phone: Phone, summary: str) -> None:
    page = phone.page
    finish = page.locator("section:has([data-action=finish])")
    finish.locator("textarea").last.fill(summary)
    finish.locator("[data-action=finish]").click()
    expect(page).to_have_url(re.compile(r"/inspections/\d+$"))
    phone.check_layout()


def _state(page: Page, state: InspectionState) -> None:
    expect(page.get_by_test_id("inspection-state")).to_have_class(re.compile(rf"\binspection-{state.value}\b"))


def _dark_modules(path_d: str) -> set[tuple[int, int]]:
    """The dark modules of a QR code drawn by segno as one SVG path ("M x y", "m dx dy", "h n"), from its top-left
    dark module (the finder pattern's corner), so that any quiet zone is left out."""
    cells, x, y = set(), 0.0, 0.0
    for command, numbers in re.findall(r"([MmHh])([-\d. ]+)", path_d.replace(",", " ")):
        values = [float(v) for v in numbers.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        else:
            run = values[0] if command == "h" else values[0] - x
            cells |= {(int(x) + i, int(y)) for i in range(int(run))}
            x += run
    left, top = min(c[0] for c in cells), min(c[1] for c in cells)
    return {(cx - left, cy - top) for cx, cy in cells}


def _encodes(path_d: str, text: str) -> bool:
    """Whether the drawn QR code is the code of `text` (at any error-correction level)."""
    drawn = _dark_modules(path_d)
    for level in "lmqh":
        matrix = segno.make(text, error=level, micro=False).matrix
        if drawn == {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}:
            return True
    return False


def test_failed_critical_item_fixed_reinspected_certified_and_the_tag_says_safe(
        app, page: Page, installed, new_context, live_server, tmp_path):
    phone = Journey(page)
    with phone.reporting():
        project_id = installed["project_id"]
        bolts = write_jpeg(tmp_path / "锚栓松动.jpg", colour=(150, 40, 40))
        tightened = write_jpeg(tmp_path / "锚栓已紧固.jpg", colour=(40, 150, 60))
        again = write_jpeg(tmp_path / "复查锚栓.jpg", colour=(40, 60, 150))
        photo_required = translated(app, "zh_CN", PHOTO_REQUIRED)

        # The officer finds the installed sign on their home page and starts its acceptance inspection.
        phone.at("2. the officer starts the acceptance inspection")
        phone.log_in(installed["officer"], factories.PASSWORD)
        phone.check_layout()
        page.get_by_test_id("to-inspect").locator(f'a[href^="/projects/{project_id}"]').click()
        expect(page).to_have_url(re.compile(rf"/projects/{project_id}(#safety)?$"))
        phone.check_layout()
        page.locator("#safety [data-action=start-inspection]").click()
        expect(page).to_have_url(re.compile(r"/inspections/\d+$"))
        phone.check_layout()
        _state(page, InspectionState.OPEN)
        inspection_id = int(re.search(r"/inspections/(\d+)", page.url).group(1))

        # Every item of the checklist: pass, with a photo where it says so; the bolts fail, with a note and a photo.
        phone.at("2. the officer answers the checklist and finishes")
        items = page.locator("main li.checklist-item")
        codes = items.evaluate_all("(items) => items.map((item) => item.dataset.code)")
        assert FAILED in codes and len(codes) >= 10, codes
        needs_photo = {code for code in codes
                       if page.locator(f"#q-{code} .badge", has_text=photo_required).count()}
        assert FAILED in needs_photo, needs_photo
        for code in codes:
            item = page.locator(f"#q-{code}")
            if code == FAILED:
                _answer(phone, item, code, Outcome.FAIL, note=NOTE, photo=bolts)
            else:
                photo = write_jpeg(tmp_path / f"{code}.jpg", colour=(90, 90, 90)) if code in needs_photo else None
                _answer(phone, item, code, Outcome.PASS, photo=photo)
        expect(page.get_by_test_id("will-fail")).to_contain_text(FAILED)
        _finish(phone, "东侧锚栓需重新紧固后复查。")
        _state(page, InspectionState.FAILED)
        expect(page.locator(".flash-success")).to_have_text(
            translated(app, "zh_CN", "The inspection failed: the shop has been sent the items to fix."))
        expect(page.locator("main [data-action=finish]")).to_have_count(0)
        order = _fresh().scalar(select(RectificationOrder).where(RectificationOrder.inspection_id == inspection_id))
        assert order is not None, "failing the inspection opened no rectification order"
        assert [item.code for item in order.items] == [FAILED]
        assert order.items[0].answer.note == NOTE and len(order.items[0].answer.photos) == 1
        assert _fresh().get(Project, project_id).state == ProjectState.RECTIFICATION
        expect(page.locator(f'main a[href="/rectifications/{order.id}"]')).to_be_visible()
        phone.log_out()

        # The owner follows the notification to the result, opens the rectification and reports the bolts fixed.
        phone.at("3. the owner reports the failed item fixed")
        phone.log_in(installed["owner"], factories.PASSWORD)
        page.locator("a.bell").click()
        expect(page).to_have_url(re.compile(r"/notifications$"))
        phone.check_layout()
        result = _fresh().scalar(select(Notification).where(Notification.user_id == installed["owner_id"],
                                                            Notification.endpoint == "safety.inspection"))
        assert result is not None and result.read_at is None, "the shop was not told the result"
        page.locator(f'main .notifications .unread form[action="/notifications/{result.id}/open"] button').click()
        expect(page).to_have_url(re.compile(rf"/inspections/{inspection_id}$"))
        phone.check_layout()
        _state(page, InspectionState.FAILED)
        expect(page.locator("main input[type=radio]")).to_have_count(0)  # the shop reads the answers, no more
        page.locator(f'main a[href="/rectifications/{order.id}"]').click()
        expect(page).to_have_url(re.compile(rf"/rectifications/{order.id}$"))
        phone.check_layout()
        to_fix = page.locator(f"#item-{FAILED}")
        expect(page.locator("main li.checklist-item")).to_have_count(1)
        expect(to_fix).to_contain_text(NOTE)
        assert expect_images_loaded(to_fix.locator(".photo-grid img")) == 1  # what the inspector saw
        expect(page.locator("main [data-action=reinspect]")).to_have_count(0)
        _choose_photo(page, to_fix, tightened)
        to_fix.locator("textarea").fill(FIX_NOTE)
        to_fix.locator(f"[data-action=fixed-{FAILED}]").click()
        expect(page.get_by_test_id(f"fixed-{FAILED}")).to_contain_text(FIX_NOTE)
        phone.check_layout()
        expect(page.get_by_test_id("rectification-state")).to_have_class(
            re.compile(rf"\brectification-{RectificationState.FIXED.value}\b"))
        assert expect_images_loaded(to_fix.locator(".photo-grid img")) == 2
        phone.log_out()

        # The officer opens the rectification from their home page and re-inspects: the bolts now pass.
        phone.at("4. the officer re-inspects")
        phone.log_in(installed["officer"], factories.PASSWORD)
        page.get_by_test_id("rectifications").locator(f'a[href="/rectifications/{order.id}"]').click()
        expect(page).to_have_url(re.compile(rf"/rectifications/{order.id}$"))
        phone.check_layout()
        page.locator("main [data-action=reinspect]").click()
        expect(page).to_have_url(re.compile(r"/inspections/\d+$"))
        phone.check_layout()
        reinspection_id = int(re.search(r"/inspections/(\d+)", page.url).group(1))
        assert reinspection_id != inspection_id
        assert _fresh().get(Inspection, reinspection_id).kind == InspectionKind.REINSPECTION
        expect(page.locator("main li.checklist-item").first).to_have_attribute("data-code", FAILED)  # asked first
        _answer(phone, page.locator(f"#q-{FAILED}"), FAILED, Outcome.PASS, photo=again)
        _finish(phone, "锚栓已紧固，复查合格。")
        _state(page, InspectionState.PASSED)
        expect(page.locator(".flash-success")).to_have_text(
            translated(app, "zh_CN", "The inspection passed: the certificate is issued."))
        session = _fresh()
        assert session.get(Project, project_id).state == ProjectState.COMPLETED
        assert session.get(RectificationOrder, order.id).state == RectificationState.CLOSED
        certificate = session.scalar(select(Certificate).where(Certificate.inspection_id == reinspection_id))
        assert certificate is not None, "the passed re-inspection issued no certificate"
        serial, token = certificate.serial, certificate.token

        expect(page.get_by_test_id("certificate-link")).to_contain_text(serial)

        # The project's safety card says so too, and leads to the certificate: its serial, the QR code drawn in the
        # page, and the public link it encodes.
        phone.at("5. the certificate")
        page.locator(f'main a[href="/projects/{project_id}"]').click()
        expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"))
        phone.check_layout()
        expect(page.locator("#safety [data-action=start-inspection]")).to_have_count(0)
        page.get_by_test_id("project-certificate").click()
        expect(page).to_have_url(re.compile(rf"/certificates/{certificate.id}$"))
        phone.check_layout()
        expect(page.get_by_test_id("serial")).to_have_text(serial)
        qr = page.locator("main .qr-figure svg")
        expect(qr).to_be_visible()
        link = page.get_by_test_id("tag-link")
        tag_url = link.get_attribute("href")
        assert tag_url == f"{live_server}/tags/{token}", tag_url
        expect(link).to_have_text(tag_url)
        assert _encodes(qr.locator("path").get_attribute("d"), tag_url), "the QR code does not encode the public link"
        box = qr.bounding_box()
        assert box["width"] >= 100 and box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # scannable, on screen

        # The A6 tag to print: Chinese first, the same serial and QR code.
        phone.at("5. the printable tag")
        page.locator(f'main a[href="/certificates/{certificate.id}/tag"]').click()
        expect(page).to_have_url(re.compile(rf"/certificates/{certificate.id}/tag$"))
        phone.check_layout()
        expect(page.get_by_test_id("serial")).to_have_text(serial)
        expect(page.locator("h1")).to_have_text("招牌安全标识")
        assert _encodes(page.locator(".tag-qr svg path").get_attribute("d"), tag_url)

        # Someone on the street scans it: no login, the sign is safe.
        street = new_context(base_url=live_server)
        passer_by = Journey(street.new_page(), problems=phone.problems)
        passer_by.at("5. the public tag page, anonymous")
        passer_by.open(tag_url)
        status = passer_by.page.get_by_test_id("tag-status")
        expect(status).to_have_text(translated(app, "zh_CN", "Safe"))
        expect(status).to_have_class(re.compile(r"\btag-safe\b"))
        expect(passer_by.page.locator("main h1")).to_have_text(installed["shop"])
        expect(passer_by.page.locator("main")).to_contain_text(serial)
        expect(passer_by.page.locator("form[action='/logout']")).to_have_count(0)
        assert expect_images_loaded(passer_by.page.locator("main img.tag-photo")) == 1  # shown to anyone
