"""`flask backup` and `flask restore`: the database and the photo objects, with a checksum manifest.

A backup is a folder:

    manifest.json        format, schema revision, when, and a SHA-256 for every file below
    database/<table>.jsonl   one JSON object per row, table by table
    objects/<key>        every stored object a row of the dump names

Order matters so that no row ever points at a file that is not there:
- backup reads the whole database in one snapshot first, then copies the objects its rows name
  (objects are written before their rows commit and never deleted while a row names them);
- restore checks every checksum before it writes anything, puts the objects into the store first, and
  only then loads the rows, in one transaction, into an empty database at the backup's schema revision
  (then migrates it to the current one).

The dump is plain rows, not a database-specific dump, so a backup taken on PostgreSQL restores into
SQLite and the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy import types as sqltypes

from merchant_alliance.extensions import db
from merchant_alliance.photos.upkeep import referenced_keys
from merchant_alliance.storage.backends import StorageError, get_storage

FORMAT = 1
MANIFEST = "manifest.json"
BATCH = 1000


class BackupError(Exception):
    """The backup cannot be made or restored; the message says why. Nothing was written to the target."""


@dataclass
class Summary:
    tables: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    object_bytes: int = 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _decoder(column_type: sqltypes.TypeEngine):
    """How to turn a dumped value back into what the column takes."""
    if isinstance(column_type, sqltypes.Enum) and column_type.enum_class is not None:
        return column_type.enum_class
    if isinstance(column_type, sqltypes.DateTime):
        return datetime.fromisoformat
    if isinstance(column_type, sqltypes.Date):
        return date.fromisoformat
    if isinstance(column_type, sqltypes.Numeric) and not isinstance(column_type, sqltypes.Float):
        return Decimal if column_type.asdecimal else None
    if isinstance(column_type, sqltypes.LargeBinary):
        return base64.b64decode
    return None


def _tables() -> list[Table]:
    return list(db.metadata.sorted_tables)  # parents before children


def _revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# --- backup ----------------------------------------------------------------------------------------


def make_backup(target: Path) -> Summary:
    """Write a backup of the database and its photo objects into the new folder `target`."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty; choose a new folder")
    (target / "database").mkdir(parents=True, exist_ok=True)
    summary = Summary()
    files: dict[str, str] = {}
    revision = _revision()

    session = db.session
    session.rollback()
    if db.engine.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        session.execute(text("SELECT 1"))  # SQLite: one read transaction is one snapshot
    try:
        for table in _tables():
            path = target / "database" / f"{table.name}.jsonl"
            count = 0
            with path.open("w", encoding="utf-8") as out:
                order = [column for column in table.primary_key.columns] or list(table.columns)
                result = session.execute(select(table).order_by(*order).execution_options(yield_per=BATCH))
                for row in result.mappings():
                    out.write(json.dumps({key: _encode(value) for key, value in row.items()},
                                         ensure_ascii=False, separators=(",", ":")) + "\n")
                    count += 1
            summary.tables[table.name] = count
            files[f"database/{table.name}.jsonl"] = _sha256(path)
        keys = sorted(referenced_keys())  # in the same snapshot as the rows
    finally:
        session.rollback()

    storage = get_storage()
    objects = []
    for key in keys:
        try:
            data = storage.get(key)
        except StorageError as error:
            raise BackupError(f"a row names {key}, which cannot be read: {error}") from error
        path = target / "objects" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        objects.append({"key": key, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        summary.objects += 1
        summary.object_bytes += len(data)

    manifest = {
        "format": FORMAT, "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "revision": revision, "database": db.engine.dialect.name,
        "tables": summary.tables, "files": files, "objects": objects,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


# --- restore ---------------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    """The backup's manifest, after checking that every file it lists is present and unchanged."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupError(f"{source} has no readable {MANIFEST}: {error}") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    for name, digest in manifest["files"].items():
        path = source / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{name} is missing or does not match its checksum")
    for item in manifest["objects"]:
        path = source / "objects" / item["key"]
        if not path.is_file() or _sha256(path) != item["sha256"]:
            raise BackupError(f"object {item['key']} is missing or does not match its checksum")
    known = {table.name for table in _tables()}
    unknown = set(manifest["tables"]) - known
    if unknown:
        raise BackupError(f"the backup has tables this version does not know: {', '.join(sorted(unknown))}")
    return manifest


def _rows(path: Path, table: Table) -> Iterator[dict[str, Any]]:
    decoders = {column.name: _decoder(column.type) for column in table.columns}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            yield {key: (decoders[key](value) if value is not None and decoders.get(key) else value)
                   for key, value in row.items() if key in decoders}


def _database_is_empty() -> bool:
    inspector = db.inspect(db.engine)
    for table in _tables():
        if inspector.has_table(table.name) and db.session.scalar(select(func.count()).select_from(table)):
            return False
    return True


def restore_backup(source: Path) -> Summary:
    """Restore a backup into this app's (empty) database and store; the schema ends at the current head."""
    source = Path(source)
    manifest = read_manifest(source)
    if not _database_is_empty():
        raise BackupError("the database is not empty; restore into a new database")
    db.session.rollback()
    if manifest["revision"]:
        upgrade(revision=manifest["revision"])
    else:
        db.create_all()

    summary = Summary()
    storage = get_storage()
    for item in manifest["objects"]:  # files first: every row loaded below finds its file
        data = (source / "objects" / item["key"]).read_bytes()
        if storage.put(item["key"], data, "image/jpeg" if item["key"].endswith(".jpg") else
                       "application/octet-stream"):
            summary.objects += 1
            summary.object_bytes += len(data)

    try:
        for table in _tables():
            if table.name not in manifest["tables"]:
                continue
            batch: list[dict[str, Any]] = []
            for row in _rows(source / "database" / f"{table.name}.jsonl", table):
                batch.append(row)
                if len(batch) >= BATCH:
                    db.session.execute(insert(table), batch)
                    batch = []
            if batch:
                db.session.execute(insert(table), batch)
            summary.tables[table.name] = manifest["tables"][table.name]
        if db.engine.dialect.name == "postgresql":
            _reset_sequences()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    if manifest["revision"]:
        upgrade()
    return summary


def _reset_sequences() -> None:
    """After inserting explicit ids, PostgreSQL's sequences must continue after the largest one."""
    for table in _tables():
        for column in table.primary_key.columns:
            if isinstance(column.type, sqltypes.Integer) and column.autoincrement in (True, "auto"):
                db.session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "  # noqa: S608
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"
                ))
