"""Files: one storage interface with a local and an S3 backend, and the image pipeline.

Knows nothing of the domain; `merchant_alliance.photos` builds the Photo record on top of it.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref

from flask import Flask

from merchant_alliance.storage.backends import (
    LocalStorage,
    S3Storage,
    Storage,
    StorageError,
    get_storage,
    storage_from_config,
)

__all__ = ["LocalStorage", "S3Storage", "Storage", "StorageError", "get_storage", "init_app", "storage_from_config"]


def init_app(app: Flask) -> None:
    """Build the app's storage backend."""
    if app.testing and app.config.get("STORAGE_BACKEND", "local") == "local" \
            and not app.config.get("STORAGE_LOCAL_ROOT"):
        # Tests: a directory of this app's own, removed with the app (or at exit).
        root = tempfile.mkdtemp(prefix="merchant-alliance-files-")
        weakref.finalize(app, shutil.rmtree, root, ignore_errors=True)
        app.config["STORAGE_LOCAL_ROOT"] = root
    app.extensions["storage"] = storage_from_config(app.config)
