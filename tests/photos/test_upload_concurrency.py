"""A shop owner uploading a design with ten large photos must not hold up anyone else's save.

SQLite locks the whole database for the first write of a transaction until its commit, so an upload
that wrote anything before decoding its photos made every other writer wait for the whole ingest (and
fail with "database is locked" on a slow one). Here an upload of ten 12-megapixel photos runs in one
thread while another thread keeps saving small records, on a real SQLite file in WAL mode.
"""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text
from werkzeug.datastructures import FileStorage

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts.models import User
from merchant_alliance.extensions import db
from merchant_alliance.projects import services as projects
from merchant_alliance.projects.models import DesignVersion, Project
from merchant_alliance.shops.services import register_signboard
from tests import factories
from tests.projects.helpers import DESIGN, SIGNBOARD

PHOTOS = 10


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A 12-megapixel phone photo (4000 × 3000) of noise, which compresses badly, as real photos do."""
    image = Image.effect_noise((4000, 3000), 60).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def file_app(tmp_path: Path):
    """The app on a SQLite file of its own (the suite's in-memory database cannot be shared by threads)."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'app.sqlite3'}",
                     STORAGE_LOCAL_ROOT=str(tmp_path / "files"))
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_database_runs_in_wal_mode_with_a_busy_timeout(file_app):
    with file_app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_others_keep_saving_while_a_shop_uploads_ten_large_photos(file_app, big_jpeg):
    with file_app.app_context():
        factories.bind(db.session)
        world = factories.build_world()
        signboard = register_signboard(world.a.owner, world.a.shop, SIGNBOARD, [])
        project = projects.propose_renovation(world.a.owner, signboard, "咖啡馆新店招", "")
        owner_id, project_id = world.a.owner.id, project.id
        db.session.remove()

    uploading, done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def upload() -> None:
        with file_app.app_context():
            try:
                owner = db.session.get(User, owner_id)
                files = [FileStorage(io.BytesIO(big_jpeg), f"照片{n}.jpg", content_type="image/jpeg")
                         for n in range(PHOTOS)]
                uploading.set()
                outcome["version"] = projects.add_design_version(
                    owner, db.session.get(Project, project_id), DESIGN,
                    mockups=files[:PHOTOS // 2], current=files[PHOTOS // 2:]).id
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                outcome["error"] = error
            finally:
                done.set()
                db.session.remove()

    # Another person's save, as SQLite sees it: take the write lock without waiting (timeout 0). While the
    # upload holds the lock, the attempt fails at once; an upload that held it during its ingest made
    # nearly every attempt fail. This counts lock conflicts, so a busy machine cannot make it flaky.
    probe = sqlite3.connect(file_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), timeout=0,
                            isolation_level=None)
    probe.execute("CREATE TABLE IF NOT EXISTS probe (n INTEGER)")
    attempts = conflicts = 0
    thread = threading.Thread(target=upload)
    thread.start()
    uploading.wait(10)
    while not done.is_set():
        attempts += 1
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("INSERT INTO probe VALUES (1)")
            probe.execute("COMMIT")
        except sqlite3.OperationalError as error:
            assert "locked" in str(error) or "busy" in str(error), error
            conflicts += 1
        time.sleep(0.002)
    thread.join(60)
    probe.close()
    with file_app.app_context():
        assert "error" not in outcome, outcome.get("error")
        version = db.session.get(DesignVersion, outcome["version"])
        assert len(version.mockups) + len(version.current_photos) == PHOTOS
        db.session.remove()

    assert attempts >= 20, "the upload finished too quickly to tell anything"
    # The upload writes its rows only once every photo is processed and stored: a moment at the very end
    # (an upload that wrote before processing half of its photos held the lock for about half the time).
    assert conflicts / attempts < 0.1, f"{conflicts} of {attempts} saves found the database locked"
