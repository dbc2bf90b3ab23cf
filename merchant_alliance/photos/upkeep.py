"""Keeping the photo store and the photos table in step: unreferenced objects, rows without files.

A request writes its objects before it commits the rows that name them, so a process killed in
between leaves objects that nothing refers to. They are harmless but take space: `flask doctor`
reports them and `flask storage gc` deletes them once they are older than a grace period (so an
upload still on its way to its commit is never touched).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select

from merchant_alliance.extensions import db
from merchant_alliance.photos.models import DOCUMENT_PREFIX, PHOTO_PREFIX, Document, Photo
from merchant_alliance.storage.backends import StoredObject, get_storage


def grace_period() -> timedelta:
    return timedelta(seconds=current_app.config["STORAGE_ORPHAN_GRACE_SECONDS"])


PREFIXES = (PHOTO_PREFIX, DOCUMENT_PREFIX)


def referenced_keys() -> set[str]:
    """Every storage key a photo or document row names."""
    keys: set[str] = set()
    for display_key, thumb_key in db.session.execute(select(Photo.display_key, Photo.thumb_key)):
        keys.update((display_key, thumb_key))
    keys.update(db.session.scalars(select(Document.key)))
    return keys


def _still_referenced(keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        batch = keys[start:start + 500]
        for row in db.session.execute(select(Photo.display_key, Photo.thumb_key).where(
                or_(Photo.display_key.in_(batch), Photo.thumb_key.in_(batch)))):
            found.update(row)
        found.update(db.session.scalars(select(Document.key).where(Document.key.in_(batch))))
    return found


def unreferenced_objects(older_than: timedelta | None = None) -> list[StoredObject]:
    """Stored objects under photos/ and documents/ that no row names and that were written more than `older_than`
    ago."""
    cutoff = datetime.now(UTC) - (grace_period() if older_than is None else older_than)
    listed = [item for prefix in PREFIXES for item in get_storage().list(prefix) if item.modified <= cutoff]
    known = referenced_keys()
    return sorted((item for item in listed if item.key not in known), key=lambda item: item.key)


def collect_garbage(older_than: timedelta | None = None, *, dry_run: bool = False) -> list[StoredObject]:
    """Delete the unreferenced objects past the grace period; returns what was (or would be) deleted.

    The candidates are checked against the table once more just before deleting, so a row committed
    while the store was being listed keeps its files.
    """
    candidates = unreferenced_objects(older_than)
    db.session.rollback()  # a fresh snapshot for the second look
    referenced_now = _still_referenced([item.key for item in candidates])
    doomed = [item for item in candidates if item.key not in referenced_now]
    if not dry_run:
        storage = get_storage()
        for item in doomed:
            storage.delete(item.key)
    return doomed


def missing_objects() -> Iterator[tuple[str, str]]:
    """("photo 12" or "document 3", key) for each file a row names that the store does not hold."""
    # Rows first, then the listing: files are written before their rows commit, so every row read
    # here had its files in the store before the listing began.
    rows = db.session.execute(select(Photo.id, Photo.display_key, Photo.thumb_key).order_by(Photo.id)).all()
    documents = db.session.execute(select(Document.id, Document.key).order_by(Document.id)).all()
    stored = {item.key for prefix in PREFIXES for item in get_storage().list(prefix)}
    for photo_id, display_key, thumb_key in rows:
        for key in (display_key, thumb_key):
            if key not in stored:
                yield f"photo {photo_id}", key
    for document_id, key in documents:
        if key not in stored:
            yield f"document {document_id}", key


def check_orphans() -> Iterator[str]:
    for item in unreferenced_objects():
        yield f"stored object {item.key} ({item.size} bytes, written {item.modified:%Y-%m-%d %H:%M} UTC) " \
              "is not named by any photo or document row"


def check_missing() -> Iterator[str]:
    for row, key in missing_objects():
        yield f"{row} names {key}, which is not in the store"
