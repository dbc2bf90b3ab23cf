"""The Photo row: what was stored, where, for which alliance (and shop), and who may see it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merchant_alliance.extensions import db
from merchant_alliance.timeutil import utcnow

if TYPE_CHECKING:
    from merchant_alliance.accounts.models import Alliance, User
    from merchant_alliance.shops.models import Shop

PHOTO_SIZES = ("display", "thumb")


PHOTO_PREFIX = "photos/"


def photo_key(sha256: str, upload_id: str, size: str) -> str:
    """The storage key of one size of one uploaded photo.

    Every upload gets objects of its own (`upload_id` is random), even when the same picture was uploaded
    before: an object then belongs to exactly one Photo row, so a request that rolls back may delete
    what it wrote without ever touching an object that a committed row refers to. (Rows stored before
    2026-12 share content-addressed keys without an upload id; nothing deletes those but the sweep of
    unreferenced objects, which skips any key a row names.)
    """
    if size not in PHOTO_SIZES:
        raise ValueError(f"unknown photo size {size!r}")
    return f"{PHOTO_PREFIX}{sha256[:2]}/{sha256}/{upload_id}/{size}.jpg"


class Photo(db.Model):
    """One uploaded photo, stored in two sizes. Reuse a picture by pointing at its row, never by copying keys."""

    __tablename__ = "photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the original upload
    backend: Mapped[str] = mapped_column(String(10))  # which storage backend holds the objects
    display_key: Mapped[str] = mapped_column(String(200))
    thumb_key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50), default="image/jpeg")
    display_bytes: Mapped[int]
    thumb_bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    thumb_width: Mapped[int]
    thumb_height: Mapped[int]
    taken_at: Mapped[datetime | None]  # from the photo's EXIF, naive UTC
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    # None for an anonymous upload (a passer-by reporting a dangerous signboard).
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    public: Mapped[bool] = mapped_column(default=False)
    # A passer-by's photo in a hazard report: only the street office sees it (not the shop or its alliance, though
    # it is filed under them) until it is checked and published (`public`).
    held: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alliance: Mapped[Alliance] = relationship()
    shop: Mapped[Shop | None] = relationship()
    uploaded_by: Mapped[User | None] = relationship()

    def key(self, size: str) -> str:
        """The storage key of `size` ("display" or "thumb")."""
        if size not in PHOTO_SIZES:
            raise ValueError(f"unknown photo size {size!r}")
        return self.display_key if size == "display" else self.thumb_key

    def __repr__(self) -> str:
        return f"<Photo {self.id} {self.sha256[:12]}>"


DOCUMENT_PREFIX = "documents/"
DOCUMENT_TYPE = "application/pdf"


def document_key(sha256: str, upload_id: str) -> str:
    """The storage key of an uploaded PDF: objects of its own per upload, like a photo's (see `photo_key`)."""
    return f"{DOCUMENT_PREFIX}{sha256[:2]}/{sha256}/{upload_id}.pdf"


class Document(db.Model):
    """One uploaded PDF (a contractor's quote, a drawing): stored as it came, served only as a download."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    backend: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50), default=DOCUMENT_TYPE)
    bytes: Mapped[int]
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alliance: Mapped[Alliance] = relationship()
    shop: Mapped[Shop | None] = relationship()

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.sha256[:12]}>"
