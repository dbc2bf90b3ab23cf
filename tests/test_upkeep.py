"""Keeping the data sound: `flask doctor` finds what is wrong, `flask storage gc` removes leftover files,
a photo whose file is gone is a logged 404, and a backup restores into a fresh instance identically."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from config import TestingConfig
from merchant_alliance import create_app
from merchant_alliance.accounts.models import Street, User
from merchant_alliance.accounts.services import create_street
from merchant_alliance.audit import AuditEvent
from merchant_alliance.demo import load_demo
from merchant_alliance.extensions import db
from merchant_alliance.funds import services as fund_services
from merchant_alliance.funds.models import EntryKind, Fund, LedgerEntry, Reservation, ReservationReason
from merchant_alliance.photos.models import Photo
from merchant_alliance.photos.upkeep import collect_garbage
from merchant_alliance.projects.models import Project
from merchant_alliance.storage.backends import get_storage
from tests.helpers import login_as
from tests.projects.helpers import upload
from tests.services import postgres_url, private_postgres_database
from tests.test_migrations import keep_logging  # noqa: F401  (a fixture)

HOUR = 3600


def committed_photo(world) -> Photo:
    from merchant_alliance.photos.services import save_photos

    (photo,) = save_photos(world.a.owner, [upload(filename="现状.jpg")], alliance=world.a.alliance, shop=world.a.shop)
    db.session.commit()
    return photo


def leftover(key: str, *, age_seconds: int) -> str:
    """A file in the store that no row names, written `age_seconds` ago (what a killed worker leaves)."""
    storage = get_storage()
    storage.put(key, b"\xff\xd8 half an upload", "image/jpeg")
    then = time.time() - age_seconds
    os.utime(storage.path(key), (then, then))
    return key


def doctor(runner) -> tuple[int, list[str]]:
    result = runner.invoke(args=["doctor"])
    return result.exit_code, result.output.strip().splitlines()


# --- flask doctor ----------------------------------------------------------------------------------


def test_doctor_is_quiet_and_exits_zero_on_sound_data(app, world, runner):
    fund = fund_services.default_fund(world.a.alliance)
    fund_services.record_entry(world.a.treasurer, fund, fund_services.EntryDetails(EntryKind.DONATION, 500_00),
                               idempotency_key="d1")
    committed_photo(world)
    code, lines = doctor(runner)
    assert code == 0, lines
    assert lines[-1].startswith("No problems found")


def test_doctor_reports_an_old_orphan_file_but_not_an_upload_still_on_its_way(app, world, runner):
    committed_photo(world)
    old = leftover("photos/ab/abcdef/0123456789abcdef/display.jpg", age_seconds=2 * HOUR)
    leftover("photos/cd/cdef01/0123456789abcdef/display.jpg", age_seconds=60)  # younger than the grace period
    code, lines = doctor(runner)
    assert code == 1
    assert [line for line in lines if line.startswith("storage-orphans")] == [
        line for line in lines if old in line]
    assert len([line for line in lines if line.startswith("storage-orphans")]) == 1


def test_doctor_reports_a_photo_whose_file_is_missing(app, world, runner):
    photo = committed_photo(world)
    get_storage().delete(photo.thumb_key)
    code, lines = doctor(runner)
    assert code == 1
    assert lines[:1] == [f"storage-missing: photo {photo.id} names {photo.thumb_key}, which is not in the store"]


def test_doctor_reports_each_broken_ledger_rule(app, world, runner):
    fund = fund_services.default_fund(world.a.alliance)
    fund_services.record_entry(world.a.treasurer, fund, fund_services.EntryDetails(EntryKind.DONATION, 100_00),
                               idempotency_key="ok")
    db.session.commit()
    # What no service would write, written past them (plain SQL, no ORM), as a faulty script or a hand edit might.
    db.session.execute(insert(LedgerEntry), [{
        "fund_id": fund.id, "kind": EntryKind.DONATION, "amount_fen": -300_00, "idempotency_key": "bad-sign",
        "entered_by_id": world.a.treasurer.id, "occurred_on": fund.created_at, "entered_at": fund.created_at,
        "reference": "", "counterparty": "", "purpose": "",
    }])
    db.session.commit()
    code, lines = doctor(runner)
    assert code == 1
    checks = {line.split(":")[0] for line in lines if ":" in line}
    assert {"ledger-signs", "ledger-history", "ledger-audit"} <= checks
    assert any("went below zero" in line for line in lines)
    assert any("has no audit event" in line for line in lines)


def test_doctor_reports_a_negative_or_excessive_reservation(app, world, runner):
    from tests.fixtures.funds import approved_project

    fund = fund_services.default_fund(world.a.alliance)
    fund_services.record_entry(world.a.treasurer, fund, fund_services.EntryDetails(EntryKind.DONATION, 100_00),
                               idempotency_key="ok")
    project = approved_project(world.a.owner, world.a.shop)
    db.session.execute(insert(Reservation), [
        {"fund_id": fund.id, "project_id": project.id, "amount_fen": -50_00, "reason": ReservationReason.RELEASE,
         "created_by_id": world.a.lead.id, "created_at": fund.created_at},
    ])
    db.session.commit()
    code, lines = doctor(runner)
    assert code == 1
    assert any(line.startswith("ledger-reservations") and "negative" in line for line in lines)

    db.session.execute(insert(Reservation), [
        {"fund_id": fund.id, "project_id": project.id, "amount_fen": 500_00, "reason": ReservationReason.RESERVE,
         "created_by_id": world.a.lead.id, "created_at": fund.created_at},
    ])
    db.session.commit()
    assert any("but holds only" in line for line in doctor(runner)[1])


def test_doctor_can_run_one_check_and_refuses_an_unknown_one(app, world, runner):
    assert runner.invoke(args=["doctor", "--check", "ledger-audit"]).exit_code == 0
    result = runner.invoke(args=["doctor", "--check", "nonsense"])
    assert result.exit_code != 0 and "unknown checks" in result.output


# --- flask storage gc ------------------------------------------------------------------------------


def test_gc_deletes_only_old_files_that_no_row_names(app, world, runner):
    photo = committed_photo(world)
    for key in (photo.display_key, photo.thumb_key):  # old, but named by a row
        then = time.time() - 5 * HOUR
        os.utime(get_storage().path(key), (then, then))
    old = leftover("photos/ab/abcdef/0123456789abcdef/display.jpg", age_seconds=2 * HOUR)
    young = leftover("photos/cd/cdef01/0123456789abcdef/display.jpg", age_seconds=60)

    result = runner.invoke(args=["storage", "gc", "--dry-run"])
    assert result.exit_code == 0 and f"would delete {old}" in result.output
    assert get_storage().exists(old)

    result = runner.invoke(args=["storage", "gc"])
    assert result.exit_code == 0, result.output
    assert "1 unreferenced object(s) deleted" in result.output
    storage = get_storage()
    assert not storage.exists(old)
    assert storage.exists(young) and storage.exists(photo.display_key) and storage.exists(photo.thumb_key)


def test_gc_takes_a_shorter_grace_period_when_asked(app, world):
    young = leftover("photos/cd/cdef01/0123456789abcdef/display.jpg", age_seconds=120)
    assert [item.key for item in collect_garbage(timedelta(minutes=1))] == [young]


# --- a missing file is a logged 404 ---------------------------------------------------------------


def test_a_photo_whose_file_is_gone_is_a_logged_404_not_an_error_page(app, world, caplog):
    photo = committed_photo(world)
    get_storage().delete(photo.display_key)
    browser = login_as(world.a.owner)
    with caplog.at_level(logging.ERROR, logger="merchant_alliance.photos.views"):
        response = browser.get(f"/photos/{photo.id}/display")
    assert response.status_code == 404
    assert f"Photo {photo.id}: stored object {photo.display_key} is missing" in caplog.text
    assert browser.get(f"/photos/{photo.id}/thumb", buffered=True).status_code == 200


# --- backup and restore ----------------------------------------------------------------------------


def snapshot() -> dict:
    """What people would notice if a restore lost anything: the books, the photos and every timeline."""
    db.session.rollback()
    storage = get_storage()
    funds = db.session.scalars(select(Fund).order_by(Fund.id)).all()
    return {
        "balances": {fund.name: fund_services.totals(fund.id) for fund in funds},
        "ledger": db.session.execute(select(LedgerEntry.id, LedgerEntry.amount_fen, LedgerEntry.kind,
                                            LedgerEntry.occurred_on).order_by(LedgerEntry.id)).all(),
        "photos": {photo.id: (photo.original_filename, storage.get(photo.display_key),
                              storage.get(photo.thumb_key))
                   for photo in db.session.scalars(select(Photo).order_by(Photo.id))},
        "timeline": db.session.execute(select(AuditEvent.id, AuditEvent.at, AuditEvent.action, AuditEvent.object_type,
                                              AuditEvent.object_id, AuditEvent.details).order_by(AuditEvent.id)).all(),
        "projects": db.session.execute(select(Project.id, Project.state, Project.title).order_by(Project.id)).all(),
    }


@pytest.fixture
def target_url(backend, tmp_path):
    """An empty database of the same kind as the test's, for the restored instance."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    with private_postgres_database(postgres_url(), f"merchant_restore_{os.getpid()}") as url:
        yield url


@pytest.mark.commits  # the backup reads on a connection of its own, and a second app restores it
def test_a_backup_restores_into_a_fresh_instance_with_the_same_books_photos_and_timelines(
        app, runner, tmp_path, target_url):
    with app.test_request_context("/"):
        load_demo()
    before = snapshot()
    before_streets = db.session.scalars(select(Street.id)).all()
    assert len(before["photos"]) > 3 and len(before["ledger"]) > 300

    result = runner.invoke(args=["backup", str(tmp_path / "backup")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert len(manifest["objects"]) == 2 * len(before["photos"])

    fresh = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=target_url,
                       STORAGE_LOCAL_ROOT=str(tmp_path / "restored-files"))
    with fresh.app_context():
        result = fresh.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
        assert result.exit_code == 0, result.output
        assert snapshot() == before
        assert fresh.test_cli_runner().invoke(args=["doctor"]).exit_code == 0
        # The restored instance carries on: a new row gets a new id (PostgreSQL's sequences were moved on).
        admin = db.session.scalar(select(User).where(User.phone == "13900000000"))
        assert create_street(admin, "新的街道").id == max(before_streets) + 1
        again = fresh.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
        assert again.exit_code != 0 and "not empty" in again.output  # never over live data
        db.session.remove()
        db.engine.dispose()


@pytest.mark.commits  # the backup reads on a connection of its own
def test_a_damaged_backup_is_refused_before_anything_is_written(app, world, runner, tmp_path):
    committed_photo(world)
    assert runner.invoke(args=["backup", str(tmp_path / "backup")]).exit_code == 0
    objects = sorted((tmp_path / "backup" / "objects").rglob("*.jpg"))
    objects[0].write_bytes(b"bit rot")

    fresh = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'restored.sqlite3'}",
                       STORAGE_LOCAL_ROOT=str(tmp_path / "restored-files"))
    with fresh.app_context():
        result = fresh.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
        assert result.exit_code != 0 and "does not match its checksum" in result.output
        assert not Path(tmp_path / "restored-files").exists() or not any(Path(tmp_path / "restored-files").rglob("*"))
        assert not db.inspect(db.engine).get_table_names()
        db.engine.dispose()


@pytest.mark.usefixtures("keep_logging")
@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
def test_a_backup_of_a_migrated_database_restores_at_its_revision_then_migrates_to_the_current_one(tmp_path):
    from flask_migrate import upgrade

    from tests.test_migrations import current_revision, revisions_in_order

    source = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'live.sqlite3'}",
                        STORAGE_LOCAL_ROOT=str(tmp_path / "live-files"))
    with source.app_context():
        upgrade()
        with source.test_request_context("/"):
            load_demo()
        before = snapshot()
        assert source.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup")]).exit_code == 0
        assert json.loads((tmp_path / "backup" / "manifest.json").read_text())["revision"] == revisions_in_order()[-1]
        db.engine.dispose()

    fresh = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'restored.sqlite3'}",
                       STORAGE_LOCAL_ROOT=str(tmp_path / "restored-files"))
    with fresh.app_context():
        result = fresh.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
        assert result.exit_code == 0, result.output
        assert current_revision() == revisions_in_order()[-1]
        assert snapshot() == before
        db.engine.dispose()
