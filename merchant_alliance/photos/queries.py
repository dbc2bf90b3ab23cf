"""Finding a photo to serve: read-only, nothing written."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Document, Photo
from merchant_alliance.shops.models import Shop


def photo_to_serve(photo_id: int) -> Photo | None:
    """The photo with the shop and alliance it belongs to, which the access check reads, in one query."""
    return db.session.scalars(
        select(Photo).where(Photo.id == photo_id).options(
            joinedload(Photo.alliance), joinedload(Photo.shop).joinedload(Shop.alliance))
    ).first()


def document_to_serve(document_id: int) -> Document | None:
    return db.session.scalars(
        select(Document).where(Document.id == document_id).options(
            joinedload(Document.alliance), joinedload(Document.shop).joinedload(Shop.alliance))
    ).first()
