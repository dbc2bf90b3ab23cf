"""Serving photos: after an access check, from local disk or by redirect to a short-lived S3 link."""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, redirect, send_file, url_for
from flask_login import current_user

from merchant_alliance import authz
from merchant_alliance.photos import queries
from merchant_alliance.photos.models import PHOTO_SIZES, Document, Photo
from merchant_alliance.photos.permissions import can_view_photo
from merchant_alliance.storage.backends import LocalStorage, StorageError, get_storage

bp = Blueprint("photos", __name__)
log = logging.getLogger(__name__)

# Photos never change under their URL (content-addressed), but they are private: browsers may keep
# them, shared caches may not.
PHOTO_CACHE_CONTROL = "private, max-age=3600"


def photo_url(photo: Photo, size: str) -> str:
    """The app's URL for one size of a photo ("display" or "thumb"); it checks access on every request."""
    if size not in PHOTO_SIZES:
        raise ValueError(f"unknown photo size {size!r}")
    return url_for("photos.photo", photo_id=photo.id, size=size)


@bp.get("/photos/<int:photo_id>/<any(display, thumb):size>")
def photo(photo_id: int, size: str):
    found = queries.photo_to_serve(photo_id)
    if found is None or not can_view_photo(current_user, found):
        abort(404)
    key = found.key(size)
    storage = get_storage()
    seconds = current_app.config["PHOTO_URL_SECONDS"]
    url = storage.url(key, seconds)
    if url is not None:
        response = redirect(url, code=302)
        # Reusing the redirect for a while saves a round trip per thumbnail, well within the link's life.
        response.headers["Cache-Control"] = f"private, max-age={max(seconds // 2, 0)}"
        return response
    if not isinstance(storage, LocalStorage):  # a backend that neither links nor has files
        abort(404)
    try:
        response = send_file(storage.path(key), mimetype=found.content_type, conditional=True, etag=True)
    except FileNotFoundError:
        # A row whose file is gone is a fault for `flask doctor` to report, not a crash for the visitor.
        log.error("Photo %s: stored object %s is missing", found.id, key)
        abort(404)
    response.headers["Cache-Control"] = PHOTO_CACHE_CONTROL
    return response


def document_url(document: Document) -> str:
    return url_for("photos.document", document_id=document.id)


@bp.get("/documents/<int:document_id>")
def document(document_id: int):
    """A PDF, after an access check, always as a download: a browser never runs it as a page of this site."""
    found = queries.document_to_serve(document_id)
    if found is None or not authz.can(current_user, "view", found):
        abort(404)
    try:
        data = get_storage().get(found.key)
    except StorageError:
        log.error("Document %s: stored object %s is missing", found.id, found.key)
        abort(404)
    response = Response(data, mimetype=found.content_type)
    name = found.original_filename or f"document-{found.id}.pdf"
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = PHOTO_CACHE_CONTROL
    return response
