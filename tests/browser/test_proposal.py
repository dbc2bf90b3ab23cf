"""A renovation proposal, end to end on phones: the owner proposes a new sign with photos, the alliance
lead asks for changes, the owner answers with version 2, the lead approves, and the timeline tells it all.

Photos go through the real upload path: previews, the client-side shrinking of photos over 3 MB
(static/js/upload.js), the XHR upload, and the server's image pipeline.
"""

from __future__ import annotations

import hashlib
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from merchant_alliance.accounts.models import Role, User
from merchant_alliance.accounts.services import grant_role
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects import services as project_services
from merchant_alliance.projects.models import DesignVersion
from merchant_alliance.shops import services as shop_services
from merchant_alliance.shops.models import Shop, SignCondition, SignType
from tests import factories
from tests.browser.conftest import Phone, expect_images_loaded, translated, write_jpeg

pytestmark = pytest.mark.browser

OWNER, LEAD = "陈老板", "王会长"
TITLE = "换一块木质招牌"
REASON = "招牌请缩窄到3.6米，并补一张夜间效果图。"
NOT_A_PHOTO = "%(file)s: this is not a photo in a supported format (JPEG, PNG, WebP or HEIC)."
UPLOAD_TIMEOUT = 20_000  # shrinking a 12-megapixel photo in the browser, sending it, processing it


@pytest.fixture
def street_shop(app):
    """An alliance with one shop (no signboard yet), the shop's owner and the alliance's lead."""
    alliance = factories.AllianceFactory(name="愚园路商家联盟")
    shop = factories.ShopFactory(alliance=alliance, name="愚园咖啡", house_number="1018")
    owner = _person(OWNER, Role.SHOP_OWNER, shop=shop)
    lead = _person(LEAD, Role.ALLIANCE_LEAD, alliance=alliance)
    return {"alliance_id": alliance.id, "shop_id": shop.id, "owner": owner.phone, "lead": lead.phone}


def _person(name: str, role: Role, **scope):
    user = factories.UserFactory(name=name)
    grant_role(user, role, **scope)
    db.session.commit()
    return user


def _fresh():
    """The test's own session, seeing what the live server committed since."""
    db.session.rollback()
    return db.session


def _check(phone: Phone) -> None:
    """check_layout(): it waits for the page and its stylesheet, also a page an upload wrote in place."""
    phone.check_layout()


def _state(page: Page, state: str) -> None:
    expect(page.get_by_test_id("project-state")).to_have_class(re.compile(rf"\bstate-{state}\b"))


def _choose_photos(page: Page, field_id: str, files: list[Path]) -> None:
    """Choose photos with the field's "Choose photos" input; its previews appear before anything is sent."""
    page.locator(f"#{field_id}").set_input_files(files)
    previews = page.locator(f'[data-photo-field]:has(#{field_id}) .photo-preview li')
    expect(previews).to_have_count(len(files))
    expect(previews).to_have_text([re.compile(re.escape(f.name)) for f in files])
    assert expect_images_loaded(previews.locator("img")) == len(files)


def _display_size(page: Page, link) -> tuple[int, int]:
    """The pixel size of the display image a thumbnail links to, fetched with the user's session."""
    response = page.context.request.get(link.get_attribute("href"))
    assert response.ok, response.status
    with Image.open(io.BytesIO(response.body())) as image:
        return image.size


def _fill_design(page: Page, *, width: str, mockups: list[Path], current: list[Path]) -> None:
    page.locator("#sign_type").select_option(SignType.WALL_PARALLEL.value)
    page.locator("#width_m").fill(width)
    page.locator("#height_m").fill("0.80")
    page.locator("#projection_m").fill("0.20")
    page.locator("#clearance_m").fill("3.20")
    page.locator("#materials").fill("柚木面板，镀锌钢框")
    page.locator("#estimated_cost").fill("12,000")
    if mockups:
        _choose_photos(page, "mockups", mockups)
    if current:
        _choose_photos(page, "current", current)


def test_proposal_changes_requested_then_approved_with_the_whole_story_on_the_timeline(
        app, phone: Phone, street_shop, tmp_path):
    page = phone.page
    shop_id, alliance_id = street_shop["shop_id"], street_shop["alliance_id"]
    big = write_jpeg(tmp_path / "招牌现状.jpg", (4000, 3000), noisy=True)
    assert big.stat().st_size > 3 * 1024 * 1024
    mockup_1 = write_jpeg(tmp_path / "效果图-1.jpg", colour=(120, 80, 40))
    mockup_2 = write_jpeg(tmp_path / "效果图-2.jpg", colour=(60, 100, 40))

    # The owner records the sign as it is now, with a full-size phone photo.
    phone.log_in(street_shop["owner"], factories.PASSWORD)
    page.get_by_test_id("my-shop").click()
    expect(page).to_have_url(re.compile(rf"/shops/{shop_id}$"))
    _check(phone)
    page.locator(f'main a[href="/shops/{shop_id}/signboards/new"]').click()
    expect(page).to_have_url(re.compile(r"/signboards/new$"))
    _check(phone)
    _choose_photos(page, "photos", [big])
    page.locator("#position").fill("正门上方")
    page.locator("#sign_type").select_option(SignType.WALL_PARALLEL.value)
    page.locator("#width_m").fill("4.20")
    page.locator("#height_m").fill("0.90")
    page.locator("#condition").select_option(SignCondition.WORN.value)
    _check(phone)
    phone.screenshot("signboard-form")
    phone.submit()
    expect(page).to_have_url(re.compile(r"/signboards/\d+$"), timeout=UPLOAD_TIMEOUT)
    expect(page.locator(".flash-success")).to_be_visible()
    assert expect_images_loaded(page.locator("main .photo-grid img")) == 1
    _check(phone)
    # The browser shrank the photo before sending it: the server got a re-encoded copy, not the original.
    stored = _fresh().scalars(select(Photo)).all()
    assert [p.original_filename for p in stored] == [big.name]
    assert stored[0].sha256 != hashlib.sha256(big.read_bytes()).hexdigest(), "upload.js did not shrink the photo"
    width, height = _display_size(page, page.locator("main .photo-grid a").first)
    assert max(width, height) <= 1600 and width * 3 == height * 4, (width, height)

    # … and proposes a renovation of it.
    page.locator('main a[href*="/projects/new?signboard="]').click()
    expect(page).to_have_url(re.compile(rf"/shops/{shop_id}/projects/new\?signboard=\d+$"))
    _check(phone)
    page.locator("#title").fill(TITLE)
    page.locator("#description").fill("旧灯箱褪色，想换成木质招牌。")
    phone.submit()
    expect(page).to_have_url(re.compile(r"/projects/\d+/versions/new$"))
    project_id = int(re.search(r"/projects/(\d+)/", page.url).group(1))

    # Version 1: the design's size, materials and cost, a mock-up and a photo of the sign now.
    expect(page.locator("#width_m")).to_have_value("4.20")  # starts from the recorded sign
    _fill_design(page, width="4.00", mockups=[mockup_1], current=[big])
    _check(phone)
    phone.screenshot("version-form")
    phone.submit()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"), timeout=UPLOAD_TIMEOUT)
    expect(page.locator(".flash-success")).to_be_in_viewport()
    _state(page, "draft")
    findings = page.get_by_test_id("findings").locator("li")
    expect(findings.first).to_be_visible()
    expect(page.locator("main .finding-violation")).to_have_count(0)
    expect(page.locator("main .finding-ok")).to_have_count(findings.count())
    expect(page.locator("main .facts")).to_contain_text("¥12,000.00")
    # The version's mock-up and photo of the sign now (the grids with a name), and the same in the activity.
    assert expect_images_loaded(page.locator("main .photo-grid[aria-label] img")) == 2
    assert expect_images_loaded(page.locator("main .timeline img")) == 2
    _check(phone)
    page.locator("button[data-action=submit]").click()
    _state(page, "submitted")
    _check(phone)
    phone.screenshot("project-submitted")
    phone.log_out()

    # The lead finds it among the submitted projects and asks for changes.
    phone.log_in(street_shop["lead"], factories.PASSWORD)
    phone.follow_menu_link(f"/alliances/{alliance_id}/projects")
    page.locator('.state-filter a[data-state="submitted"]').click()
    expect(page).to_have_url(re.compile(r"\?state=submitted$"))
    expect(page.locator('.state-filter a[aria-current="page"]')).to_have_attribute("data-state", "submitted")
    _check(phone)
    page.get_by_role("link", name=TITLE).click()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"))
    expect(page.locator("button[data-action=approve_design]")).to_be_visible()
    _check(phone)
    phone.screenshot("project-review")
    page.locator("#reason-request_changes").fill(REASON)
    page.locator("button[data-action=request_changes]").click()
    _state(page, "changes_requested")
    _check(phone)
    phone.log_out()

    # The owner sees the bell, follows the notification and answers with version 2.
    phone.log_in(street_shop["owner"], factories.PASSWORD)
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    # Its name says what it shows, the count included as a word of its own (WCAG 2.5.3: speak what you see).
    bell_name = f"{translated(app, 'zh_CN', 'Notifications')} 1 {translated(app, 'zh_CN', 'unread')}"
    expect(page.locator("a.bell")).to_have_accessible_name(bell_name)
    page.locator("a.bell").click()
    expect(page).to_have_url(re.compile(r"/notifications$"))
    _check(phone)
    expect(page.locator("main .notifications .unread")).to_contain_text(REASON)
    page.locator("main .notifications .unread .link-button").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"))
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    _state(page, "changes_requested")
    expect(page.locator("main .quote")).to_contain_text(REASON)
    _check(phone)
    page.locator(f'main a[href="/projects/{project_id}/versions/new"]').click()
    expect(page).to_have_url(re.compile(r"/versions/new$"))
    expect(page.locator("#width_m")).to_have_value("4.00")  # starts from version 1
    expect(page.locator("#estimated_cost")).to_have_value(re.compile(r"^12,?000(\.00)?$"))
    page.locator("#width_m").fill("3.60")
    _choose_photos(page, "mockups", [mockup_2])
    _check(phone)
    phone.screenshot("version-2-form")
    phone.submit()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"), timeout=UPLOAD_TIMEOUT)
    expect(page.locator(".flash-success")).to_be_visible()
    page.locator("button[data-action=submit]").click()
    _state(page, "submitted")
    _check(phone)
    phone.log_out()

    # The lead approves version 2.
    phone.log_in(street_shop["lead"], factories.PASSWORD)
    phone.open(f"/projects/{project_id}")
    page.locator("button[data-action=approve_design]").click()
    _state(page, "design_approved")
    expect(page.locator("main [data-action=approve_design]")).to_have_count(0)
    _check(phone)
    phone.screenshot("project-approved")

    # The timeline, in English: every step in order, by whom, with the reason and the photos.
    phone.open(f"/projects/{project_id}/timeline")
    phone.switch_language("en")
    entries = page.locator("main li.timeline-entry")
    expect(entries).to_have_count(7)
    steps = [
        ("project-create", OWNER, "started the proposal"),
        ("project-version_added", OWNER, "added a design version"),
        ("project-submit", OWNER, "submitted the design for review"),
        ("project-request_changes", LEAD, "asked for changes"),
        ("project-version_added", OWNER, "added a design version"),
        ("project-submit", OWNER, "submitted the design for review"),
        ("project-approve_design", LEAD, "approved the design"),
    ]
    for index, (action, actor, label) in enumerate(steps):
        entry = entries.nth(index)
        expect(entry).to_have_class(re.compile(rf"\btimeline-{action}\b"))
        expect(entry.locator(".timeline-head strong")).to_have_text(actor)
        expect(entry.locator(".timeline-head")).to_contain_text(label)
    expect(entries.nth(1).locator(".timeline-head")).to_contain_text("added a design version version 1")
    expect(entries.nth(1).get_by_role("link", name="version 1")).to_be_visible()
    expect(entries.nth(3).locator(".quote")).to_have_text(REASON)
    expect(entries.nth(4).get_by_role("link", name="version 2")).to_be_visible()
    expect(entries.nth(6)).to_contain_text("Design approved")
    expect(entries.nth(1).locator("img")).to_have_count(2)
    expect(entries.nth(4).locator("img")).to_have_count(2)
    assert expect_images_loaded(entries.locator("img")) == 4
    _check(phone)
    phone.screenshot("timeline")

    # Version 1 and 2 side by side, the change of width highlighted.
    phone.open(f"/projects/{project_id}")
    page.locator(f'main a[href="/projects/{project_id}/compare"]').click()
    expect(page).to_have_url(re.compile(r"/compare$"))
    sides = page.locator("main .compare-side")
    expect(sides.locator("h2")).to_have_text(["Version 1", "Version 2"])
    left, right = sides.nth(0).bounding_box(), sides.nth(1).bounding_box()
    assert left["y"] == right["y"] and left["x"] + left["width"] <= right["x"], (left, right)
    expect(sides.nth(0).locator("dd.changed")).to_contain_text("4.00")
    expect(sides.nth(1).locator("dd.changed")).to_contain_text("3.60")
    assert expect_images_loaded(sides.locator("img")) == 4
    _check(phone)
    phone.screenshot("compare")

    # The photo shrunk by the browser is stored at display size, at most 1600 px on its long edge.
    width, height = _display_size(page, sides.nth(0).locator(f'.photo-grid a:has(img[alt="{big.name}"])'))
    assert max(width, height) <= 1600 and width * 3 == height * 4, (width, height)


def test_a_file_that_is_not_a_photo_is_refused_by_name_and_no_version_is_created(app, phone: Phone, street_shop,
                                                                                 tmp_path):
    owner = db.session.scalar(select(User).where(User.phone == street_shop["owner"]))
    signboard = shop_services.register_signboard(owner, db.session.get(Shop, street_shop["shop_id"]), {
        "position": "正门上方", "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("4.20"),
        "height_m": Decimal("0.90"), "condition": SignCondition.WORN})
    project_id = project_services.propose_renovation(owner, signboard, TITLE).id
    fake = tmp_path / "photo.jpg"
    fake.write_text("<!doctype html><html><body>not a photo</body></html>", encoding="utf-8")
    current = write_jpeg(tmp_path / "现状.jpg")
    mockup = write_jpeg(tmp_path / "效果图.jpg", colour=(60, 100, 40))
    page = phone.page
    root = Path(app.config["STORAGE_LOCAL_ROOT"])

    phone.log_in(street_shop["owner"], factories.PASSWORD)
    phone.open(f"/projects/{project_id}/versions/new")
    page.locator("#estimated_cost").fill("12,000")
    page.locator("#mockups").set_input_files(fake)
    _choose_photos(page, "current", [current])
    phone.submit()

    error = page.locator(".flash-error")
    expect(error).to_have_text(translated(app, "zh_CN", NOT_A_PHOTO) % {"file": fake.name})
    expect(error).to_be_in_viewport()  # the answer opens at its top, as after a plain form post
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}/versions/new$"))
    expect(page.locator("#estimated_cost")).to_have_value("12,000")  # what was typed is kept
    _check(phone)
    phone.screenshot("version-form-error")
    session = _fresh()
    assert session.scalar(select(func.count()).select_from(DesignVersion)) == 0
    assert session.scalar(select(func.count()).select_from(Photo)) == 0
    assert not [p for p in root.rglob("*") if p.is_file()], "a refused upload left files behind"

    # The form still works after the error page: choose a real mock-up and save, once.
    _choose_photos(page, "mockups", [mockup])
    _choose_photos(page, "current", [current])
    phone.submit()
    expect(page).to_have_url(re.compile(rf"/projects/{project_id}$"), timeout=UPLOAD_TIMEOUT)
    _state(page, "draft")
    assert expect_images_loaded(page.locator("main .photo-grid[aria-label] img")) == 2
    assert _fresh().scalar(select(func.count()).select_from(DesignVersion)) == 1
