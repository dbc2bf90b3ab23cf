"""A shop's signboards as they are now: recorded with photos by the shop or its alliance's leads, corrected,
and seen only by the people who see the shop."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from merchant_alliance.accounts.models import Role
from merchant_alliance.audit import AuditEvent, events_for_object
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.shops import services
from merchant_alliance.shops.models import Signboard, SignCondition, SignType
from tests.factories import user_with_role
from tests.helpers import login_as
from tests.projects.helpers import SIGNBOARD, fresh_jpeg, text_of, upload, written

FORM = {"position": "正门上方", "sign_type": "projecting", "width_m": "0.80", "height_m": "1.60",
        "projection_m": "0.90", "clearance_m": "3.10", "illuminated": "y", "material": "灯箱",
        "install_year": "2012", "condition": "hazardous"}
NOT_A_PHOTO = b"%PDF-1.4 an invoice, not a photo"


def files(*names: str) -> list[tuple[io.BytesIO, str]]:
    return [(io.BytesIO(fresh_jpeg()), name) for name in names]


@pytest.fixture
def neighbour(world):
    """The owner of the alliance's other shop."""
    return user_with_role(Role.SHOP_OWNER, shop=world.a.other_shop)


def register(world, by=None, **changes) -> Signboard:
    return services.register_signboard(by or world.a.owner, world.a.shop, SIGNBOARD | changes,
                                       [upload(filename="门头.jpg")])


# --- recording a signboard ------------------------------------------------------------------------


def test_the_owner_or_a_lead_records_the_sign_with_photos_and_sees_it_on_the_shop_page(app, world):
    owner = login_as(world.a.owner)
    shop_id = world.a.shop.id
    assert 'name="position"' in text_of(owner.get(f"/shops/{shop_id}/signboards/new"))
    response = owner.post(f"/shops/{shop_id}/signboards/new", content_type="multipart/form-data",
                          data=FORM | {"photos": files("门头-白天.jpg", "门头-近景.jpg")})
    signboard = db.session.scalar(select(Signboard))
    assert response.headers["Location"] == f"/signboards/{signboard.id}"
    assert (signboard.shop_id, signboard.sign_type, signboard.width_m, signboard.projection_m,
            signboard.clearance_m, signboard.illuminated, signboard.install_year, signboard.condition) == (
        shop_id, SignType.PROJECTING, Decimal("0.80"), Decimal("0.90"), Decimal("3.10"), True, 2012,
        SignCondition.HAZARDOUS)
    assert [p.original_filename for p in signboard.photos] == ["门头-白天.jpg", "门头-近景.jpg"]
    assert {(p.shop_id, p.alliance_id, p.uploaded_by_id) for p in signboard.photos} == {
        (shop_id, world.a.alliance.id, world.a.owner.id)}
    event = db.session.scalar(events_for_object(signboard))
    assert (event.action, event.actor_id, event.alliance_id, event.street_id) == (
        "signboard_registered", world.a.owner.id, world.a.alliance.id, world.a.street.id)

    page = text_of(owner.get(f"/signboards/{signboard.id}"))
    assert "正门上方 · Projecting" in page and "0.80 × 1.60 m" in page and "Hazardous" in page and "2012" in page
    for photo in signboard.photos:
        assert f'src="/photos/{photo.id}/thumb"' in page
    assert f'href="/shops/{shop_id}/projects/new?signboard={signboard.id}"' in page
    shop_page = text_of(owner.get(f"/shops/{shop_id}"))
    assert f'href="/signboards/{signboard.id}">正门上方 · Projecting</a>' in shop_page
    assert "0.80 × 1.60 m · Hazardous" in shop_page

    response = login_as(world.a.lead).post(f"/shops/{shop_id}/signboards/new", content_type="multipart/form-data",
                                            data=FORM | {"position": "侧墙", "photos": files("侧墙.jpg")})
    assert response.status_code == 302  # the alliance's lead may record one too
    assert db.session.scalar(select(AuditEvent.actor_id).where(AuditEvent.action == "signboard_registered")
                             .order_by(AuditEvent.id.desc()).limit(1)) == world.a.lead.id


def test_nobody_else_may_record_a_sign_and_outsiders_do_not_learn_the_shop_exists(app, world, neighbour):
    url = f"/shops/{world.a.shop.id}/signboards/new"
    before = written(app)
    for user, status in ((world.a.treasurer, 403), (world.a.officer, 403), (world.admin, 403),
                         (neighbour, 404), (world.a.contractor, 404), (world.b.lead, 404),
                         (world.b.officer, 404), (world.nobody, 404)):
        client = login_as(user)
        for response in (client.get(url), client.post(url, content_type="multipart/form-data",
                                                      data=FORM | {"photos": files("a.jpg")})):
            assert response.status_code == status, user
            if status == 404:
                assert world.a.shop.name not in text_of(response)
    anonymous = login_as(None).post(url, data=FORM)
    assert anonymous.headers["Location"].startswith("/login?next=")
    assert written(app) == before

    with force_locale("en"):
        for user in (world.a.treasurer, neighbour, world.b.lead):
            with pytest.raises(NotAllowed):
                register(world, by=user)
    assert written(app) == before


def test_impossible_sizes_are_refused_and_a_bad_photo_names_the_file_and_nothing_is_written(app, world):
    before = written(app)
    with force_locale("en"):
        for field, value, message in (
            ("width_m", "0", "Width and height must be between 0 and 50 metres."),
            ("width_m", "-1", "Width and height must be between 0 and 50 metres."),
            ("width_m", "500", "Width and height must be between 0 and 50 metres."),
            ("height_m", "0", "Width and height must be between 0 and 50 metres."),
            ("height_m", None, "Width and height must be between 0 and 50 metres."),
            ("projection_m", "-0.1", "Projection and clear height must be between 0 and 50 metres."),
            ("clearance_m", "50.5", "Projection and clear height must be between 0 and 50 metres."),
        ):
            with pytest.raises(DomainError) as caught:
                register(world, **{field: Decimal(value) if value else None})
            assert str(caught.value) == message, (field, value)
            assert written(app) == before, (field, value)

    owner = login_as(world.a.owner)
    url = f"/shops/{world.a.shop.id}/signboards/new"
    for field, typed in (("width_m", "0"), ("width_m", "-1"), ("width_m", "500"), ("height_m", "")):
        response = owner.post(url, content_type="multipart/form-data",
                              data=FORM | {field: typed, "photos": files("a.jpg")})
        assert response.status_code == 200, (field, typed)
        assert "Number must be between 0.01 and 50." in text_of(response) or "This field is required." in \
            text_of(response), (field, typed)
        assert written(app) == before, (field, typed)

    response = owner.post(url, content_type="multipart/form-data", data=FORM | {
        "photos": [*files("门头.jpg", "侧面.jpg"), (io.BytesIO(NOT_A_PHOTO), "发票.pdf")]})
    assert response.status_code == 200
    assert "发票.pdf: this is not a photo in a supported format (JPEG, PNG, WebP or HEIC)." in text_of(response)
    assert written(app) == before  # no signboard, no photo row, no stored object


# --- correcting it --------------------------------------------------------------------------------


def test_the_owner_or_a_lead_corrects_the_sign_and_adds_photos(app, world, neighbour):
    signboard = register(world)
    url = f"/signboards/{signboard.id}/edit"
    owner = login_as(world.a.owner)
    page = text_of(owner.get(url))
    assert '<option selected value="wall_parallel">' in page and '<option selected value="worn">' in page

    response = owner.post(url, content_type="multipart/form-data",
                          data=FORM | {"sign_type": "wall_parallel", "photos": files("修补后.jpg")})
    assert response.headers["Location"] == f"/signboards/{signboard.id}"
    db.session.rollback()
    signboard = db.session.get(Signboard, signboard.id)
    assert (signboard.condition, signboard.width_m, signboard.material) == (SignCondition.HAZARDOUS,
                                                                            Decimal("0.80"), "灯箱")
    assert [p.original_filename for p in signboard.photos] == ["门头.jpg", "修补后.jpg"]
    assert db.session.scalar(events_for_object(signboard)).action == "signboard_updated"

    assert login_as(world.a.lead).post(url, data=FORM | {"condition": "good"}).status_code == 302
    assert db.session.get(Signboard, signboard.id).condition == SignCondition.GOOD

    before = written(app)
    for user, status in ((world.a.treasurer, 403), (world.a.officer, 403), (neighbour, 404),
                         (world.b.lead, 404), (world.nobody, 404)):
        client = login_as(user)
        assert client.get(url).status_code == status, user
        assert client.post(url, data=FORM | {"condition": "good", "width_m": "9"}).status_code == status, user
    response = owner.post(url, data=FORM | {"width_m": "500"})
    assert "Number must be between 0.01 and 50." in text_of(response)
    assert written(app) == before


# --- seeing it ------------------------------------------------------------------------------------


def test_the_sign_and_its_photos_are_seen_by_the_people_who_see_the_shop_and_by_nobody_else(app, world, neighbour):
    signboard = register(world, position="侧墙灯箱")
    photo_id = signboard.photos[0].id
    for user in (world.a.owner, world.a.lead, world.a.treasurer, world.a.officer, world.admin):
        client = login_as(user)
        assert "侧墙灯箱" in text_of(client.get(f"/signboards/{signboard.id}")), user
        response = client.get(f"/photos/{photo_id}/display")
        assert (response.status_code, response.mimetype) == (200, "image/jpeg"), user
        response.close()
    for user in (neighbour, world.a.contractor, world.b.lead, world.b.officer, world.nobody, None):
        client = login_as(user)
        response = client.get(f"/signboards/{signboard.id}")
        assert response.status_code == (302 if user is None else 404), user
        assert "侧墙灯箱" not in text_of(response)
        assert client.get(f"/photos/{photo_id}/thumb").status_code == 404, user
    assert login_as(world.a.owner).get(f"/signboards/{signboard.id + 100}").status_code == 404


def test_a_refused_sign_keeps_what_was_typed_and_says_to_choose_the_photos_again(app, world):
    """A browser never sends a chosen file twice: the refused form keeps every typed value and says, under the
    photo field, to choose the photos again (said only when photos had been chosen)."""
    url, owner = f"/shops/{world.a.shop.id}/signboards/new", login_as(world.a.owner)
    refused = text_of(owner.post(url, content_type="multipart/form-data",
                                 data=FORM | {"width_m": "500", "photos": files("门头.jpg")}))
    assert 'data-testid="photos-again"' in refused
    assert 'value="正门上方"' in refused and 'value="500"' in refused and 'value="灯箱"' in refused
    without = text_of(owner.post(url, content_type="multipart/form-data", data=FORM | {"width_m": "500"}))
    assert 'data-testid="photos-again"' not in without
    assert 'data-testid="photos-again"' not in text_of(owner.get(url))
