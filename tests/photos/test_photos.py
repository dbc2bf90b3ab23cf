"""Saving photos all-or-nothing, leaving no orphans behind a rollback, and serving them to the right people."""

from __future__ import annotations

import io
import re
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.photos.services import NEW_OBJECTS, save_photos
from merchant_alliance.photos.views import photo_url
from merchant_alliance.storage.backends import StorageError, get_storage
from merchant_alliance.storage.images import ImageRejected
from tests import factories
from tests.helpers import IsolatedClient, login_as
from tests.storage import pictures

SIGN = pictures.jpeg(pictures.gradient((900, 600)), exif=pictures.phone_exif(orientation=6))
DESIGN = pictures.png_with_transparency()
NIGHT = pictures.jpeg(pictures.quadrants((300, 200)))


def upload(data: bytes, filename: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=filename, content_type="image/jpeg")


def stored_files(app) -> list[str]:
    root = Path(app.config["STORAGE_LOCAL_ROOT"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def objects_of(*photos: Photo) -> list[str]:
    return sorted(key for photo in photos for key in (photo.display_key, photo.thumb_key))


def photo_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Photo))


def save(world, *files: tuple[bytes, str], shop: bool = True, public: bool = False) -> list[Photo]:
    return save_photos(world.a.owner, [upload(data, name) for data, name in files], alliance=world.a.alliance,
                       shop=world.a.shop if shop else None, public=public)


# --- Saving ---------------------------------------------------------------------------------------


def test_photos_are_stored_in_both_sizes_and_flushed_for_the_caller_to_commit(app, world):
    photos = save(world, (SIGN, "C:\\Users\\张伟\\门头 现状.jpg"), (DESIGN, "设计稿.png"))
    sign, design = photos
    assert all(photo.id is not None for photo in photos)  # flushed: the caller can link to them
    assert sign.original_filename == "门头 现状.jpg"
    assert (sign.backend, sign.content_type, sign.public) == ("local", "image/jpeg", False)
    assert (sign.uploaded_by_id, sign.alliance_id, sign.shop_id) == (world.a.owner.id, world.a.alliance.id,
                                                                      world.a.shop.id)
    assert (sign.width, sign.height, sign.thumb_width, sign.thumb_height) == (600, 900, 213, 320)  # turned upright
    assert sign.taken_at is not None
    storage = get_storage()
    assert sign.display_bytes == len(storage.get(sign.display_key))
    assert sign.thumb_bytes == len(storage.get(sign.thumb_key))
    assert re.fullmatch(rf"photos/{sign.sha256[:2]}/{sign.sha256}/[0-9a-f]{{16}}/display\.jpg", sign.display_key)
    assert sign.thumb_key == sign.display_key.replace("display.jpg", "thumb.jpg")
    assert stored_files(app) == objects_of(sign, design)
    db.session.commit()
    assert photo_rows() == 2
    assert design.shop.id == world.a.shop.id


def test_one_bad_file_refuses_the_whole_upload_and_writes_nothing(app, world):
    with pytest.raises(ImageRejected) as caught:
        save(world, (SIGN, "sign.jpg"), (pictures.HTML_PAGE, "invoice.jpg"), (NIGHT, "night.jpg"))
    assert (caught.value.filename, caught.value.reason) == ("invoice.jpg", "not_a_photo")
    assert str(caught.value).startswith("invoice.jpg")  # in the reader's language (zh_CN by default)
    assert stored_files(app) == []
    assert photo_rows() == 0
    assert not db.session.info.get(NEW_OBJECTS)


def test_a_form_with_no_file_chosen_saves_nothing(app, world):
    assert save_photos(world.a.owner, [FileStorage(stream=io.BytesIO(b""), filename="")],
                       alliance=world.a.alliance) == []
    photos = save_photos(world.a.owner, [FileStorage(stream=io.BytesIO(b""), filename=""), upload(NIGHT, "n.jpg")],
                         alliance=world.a.alliance)
    assert len(photos) == 1


def test_too_many_photos_at_once_are_refused(app, world):
    app.config["MAX_PHOTOS_PER_UPLOAD"] = 2
    with pytest.raises(DomainError) as caught:
        save(world, (SIGN, "1.jpg"), (NIGHT, "2.jpg"), (DESIGN, "3.png"))
    assert caught.value.params == {"n": 2}
    assert stored_files(app) == []


def test_an_oversized_upload_is_read_only_up_to_the_limit(app, world):
    app.config["MAX_IMAGE_BYTES"] = 1000
    stream = io.BytesIO(SIGN)
    with pytest.raises(ImageRejected) as caught:
        save_photos(world.a.owner, [FileStorage(stream=stream, filename="big.jpg")], alliance=world.a.alliance)
    assert (caught.value.filename, caught.value.reason) == ("big.jpg", "too_large")
    assert stream.tell() == 1001


def test_the_same_picture_twice_gets_objects_of_its_own(app, world):
    """Nothing is shared between uploads, so a rollback of one can never take another's files."""
    photos = save(world, (NIGHT, "a.jpg"), (NIGHT, "copy of a.jpg"))
    assert photos[0].sha256 == photos[1].sha256
    assert photos[0].display_key != photos[1].display_key
    assert stored_files(app) == objects_of(*photos)


def test_a_shop_of_another_alliance_is_a_programming_error(app, world):
    with pytest.raises(ValueError, match="is not in"):
        save_photos(world.a.owner, [upload(NIGHT, "n.jpg")], alliance=world.a.alliance, shop=world.b.shop)


def test_a_passer_by_may_report_without_an_account(app, world):
    (photo,) = save_photos(None, [upload(NIGHT, "hazard.jpg")], alliance=world.a.alliance, public=True)
    assert photo.uploaded_by_id is None and photo.public


# --- No orphans -----------------------------------------------------------------------------------


def test_a_rollback_deletes_what_the_call_wrote_but_not_what_was_already_there(app, world):
    earlier = save(world, (SIGN, "earlier.jpg"))
    db.session.commit()
    again = save(world, (SIGN, "again.jpg"), (NIGHT, "new.jpg"))  # then the caller's own validation fails …
    assert stored_files(app) == objects_of(*earlier, *again)
    db.session.rollback()
    assert stored_files(app) == objects_of(*earlier)
    assert photo_rows() == 1
    assert db.session.info[NEW_OBJECTS] == []


def test_a_commit_keeps_the_objects_for_good(app, world):
    photos = save(world, (NIGHT, "n.jpg"))
    db.session.commit()
    assert db.session.info[NEW_OBJECTS] == []
    db.session.rollback()
    assert stored_files(app) == objects_of(*photos)


def test_a_request_that_ends_without_committing_leaves_nothing(app, world):
    save(world, (NIGHT, "n.jpg"))
    db.session.remove()  # what Flask-SQLAlchemy does when the request's app context ends
    assert stored_files(app) == []


def test_a_rolled_back_savepoint_takes_only_its_own_objects(app, world):
    outer = save(world, (SIGN, "outer.jpg"))
    savepoint = db.session.begin_nested()
    save(world, (NIGHT, "inner.jpg"))
    savepoint.rollback()
    assert stored_files(app) == objects_of(*outer)
    db.session.commit()
    assert stored_files(app) == objects_of(*outer)
    assert photo_rows() == 1


def test_a_released_savepoint_still_rolls_back_with_its_transaction(app, world):
    with db.session.begin_nested():
        inner = save(world, (NIGHT, "inner.jpg"))
    assert stored_files(app) == objects_of(*inner)
    db.session.rollback()
    assert stored_files(app) == []


def test_a_storage_failure_halfway_leaves_nothing_after_the_rollback(app, world, monkeypatch):
    storage = get_storage()
    real_put, calls = storage.put, []

    def flaky_put(key, data, content_type):
        calls.append(key)
        if len(calls) == 3:
            raise StorageError("local: disk full")
        return real_put(key, data, content_type)

    monkeypatch.setattr(storage, "put", flaky_put)
    with pytest.raises(StorageError):
        save(world, (SIGN, "1.jpg"), (NIGHT, "2.jpg"))
    assert len(stored_files(app)) == 2
    db.session.rollback()  # what the app's error handler does
    assert stored_files(app) == []
    assert photo_rows() == 0


# --- Serving --------------------------------------------------------------------------------------


@pytest.fixture
def as_user(app):
    """GET a URL as a user (None: anonymous), each with a fresh client and request state."""
    app.test_client_class = IsolatedClient

    def get(user, url: str, **kwargs):
        client = app.test_client()
        if user is not None:
            login_as(user, client)
        return client.get(url, buffered=True, **kwargs)  # reads the file and closes it

    return get


def committed_photo(world, *, shop: bool = True, public: bool = False) -> Photo:
    (photo,) = save(world, (SIGN, "sign.jpg"), shop=shop, public=public)
    db.session.commit()
    return photo


def test_a_shop_photo_is_served_to_its_owner_the_alliance_and_the_street(app, world, as_user):
    photo = committed_photo(world)
    expected = get_storage().get(photo.display_key)
    for user in (world.a.owner, world.a.lead, world.a.treasurer, world.a.officer, world.admin):
        response = as_user(user, f"/photos/{photo.id}/display")
        assert response.status_code == 200, user
        assert response.data == expected
        assert response.mimetype == "image/jpeg"
        assert response.headers["Cache-Control"] == "private, max-age=3600"


def test_a_shop_photo_is_hidden_from_everyone_else(app, world, as_user):
    photo = committed_photo(world)
    for user in (world.b.owner, world.b.lead, world.b.officer, world.a.contractor, world.nobody, None):
        assert as_user(user, f"/photos/{photo.id}/display").status_code == 404, user
        assert as_user(user, f"/photos/{photo.id}/thumb").status_code == 404, user


def test_an_alliance_photo_follows_the_register(app, world, as_user):
    photo = committed_photo(world, shop=False)
    for user in (world.a.lead, world.a.treasurer, world.a.officer):
        assert as_user(user, f"/photos/{photo.id}/thumb").status_code == 200, user
    for user in (world.a.owner, world.b.lead, None):
        assert as_user(user, f"/photos/{photo.id}/thumb").status_code == 404, user


def test_a_public_photo_is_served_to_anyone(app, world, as_user):
    photo = committed_photo(world, public=True)
    response = as_user(None, f"/photos/{photo.id}/thumb")
    assert response.status_code == 200
    assert response.data == get_storage().get(photo.thumb_key)
    assert as_user(world.b.owner, f"/photos/{photo.id}/display").status_code == 200


def test_the_browser_revalidates_instead_of_downloading_again(app, world, as_user):
    photo = committed_photo(world)
    first = as_user(world.a.owner, f"/photos/{photo.id}/display")
    again = as_user(world.a.owner, f"/photos/{photo.id}/display", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_unknown_photos_and_sizes_are_404(app, world, as_user):
    photo = committed_photo(world)
    assert as_user(world.admin, f"/photos/{photo.id + 1}/display").status_code == 404
    assert as_user(world.admin, f"/photos/{photo.id}/original").status_code == 404


def test_photo_url_links_to_the_checked_view(app, world):
    photo = committed_photo(world)
    with app.test_request_context():
        assert photo_url(photo, "thumb") == f"/photos/{photo.id}/thumb"
        assert photo_url(photo, "display") == f"/photos/{photo.id}/display"
        with pytest.raises(ValueError):
            photo_url(photo, "original")


def test_on_s3_the_view_redirects_to_a_short_lived_link(s3_app, s3_settings):
    world = factories.build_world()
    (photo,) = save_photos(world.a.owner, [upload(SIGN, "sign.jpg")], alliance=world.a.alliance, shop=world.a.shop)
    db.session.commit()
    assert photo.backend == "s3"
    s3_app.test_client_class = IsolatedClient

    client = s3_app.test_client()
    login_as(world.a.owner, client)
    response = client.get(f"/photos/{photo.id}/display")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{s3_settings['S3_ENDPOINT_URL']}/{s3_settings['S3_BUCKET']}/{photo.display_key}?")
    assert "X-Amz-Expires=300" in location
    assert response.headers["Cache-Control"] == "private, max-age=150"
    with urllib.request.urlopen(location, timeout=10) as fetched:  # noqa: S310 - the test server
        assert fetched.read() == get_storage().get(photo.display_key)

    assert s3_app.test_client().get(f"/photos/{photo.id}/display").status_code == 404  # anonymous: no link
