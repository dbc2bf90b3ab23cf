"""Saving uploaded photos, all or nothing, and cleaning up after a transaction that does not commit.

`save_photos` writes objects before the caller commits the record they belong to. So that a failure
after that point leaves no orphan objects, the keys a call newly wrote are remembered in the session
(`db.session.info`), tagged with the transaction they were written in, and the session hooks below
delete them when that transaction ends without committing: a rollback (also of a SAVEPOINT), or a
session closed without commit at the end of the request. A commit keeps them.

This is safe whatever the interleaving because every upload writes objects of its own (see
`photo_key`): no other row, committed or not, can refer to what this call wrote. What a killed
process leaves behind is found by `flask doctor` and removed by `flask storage gc`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction
from werkzeug.datastructures import FileStorage

from merchant_alliance.accounts.models import Alliance, User
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
from merchant_alliance.photos.models import DOCUMENT_TYPE, PHOTO_SIZES, Document, Photo, document_key, photo_key
from merchant_alliance.shops.models import Shop
from merchant_alliance.storage.backends import Storage, StorageError, get_storage
from merchant_alliance.storage.images import TOO_LARGE, ImageRejected, ProcessedImage, process_image

log = logging.getLogger(__name__)

NEW_OBJECTS = "storage.new_objects"  # the db.session.info entry
TOO_MANY_PHOTOS = _l("Please choose at most %(n)s photos at a time.")


@dataclass(frozen=True)
class PreparedPhotos:
    """Uploads checked and processed, nothing written yet: what `save_photos` stores."""

    images: list[tuple[str, ProcessedImage]]

    def __add__(self, other: PreparedPhotos) -> PreparedPhotos:
        """Two batches stored as one (one flush, so the database is locked once, after every file is stored)."""
        return PreparedPhotos([*self.images, *other.images])


# Decoding a 48 MP photo takes up to about 215 MB at its peak (a HEIC): at most this many at once in a process,
# so that a burst of uploads cannot take the server's memory (the others wait their turn).
DECODES_AT_ONCE = threading.BoundedSemaphore(2)


def prepare_photos(uploads: Sequence[FileStorage]) -> PreparedPhotos:
    """Check every upload and make its display and thumbnail images, writing nothing anywhere.

    The slow part of an upload: call it before the first database write of the request, so that no
    lock is held while photos are decoded (on SQLite a write locks the whole database). Refuses them
    all if any one is not an acceptable photo (ImageRejected names it). Entries with no file are ignored.
    """
    config = current_app.config
    files = [upload for upload in uploads if upload is not None and upload.filename]
    if len(files) > config["MAX_PHOTOS_PER_UPLOAD"]:
        raise DomainError(TOO_MANY_PHOTOS, n=config["MAX_PHOTOS_PER_UPLOAD"])
    max_bytes = config["MAX_IMAGE_BYTES"]
    processed: list[tuple[str, ProcessedImage]] = []
    for upload in files:  # every file is checked before anything is written
        name = _display_name(upload.filename or "")
        data = upload.stream.read(max_bytes + 1)  # never more than one byte past the limit
        if len(data) > max_bytes:
            raise ImageRejected(TOO_LARGE, file=name, reason="too_large", limit=f"{max_bytes / 1048576:g}")
        with DECODES_AT_ONCE:
            processed.append((name, process_image(data, name, max_bytes=max_bytes,
                                                  max_pixels=config["MAX_IMAGE_PIXELS"])))
    return PreparedPhotos(processed)


def save_photos(
    actor: User | None,
    uploads: Sequence[FileStorage] | PreparedPhotos,
    *,
    alliance: Alliance,
    shop: Shop | None = None,
    public: bool = False,
    held: bool = False,
) -> list[Photo]:
    """Store photos and add their Photo rows to the session (flushed, not committed).

    `uploads` are files from a form (prepared here) or what `prepare_photos` made of them. Refuses them
    all, writing nothing, if any one is not an acceptable photo (ImageRejected names it). The caller
    commits together with the record the photos belong to; if it rolls back instead, the objects this
    call newly wrote are deleted again. `actor` is None only for an anonymous report from the public.
    """
    if shop is not None and shop.alliance_id != alliance.id:
        raise ValueError(f"{shop!r} is not in {alliance!r}")
    prepared = uploads if isinstance(uploads, PreparedPhotos) else prepare_photos(uploads)
    if not prepared.images:
        return []
    processed = prepared.images

    storage = get_storage()
    session, put = _putting(storage)
    photos = []
    # Files first, rows after: a row never exists without its files, and the database is written to
    # (and on SQLite locked) only once the slow part is done.
    for name, image in processed:
        upload_id = secrets.token_hex(8)
        display_key, thumb_key = (photo_key(image.sha256, upload_id, size) for size in PHOTO_SIZES)
        for key, data in ((display_key, image.display), (thumb_key, image.thumb)):
            put(key, data, "image/jpeg")
        photos.append(Photo(
            sha256=image.sha256, backend=storage.name, display_key=display_key, thumb_key=thumb_key,
            content_type="image/jpeg", display_bytes=len(image.display), thumb_bytes=len(image.thumb),
            width=image.width, height=image.height,
            thumb_width=image.thumb_width, thumb_height=image.thumb_height,
            taken_at=image.taken_at, original_filename=name,
            uploaded_by_id=actor.id if actor is not None else None,
            alliance_id=alliance.id, shop_id=shop.id if shop is not None else None, public=public, held=held,
        ))
    session.add_all(photos)
    session.flush()
    return photos


# --- PDF documents ----------------------------------------------------------------------------------

NOT_A_PDF = _l("%(file)s is neither a photo nor a PDF.")
PDF_TOO_LARGE = _l("%(file)s is larger than %(limit)s MB.")


def is_pdf(upload: FileStorage) -> bool:
    """Whether the upload is a PDF by its content (its first bytes), whatever its name says."""
    head = upload.stream.read(5)
    upload.stream.seek(0)
    return head == b"%PDF-"


@dataclass(frozen=True)
class PreparedDocuments:
    files: list[tuple[str, bytes]]


def prepare_documents(uploads: Sequence[FileStorage]) -> PreparedDocuments:
    """Check every PDF (its content says PDF, it ends as a PDF ends, not too large), writing nothing."""
    max_bytes = current_app.config["MAX_DOCUMENT_BYTES"]
    files = []
    for upload in uploads:
        if upload is None or not upload.filename:
            continue
        name = _display_name(upload.filename)
        data = upload.stream.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise DomainError(PDF_TOO_LARGE, file=name, limit=f"{max_bytes / 1048576:g}")
        if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-2048:]:
            raise DomainError(NOT_A_PDF, file=name)
        files.append((name, data))
    return PreparedDocuments(files)


def save_documents(actor: User, prepared: PreparedDocuments, *, alliance: Alliance,
                   shop: Shop | None = None) -> list[Document]:
    """Store checked PDFs and add their rows (flushed, not committed), with the same orphan protection as photos."""
    if not prepared.files:
        return []
    storage = get_storage()
    session, put = _putting(storage)
    documents = []
    for name, data in prepared.files:
        sha = hashlib.sha256(data).hexdigest()
        key = document_key(sha, secrets.token_hex(8))
        put(key, data, DOCUMENT_TYPE)
        documents.append(Document(sha256=sha, backend=storage.name, key=key, bytes=len(data), original_filename=name,
                                  uploaded_by_id=actor.id, alliance_id=alliance.id,
                                  shop_id=shop.id if shop is not None else None))
    session.add_all(documents)
    session.flush()
    return documents


def split_attachments(uploads: Sequence[FileStorage]) -> tuple[PreparedPhotos, PreparedDocuments]:
    """Photos and PDFs sent in one field, each checked by its own rules before anything is written."""
    files = [upload for upload in uploads if upload is not None and upload.filename]
    if len(files) > current_app.config["MAX_PHOTOS_PER_UPLOAD"]:
        raise DomainError(TOO_MANY_PHOTOS, n=current_app.config["MAX_PHOTOS_PER_UPLOAD"])
    pdfs = [upload for upload in files if is_pdf(upload)]
    for upload in files:
        if upload not in pdfs and upload.filename.lower().endswith(".pdf"):  # says PDF, is not
            raise DomainError(NOT_A_PDF, file=_display_name(upload.filename))
    return prepare_photos([upload for upload in files if upload not in pdfs]), prepare_documents(pdfs)


def _display_name(filename: str) -> str:
    """The file's own name, without any folders a browser sent along, kept readable (Chinese included)."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "photo"


# --- Orphan protection ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _NewObject:
    storage: Storage
    key: str
    transaction: SessionTransaction  # the innermost transaction (or SAVEPOINT) it was written in


def _putting(storage: Storage) -> tuple[Session, Callable[[str, bytes, str], None]]:
    """The session (in a transaction), and a `put(key, data, content_type)` that stores an object and remembers it,
    so that it lives and dies with the innermost transaction (or SAVEPOINT) it was written in."""
    session = db.session()
    if not session.in_transaction():
        session.begin()
    transaction = session.get_nested_transaction() or session.get_transaction()
    written: list[_NewObject] = session.info.setdefault(NEW_OBJECTS, [])

    def put(key: str, data: bytes, content_type: str) -> None:
        if storage.put(key, data, content_type):  # False: the object was there already, and is not ours to delete
            written.append(_NewObject(storage, key, transaction))

    return session, put


def _after_commit(session: Session) -> None:
    """A commit keeps the objects written in it; a released SAVEPOINT hands them to its parent."""
    entries: list[_NewObject] | None = session.info.get(NEW_OBJECTS)
    if not entries:
        return
    committed = session.get_nested_transaction() or session.get_transaction()
    if committed is None or committed.parent is None:
        entries.clear()  # the whole transaction is in the database
        return
    entries[:] = [
        _NewObject(e.storage, e.key, committed.parent) if e.transaction is committed else e for e in entries
    ]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """A transaction (or SAVEPOINT) that ends without a commit takes its new objects with it."""
    entries: list[_NewObject] | None = session.info.get(NEW_OBJECTS)
    if not entries:
        return
    doomed = [e for e in entries if e.transaction is transaction]
    if not doomed:
        return
    entries[:] = [e for e in entries if e.transaction is not transaction]
    for entry in doomed:
        try:
            entry.storage.delete(entry.key)
        except StorageError:
            log.exception("Could not delete %s after a rollback; it is now an orphan", entry.key)


def register_session_hooks() -> None:
    """Install the orphan-protection hooks on Flask-SQLAlchemy's sessions (once; repeat calls do nothing)."""
    for name, hook in (("after_commit", _after_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(db.session, name, hook):
            event.listen(db.session, name, hook)
