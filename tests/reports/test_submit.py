"""A passer-by reports a dangerous sign from a phone, without an account: the street's report page and the form
opened from a sign's safety tag. What is refused writes nothing and keeps what was typed; what is abuse is
limited; a second report of the same place joins the open case."""

from __future__ import annotations

import gc
import html
import io
import re
import warnings
from decimal import Decimal

import pytest
from PIL import ExifTags, Image
from sqlalchemy import select

from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.reports import services
from merchant_alliance.reports.models import HazardReport, ReportEntry, ReportState
from merchant_alliance.safety import inspections
from merchant_alliance.safety.models import Certificate
from merchant_alliance.storage.backends import get_storage
from tests.concurrency import at_once
from tests.helpers import field_errors, login_as
from tests.reports.reporting import (
    finish_inspection,
    form,
    photo_file,
    post_report,
    report,
    sign_on,
    written,
)
from tests.storage import pictures

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def passer_by(app, address: str = "10.0.0.1"):
    """A browser with no account, from one address, reading English."""
    browser = app.test_client()
    browser.set_cookie("lang", "en")
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def only_entry() -> ReportEntry:
    db.session.expire_all()
    (entry,) = db.session.scalars(select(ReportEntry)).all()
    return entry


def certified(side):
    """A sign of the side's shop that passed its inspection: its certificate (the tag's token)."""
    signboard = sign_on(side)
    inspection = inspections.start_for_sign(side.officer, signboard)
    finish_inspection(side.officer, inspection)
    return db.session.scalar(select(Certificate).where(Certificate.signboard_id == signboard.id))


# --- the street's report page ---------------------------------------------------------------------------


def test_a_passer_by_reports_a_shop_and_lands_on_their_private_follow_page(app, world):
    """The form names the street's shops; the report is received and the reporter is sent to their own page,
    with its link to keep."""
    browser = passer_by(app)
    page = browser.get(f"/streets/{world.a.street.id}/report")
    assert page.status_code == 200
    assert world.a.shop.name in page.get_data(as_text=True)
    assert world.b.shop.name not in page.get_data(as_text=True)

    response = post_report(browser, world.a, reporter_name="王阿姨", reporter_contact="13900001111", urgent="y")

    entry = only_entry()
    assert response.status_code == 303 and response.location == f"/reports/follow/{entry.token}"
    assert (entry.report.shop_id, entry.report.urgent, entry.report.state) == (world.a.shop.id, True, ReportState.NEW)
    assert len(entry.photos) == 1 and not entry.photos[0].public
    follow = browser.get(response.location)
    text = follow.get_data(as_text=True)
    assert "Keep this page" in text and f"/reports/follow/{entry.token}" in text
    assert "Received" in text and "招牌一角松动" in text


def test_without_a_photo_nothing_is_written_and_what_was_typed_stays(app, world):
    """No photo: refused under the photo field; the words, the kind and the contact are still in the form."""
    before = written(app)
    response = post_report(passer_by(app), world.a, photos=None, reporter_contact="13900001111")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert re.search(r'data-photo-field>.*<p class="error">Please add a photo of the sign.</p>', text, re.S)
    assert "招牌一角松动" in text and 'value="13900001111"' in text
    assert re.search(r'value="loose"\s+checked', text)
    assert written(app) == before


def test_a_decompression_bomb_is_refused_and_the_photo_must_be_chosen_again(app, world):
    """A few bytes claiming 400 megapixels: refused before anything is stored; the page says to choose the photo
    again and keeps the words."""
    before = written(app)
    response = post_report(passer_by(app), world.a, photos=[photo_file(pictures.bomb_png(), "bomb.png")])
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'data-testid="photos-again"' in text and "招牌一角松动" in text
    assert "bomb.png" in html.unescape(text)
    assert written(app) == before


def test_an_iphone_heic_photo_is_accepted(app, world):
    response = post_report(passer_by(app), world.a, photos=[photo_file(pictures.heic(), "IMG_0001.HEIC")])
    assert response.status_code == 303
    (photo,) = only_entry().photos
    assert photo.content_type == "image/jpeg" and photo.original_filename.endswith("HEIC")


def stored_gps(photo: Photo) -> dict:
    data = get_storage().get(photo.display_key)
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(ExifTags.IFD.GPSInfo))


@pytest.mark.parametrize("share", [False, True])
def test_the_photos_position_is_kept_only_when_the_reporter_shares_it(app, world, share):
    """A phone photo carries where it was taken: the report keeps that only when the reporter ticked "share my
    location"; the stored photo has no position either way."""
    gps_photo = pictures.jpeg(pictures.quadrants((64, 32)), exif=pictures.phone_exif())
    response = post_report(passer_by(app), world.a, photos=[photo_file(gps_photo, "IMG_1.jpg")],
                           share_location="y" if share else None)
    assert response.status_code == 303
    entry = only_entry()
    if share:
        assert (round(float(entry.report.latitude), 3), round(float(entry.report.longitude), 3)) == (31.219, 121.426)
    else:
        assert entry.report.latitude is None and entry.report.longitude is None
    assert stored_gps(entry.photos[0]) == {}


@pytest.mark.parametrize("share", [False, True])
def test_the_browsers_position_is_kept_only_when_the_reporter_shares_it(app, world, share):
    response = post_report(passer_by(app), world.a, latitude="31.2200", longitude="121.4300",
                           share_location="y" if share else None)
    assert response.status_code == 303
    case = only_entry().report
    assert (case.latitude, case.longitude) == ((Decimal("31.220000"), Decimal("121.430000")) if share else (None, None))


def test_a_ten_megabyte_text_field_is_refused_and_nothing_written(app, world):
    before = written(app)
    status = post_report(passer_by(app), world.a, description="危" * 10_000_000).status_code
    with warnings.catch_warnings():  # the test client never closes the spooled body it sent
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert status == 413
    assert written(app) == before


def test_a_description_over_a_thousand_characters_is_refused_under_its_field(app, world):
    before = written(app)
    response = post_report(passer_by(app), world.a, description="松" * 1001)
    assert field_errors(response, "description") == ["Please keep this under 1000 characters."]
    assert written(app) == before


def test_a_house_number_on_a_road_when_the_shop_is_not_listed(app, world):
    """The shop is not in the list: the reporter types the house number on the (only) road."""
    assert post_report(passer_by(app), world.a, shop="", house_number="１０１８号").status_code == 303
    case = only_entry().report
    assert (case.shop_id, case.house_number, case.alliance_id) == (None, "1018号", world.a.alliance.id)


def test_neither_shop_nor_house_number_is_refused_under_the_house_number(app, world):
    before = written(app)
    response = post_report(passer_by(app), world.a, shop="")
    assert field_errors(response, "house_number") == ["Please choose the shop, or type the house number."]
    assert written(app) == before


def test_a_shop_of_another_street_is_refused(app, world):
    before = written(app)
    response = post_report(passer_by(app), world.a, shop=str(world.b.shop.id))
    assert field_errors(response, "shop") == ["This place is not on this street."]
    assert written(app) == before


def test_a_script_typed_anywhere_never_runs_on_any_page(app, world):
    """Every text a reporter types is shown as text: on the officer's page, on the reporter's page and (once
    published) on the public list."""
    browser = passer_by(app)
    response = post_report(browser, world.a, shop="", house_number=SCRIPT[:30], description=SCRIPT,
                           reporter_name=SCRIPT, reporter_contact=SCRIPT)
    assert response.status_code == 303
    entry = only_entry()
    assert entry.reporter_name == SCRIPT and entry.report.house_number == SCRIPT[:30]
    follow = browser.get(response.location).get_data(as_text=True)
    officer = login_as(world.a.officer)
    page = officer.get(f"/reports/{entry.report_id}").get_data(as_text=True)
    officer.post(f"/reports/{entry.report_id}/publish", data={"published": "1"})
    public = browser.get(f"/streets/{world.a.street.id}/reports").get_data(as_text=True)
    for shown in (follow, page, public):
        assert SCRIPT not in shown and "<script>alert" not in shown
        assert ESCAPED in shown


def test_thirty_reports_a_minute_from_one_client_are_limited_after_five(app, world):
    """A script sending report after report: the first five are received, the rest get 429 and write nothing."""
    browser = passer_by(app)
    codes = [post_report(browser, world.a, description=f"第{n}次").status_code for n in range(30)]
    assert codes == [303] * 5 + [429] * 25
    assert db.session.scalar(select(ReportEntry.id).order_by(ReportEntry.id.desc()).offset(5).limit(1)) is None
    assert len(db.session.scalars(select(ReportEntry)).all()) == 5
    # another person, from another address, is not held up
    assert post_report(passer_by(app, "10.0.0.9"), world.a, description="另一个人").status_code == 303


def test_the_same_person_sending_the_same_report_twice_gets_one_entry(app, world):
    """A double tap, or a resend after a lost answer: one entry, and both answers lead to its page."""
    browser = passer_by(app)
    first = post_report(browser, world.a)
    second = post_report(browser, world.a)
    assert first.location == second.location
    entry = only_entry()
    assert entry.report.entries_count == 1


# --- the form opened from a sign's safety tag --------------------------------------------------------------


def test_the_tag_page_offers_the_report_form_with_the_sign_fixed(app, world):
    certificate = certified(world.a)
    browser = passer_by(app)
    tag = browser.get(f"/tags/{certificate.token}").get_data(as_text=True)
    assert f"/tags/{certificate.token}/report" in tag
    page = browser.get(f"/tags/{certificate.token}/report")
    assert page.status_code == 200 and 'data-testid="reported-sign"' in page.get_data(as_text=True)
    assert 'name="shop"' not in page.get_data(as_text=True)
    response = browser.post(f"/tags/{certificate.token}/report", data={
        "photos": [photo_file()], "service": "electrical", "description": "灯箱电线外露",
        "shop": str(world.b.shop.id)}, content_type="multipart/form-data")  # a place sent anyway is not read
    assert response.status_code == 303
    case = only_entry().report
    assert (case.signboard_id, case.shop_id, case.place_key) == (certificate.signboard_id, world.a.shop.id,
                                                                  f"sign:{certificate.signboard_id}")


def test_an_unknown_tag_has_no_report_form(app, world):
    assert passer_by(app).get("/tags/not-a-token/report").status_code == 404
    assert passer_by(app).post("/tags/not-a-token/report", data=form(world.a),
                               content_type="multipart/form-data").status_code == 404


def test_a_second_person_reporting_the_same_sign_joins_the_open_case(app, world):
    """Two people, two addresses, the same sign: one case with two entries; each has a follow link of their own
    that shows the case and that someone else reported it too."""
    certificate = certified(world.a)
    follows = []
    for address, words in (("10.0.0.1", "招牌倾斜"), ("10.0.0.2", "招牌快掉了")):
        browser = passer_by(app, address)
        response = browser.post(f"/tags/{certificate.token}/report", data={
            "photos": [photo_file()], "service": "loose", "description": words}, content_type="multipart/form-data")
        follows.append((browser, response.location))
    db.session.expire_all()
    (case,) = db.session.scalars(select(HazardReport)).all()
    assert case.entries_count == 2 and len(case.entries) == 2
    assert follows[0][1] != follows[1][1]
    for browser, location in follows:
        text = browser.get(location).get_data(as_text=True)
        assert "1 other person reported this too." in text
    assert case.signboard.open_reports == 1


def test_a_closed_case_does_not_take_a_new_report(app, world):
    """Once the street office has dismissed a case, a new report of the same place opens a new case."""
    entry = report(world.a)
    services.dismiss(world.a.officer, entry.report, "已核实，招牌牢固")
    assert post_report(passer_by(app), world.a).status_code == 303
    db.session.expire_all()
    cases = db.session.scalars(select(HazardReport).order_by(HazardReport.id)).all()
    assert [c.state for c in cases] == [ReportState.DISMISSED, ReportState.NEW]
    assert [c.entries_count for c in cases] == [1, 1]


@pytest.mark.postgres_only
def test_two_people_reporting_the_same_shop_at_once_make_one_case(app, world):
    """Two reports of one shop arrive at the same moment: one case, two entries (the open-case index holds)."""
    street_id, alliance_id, shop_id = world.a.street.id, world.a.alliance.id, world.a.shop.id
    data = [pictures.jpeg(Image.new("RGB", (40, 30), colour)) for colour in ((200, 0, 0), (0, 0, 200))]

    def reporter(n: int):
        def send():
            from merchant_alliance.accounts.models import Street
            from tests.reports.reporting import upload
            street = db.session.get(Street, street_id)
            return services.submit(street, alliance_id=alliance_id, shop_id=shop_id, service="loose",
                                   description=f"第{n}个人看见的", photos=[upload(data[n])],
                                   client=f"client-{n}").token
        return send

    tokens = at_once(app, reporter(0), reporter(1))
    assert all(isinstance(token, str) for token in tokens), tokens
    db.session.expire_all()
    (case,) = db.session.scalars(select(HazardReport)).all()
    assert case.entries_count == 2
    assert sorted(e.token for e in case.entries) == sorted(tokens)
