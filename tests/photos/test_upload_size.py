"""A form may carry as many phone photos as the README promises: ten, each as large as a phone makes them."""

from __future__ import annotations

import gc
import io
import warnings

from sqlalchemy import select

from config import Config
from merchant_alliance.extensions import db
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.models import Comment
from merchant_alliance.shops.services import register_signboard
from tests.helpers import login_as
from tests.projects.helpers import SIGNBOARD, fresh_jpeg

PHONE_PHOTO_BYTES = 7_800_000  # what a 12-megapixel phone camera writes for a detailed street scene


def phone_sized_photo() -> bytes:
    """A real JPEG as large as a phone photo (the picture, then the rest of the file as a phone's extra data)."""
    picture = fresh_jpeg()
    return picture + b"\0" * (PHONE_PHOTO_BYTES - len(picture))


def test_ten_phone_photos_in_one_form_are_accepted(app, world):
    signboard = register_signboard(world.a.owner, world.a.shop, SIGNBOARD)
    project = projects.propose_renovation(world.a.owner, signboard, "咖啡馆木质新店招")
    db.session.commit()
    photo = phone_sized_photo()
    browser = login_as(world.a.owner)
    response = browser.post(f"/projects/{project.id}/comments", content_type="multipart/form-data", data={
        "body": "十张现场照片", "idempotency_key": "ten-photos",
        "photos": [(io.BytesIO(photo), f"IMG_{n:04}.jpg") for n in range(10)],
    })
    status = response.status_code
    del response
    with warnings.catch_warnings():  # the test client never closes the spooled body it sent
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert status == 302  # 78 MB: not "413 file too large"
    comment = db.session.scalar(select(Comment))
    assert len(comment.photos) == 10


def test_the_request_limit_leaves_room_for_every_photo_an_upload_allows():
    assert Config.MAX_CONTENT_LENGTH >= Config.MAX_PHOTOS_PER_UPLOAD * Config.MAX_IMAGE_BYTES
