"""Saving one checklist answer with a 12 MP photo, against the safety issue's figure: within the photo pipeline's
(at most 1.5 × a plain decode of the same file) plus one small write.

Builds a small database of its own (SQLite in a temporary directory; PostgreSQL with --postgres) through the app's
models and services: a street, an alliance, a shop, its owner and the street's officer, a lit projecting sign (so
that all sixteen items apply) and an open periodic inspection (`inspections.start_for_sign`). Then it times --runs
calls of `inspections.save_answer` with one phone-like 12 MP JPEG (bench/photo_ingest.py's `phone_jpeg`: 4000×3000,
EXIF orientation 6 and GPS), each paired with a plain full decode of the same bytes just before it. Every run sends
a file of its own (the same picture, its EXIF time changed, so its hash differs) in a fresh FileStorage, as a new
request would, with the officer and the inspection loaded afresh as the view loads them. The runs answer the items
in turn (a first answer each); past the sixteenth the officer changes answers, naming the revision they saw, so
that every save really writes. Two warm-up saves (a first answer and a change) come first.

Where a save's time goes is read inside the call: `prepare_photos` is wrapped in place in the inspections module
(the app's code is not changed) and a session `after_commit` listener marks the commit. "The write" is everything
from the moment prepare_photos returns to the commit: holding the inspection's row, the answer, the photo files
(written and fsynced) and their rows, the commit. The statements it sends are counted and named.

    PYTHONPATH=. .venv/bin/python bench/answer_photo.py [--runs 15] [--postgres [URL]] [--no-check] [--create-all]

The verdict: (save − write) ≤ 1.5 × plain decode, the median of the per-run ratios in CPU time of this pinned
process, as bench/photo_ingest.py holds the photo pipeline (wall time on a shared machine also counts the waits for
the core; wall figures are shown beside); and the write's median wall time is small: ≤ 25 ms on SQLite, ≤ 40 ms on
PostgreSQL. The exit status is 1 when one is missed or a save did not write (--no-check: 0). The schema is built by
the migrations, as in production (--create-all: db.create_all(), for models not migrated yet).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from PIL import Image  # noqa: E402
from sqlalchemy import event, select  # noqa: E402
from werkzeug.datastructures import FileStorage  # noqa: E402

from bench.common import database, postgres_url  # noqa: E402
from bench.photo_ingest import phone_jpeg, plain_decode  # noqa: E402
from config import DevelopmentConfig  # noqa: E402
from merchant_alliance import create_app  # noqa: E402
from merchant_alliance.accounts.models import Alliance, Role, Street, User  # noqa: E402
from merchant_alliance.accounts.services import grant_role, hash_password  # noqa: E402
from merchant_alliance.extensions import db  # noqa: E402
from merchant_alliance.safety import inspections  # noqa: E402
from merchant_alliance.safety.models import Inspection, InspectionAnswer, Outcome  # noqa: E402
from merchant_alliance.shops.models import Shop, SignCondition, SignType  # noqa: E402
from merchant_alliance.shops.services import register_signboard  # noqa: E402
from merchant_alliance.storage.backends import get_storage  # noqa: E402

TARGET_RATIO = 1.5  # (save − write) ≤ 1.5 × plain decode: the photo pipeline's figure
TARGET_WRITE_MS = {"sqlite": 25.0, "postgresql": 40.0}  # "one small write", median wall time
WARM_UP = 2  # a first answer, then a change of it: both ways through the save
TAKEN_AT = b"2026:03:14 09:26:53"  # phone_jpeg's EXIF DateTimeOriginal, rewritten per run
PASSWORD = "Answer-Bench-9"  # noqa: S105 - the bench's own throwaway users
SIGNBOARD = {"position": "正门上方", "sign_type": SignType.PROJECTING, "width_m": Decimal("1.20"),
             "height_m": Decimal("0.80"), "projection_m": Decimal("1.00"), "clearance_m": Decimal("3.20"),
             "material": "铝板灯箱", "illuminated": True, "install_year": 2012, "condition": SignCondition.WORN}


def fresh_photo(picture: bytes, n: int) -> bytes:
    """The same picture as another file: its EXIF time moved by n seconds (same length, another hash)."""
    stamp = f"2026:03:14 {10 + n // 3600 % 14:02d}:{n // 60 % 60:02d}:{n % 60:02d}".encode()
    photo = picture.replace(TAKEN_AT, stamp, 1)
    if photo == picture:
        raise SystemExit("phone_jpeg's EXIF time was not found: update TAKEN_AT")
    return photo


# --- the world ----------------------------------------------------------------------------------------


def build() -> tuple[int, int]:
    """The street's officer and an open periodic inspection of a lit projecting sign; their ids. Committed."""
    password_hash = hash_password(PASSWORD)
    street = Street(name="答题基准街道", district="静安区")
    alliance = Alliance(street=street, name="愚园路商家联盟(基准)", road="愚园路")
    shop = Shop(alliance=alliance, name="基准小店", house_number="101", facade_width_m=Decimal("6.50"),
                business_type="零售", contact_phone="13900000001")
    officer = User(name="安全员", phone="13700000001", email="officer-answer-bench@example.com",
                   password_hash=password_hash)
    owner = User(name="店主", phone="13700000002", email="owner-answer-bench@example.com",
                 password_hash=password_hash)
    db.session.add_all([street, alliance, shop, officer, owner])
    db.session.flush()
    grant_role(officer, Role.STREET_OFFICER, street=street)
    grant_role(owner, Role.SHOP_OWNER, shop=shop)
    db.session.commit()
    signboard = register_signboard(owner, shop, dict(SIGNBOARD))  # committed
    inspection = inspections.start_for_sign(officer, signboard)  # committed
    return officer.id, inspection.id


# --- where the time goes ------------------------------------------------------------------------------


@dataclass
class Marks:
    """Moments inside one save (wall, CPU); the statements sent during it (start, wall seconds, statement) and the
    files stored (wall seconds each)."""

    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    statements: list[tuple[float, float, str]] = field(default_factory=list)
    files: list[float] = field(default_factory=list)
    _sent: tuple[float, str] = (0.0, "")

    def mark(self, name: str) -> None:
        self.points[name] = (time.perf_counter(), time.process_time())

    def reset(self) -> None:
        self.points, self.statements, self.files = {}, [], []

    def sending(self, conn, cursor, statement, *rest) -> None:
        self._sent = time.perf_counter(), statement

    def sent(self, *args) -> None:
        started, statement = self._sent
        self.statements.append((started, time.perf_counter() - started, statement))


def instrument(marks: Marks) -> None:
    """Mark prepare_photos' start and return, the commit's start and end; time every statement the engine sends
    and every file the storage stores. Wrappers in place, for this process only: the app's code is unchanged."""
    prepare_photos = inspections.prepare_photos

    def timed_prepare_photos(uploads):
        marks.mark("photos")
        try:
            return prepare_photos(uploads)
        finally:
            marks.mark("write")

    inspections.prepare_photos = timed_prepare_photos  # save_answer calls it by this module's name
    event.listen(db.engine, "commit", lambda conn: marks.mark("commit"))  # the outer COMMIT (the last one counts)
    event.listen(db.session, "after_commit", lambda session: marks.mark("committed"))
    event.listen(db.engine, "before_cursor_execute", marks.sending)
    event.listen(db.engine, "after_cursor_execute", marks.sent)
    storage = get_storage()
    put = storage.put

    def timed_put(key: str, data: bytes, content_type: str) -> bool:
        started = time.perf_counter()
        try:
            return put(key, data, content_type)
        finally:
            marks.files.append(time.perf_counter() - started)

    storage.put = timed_put


def statement_name(statement: str) -> str:
    """"UPDATE inspections", "INSERT photos", "SAVEPOINT", …: what a statement does, and to which table."""
    words = statement.split()
    verb = words[0].upper() if words else "?"
    table = {"INSERT": r"\bINTO\s+(\S+)", "UPDATE": r"^UPDATE\s+(\S+)", "DELETE": r"\bFROM\s+(\S+)",
             "SELECT": r"\bFROM\s+(\S+)"}.get(verb)
    found = re.search(table, statement, re.IGNORECASE) if table else None
    return f"{verb} {found.group(1).strip(chr(34) + ',(')}" if found else verb


@dataclass
class Run:
    """One timed save and the plain decode before it: seconds, as (wall, CPU)."""

    decode: tuple[float, float]
    save: tuple[float, float]
    checks: tuple[float, float]  # the permission, the outcome, the checklist: before prepare_photos
    photos: tuple[float, float]  # prepare_photos
    write: tuple[float, float]  # prepare_photos' return → the commit
    after: tuple[float, float]  # the commit → save_answer's return
    statements: list[str]  # sent during the write
    sql: float  # wall seconds in those statements
    commit: float  # wall seconds of the COMMIT
    files: list[float]  # wall seconds storing each file
    first: bool  # a first answer (else a change of one)


def between(marks: Marks, start: str, end: str) -> tuple[float, float]:
    (wall_start, cpu_start), (wall_end, cpu_end) = marks.points[start], marks.points[end]
    return wall_end - wall_start, cpu_end - cpu_start


def measure(officer_id: int, inspection_id: int, picture: bytes, runs: int) -> tuple[list[Run], list[str]]:
    """Time WARM_UP + runs saves, each after a plain decode of its file; check that every save wrote."""
    marks = Marks()
    instrument(marks)
    inspection = db.session.get(Inspection, inspection_id)
    codes = [question.code for question in inspections.questions(inspection)]
    revisions: Counter[str] = Counter()  # the revision each item's answer is at (0: not answered)
    timed: list[Run] = []
    for n in range(WARM_UP + runs):
        code = codes[(n - WARM_UP) % len(codes)] if n >= WARM_UP else codes[-1]  # the warm-ups: the last item
        photo = fresh_photo(picture, n)
        db.session.remove()  # a request of its own: the officer and the inspection loaded as the view does
        officer, inspection = db.session.get(User, officer_id), db.session.get(Inspection, inspection_id)
        upload = FileStorage(io.BytesIO(photo), filename=f"IMG_20260314_{n:06d}.jpg", content_type="image/jpeg")

        wall_started, cpu_started = time.perf_counter(), time.process_time()
        plain_decode(photo)
        decode = time.perf_counter() - wall_started, time.process_time() - cpu_started

        marks.reset()
        marks.mark("start")
        answer = inspections.save_answer(officer, inspection, code, Outcome.FAIL if n % 4 == 3 else Outcome.PASS,
                                         f"第{n}次保存", [upload], seen_revision=revisions[code])
        marks.mark("end")
        first = revisions[code] == 0
        revisions[code] = answer.revision
        if n < WARM_UP:
            continue
        if "committed" not in marks.points:
            raise SystemExit(f"save {n} did not commit")
        write_started, committed = marks.points["write"][0], marks.points["committed"][0]
        in_write = [(took, s) for at, took, s in marks.statements if write_started <= at <= committed]
        timed.append(Run(
            decode=decode, save=between(marks, "start", "end"), checks=between(marks, "start", "photos"),
            photos=between(marks, "photos", "write"), write=between(marks, "write", "committed"),
            after=between(marks, "committed", "end"),
            statements=[statement_name(s) for _, s in in_write], sql=sum(took for took, _ in in_write),
            commit=between(marks, "commit", "committed")[0], files=marks.files, first=first))
    db.session.remove()
    return timed, wrote_everything(inspection_id, revisions, WARM_UP + runs)


def wrote_everything(inspection_id: int, revisions: Counter[str], saves: int) -> list[str]:
    """What is wrong in the database after the saves: each item's answer at the revision expected, with one photo
    per save of it (their files stored)."""
    errors = []
    answers = {a.code: a for a in db.session.scalars(
        select(InspectionAnswer).where(InspectionAnswer.inspection_id == inspection_id))}
    if set(answers) != {code for code, revision in revisions.items() if revision}:
        errors.append(f"answers saved for {sorted(answers)}, expected {sorted(revisions)}")
    storage = get_storage()
    photos = 0
    for code, answer in answers.items():
        if answer.revision != revisions[code]:
            errors.append(f"{code}: revision {answer.revision}, expected {revisions[code]}")
        if len(answer.photos) != answer.revision:
            errors.append(f"{code}: {len(answer.photos)} photos after {answer.revision} saves")
        photos += len(answer.photos)
        missing = [p.display_key for p in answer.photos if not storage.exists(p.display_key)]
        errors += [f"{code}: no stored file {key}" for key in missing]
    if photos != saves:
        errors.append(f"{photos} photos on the answers after {saves} saves")
    return errors


# --- the report ---------------------------------------------------------------------------------------


def median_ms(values: list[tuple[float, float]], clock: int) -> float:
    return statistics.median(value[clock] for value in values) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed saves (default 15: a first answer each)")
    parser.add_argument("--postgres", nargs="?", const="", default=None, metavar="URL",
                        help="run on PostgreSQL (default URL: TEST_POSTGRES_URL)")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even when a target is missed")
    parser.add_argument("--create-all", action="store_true",
                        help="build the schema with db.create_all() instead of the migrations")
    args = parser.parse_args()
    postgres = postgres_url(args.postgres) if args.postgres is not None else None

    pinned = "no"
    if hasattr(os, "sched_setaffinity"):  # as bench/photo_ingest.py: one core (the database server is not pinned)
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        pinned = f"core {min(os.sched_getaffinity(0))}"
    picture = phone_jpeg()
    with Image.open(io.BytesIO(picture)) as probe:
        size = probe.size

    with tempfile.TemporaryDirectory(prefix="answer-photo-") as workdir, \
            database(postgres, "answer_photo", Path(workdir)) as url:
        app = create_app(DevelopmentConfig, SQLALCHEMY_DATABASE_URI=url, STORAGE_BACKEND="local",
                         STORAGE_LOCAL_ROOT=str(Path(workdir) / "files"), MAIL_BACKEND="memory",
                         OUTBOX_THREAD=False)  # no mail thread's work in the timings
        with app.app_context():
            if args.create_all:
                db.create_all()
            else:
                upgrade()
            dialect = db.engine.dialect.name
            officer_id, inspection_id = build()
            db.session.remove()
            runs, errors = measure(officer_id, inspection_id, picture, args.runs)
            db.session.remove()
            db.engine.dispose()

    backend = ("PostgreSQL" if dialect == "postgresql" else "SQLite") + \
        (" (db.create_all)" if args.create_all else " (migrations)")
    firsts = sum(run.first for run in runs)
    print(f"Saving one checklist answer with a 12 MP photo (inspections.save_answer) on {backend}.")
    print(f"  photo: {size[0]}×{size[1]} JPEG, {len(picture) / 1e6:.1f} MB, EXIF orientation 6 + GPS "
          f"(photo_ingest.phone_jpeg), a file of its own each run; {len(runs)} timed saves after {WARM_UP} warm-up "
          f"ones ({firsts} first answers, {len(runs) - firsts} changed), each paired with a plain decode of its "
          f"file just before it; pinned: {pinned}; photos stored on local disk (fsynced)")
    print("                                             wall        CPU   (medians)")
    rows = [("plain full decode (the floor)", [r.decode for r in runs]),
            ("save_answer, whole", [r.save for r in runs]),
            ("  checks and the checklist", [r.checks for r in runs]),
            ("  prepare_photos", [r.photos for r in runs]),
            ("  the write: prepare_photos → commit", [r.write for r in runs]),
            ("  after the commit", [r.after for r in runs]),
            ("save − write", [(r.save[0] - r.write[0], r.save[1] - r.write[1]) for r in runs])]
    files = statistics.median(sum(r.files) for r in runs) * 1000
    sql, commit = (statistics.median(getattr(r, name) for r in runs) * 1000 for name in ("sql", "commit"))
    python = statistics.median(r.write[0] - sum(r.files) - r.sql - r.commit for r in runs) * 1000
    for label, values in rows:
        print(f"  {label:<38}{median_ms(values, 0):>8.1f} ms{median_ms(values, 1):>8.1f} ms")
        if label.startswith("  the write"):
            print(f"      of which {statistics.median(len(r.files) for r in runs):.0f} files stored {files:.1f} ms, "
                  f"the statements {sql:.1f} ms, the COMMIT {commit:.1f} ms, Python {python:.1f} ms (wall)")
    # Each save against the decode just before it: slow drifts of the machine cancel out.
    ratio = [statistics.median(r.save[c] / r.decode[c] for r in runs) for c in (0, 1)]
    rest = [statistics.median((r.save[c] - r.write[c]) / r.decode[c] for r in runs) for c in (0, 1)]
    print(f"  {'ratio save / plain decode, paired':<38}{ratio[0]:>8.2f} × {ratio[1]:>8.2f} ×")
    print(f"  {'ratio (save − write) / plain, paired':<38}{rest[0]:>8.2f} × {rest[1]:>8.2f} ×")
    shapes = Counter(" · ".join(run.statements) for run in runs)
    for shape, count in shapes.most_common():
        print(f"  the write's statements ({count} of {len(runs)} saves, {len(shape.split(' · '))}): {shape}")

    write_ms = median_ms([r.write for r in runs], 0)
    limit = TARGET_WRITE_MS[dialect]
    ratio_ok, write_ok = rest[1] <= TARGET_RATIO, write_ms <= limit
    print(f"  target: (save − write) ≤ {TARGET_RATIO} × plain decode (CPU, paired median): {rest[1]:.2f} × "
          f"{'ok' if ratio_ok else 'MISSED'} (wall: {rest[0]:.2f} ×)")
    others = ", ".join(f"{'PostgreSQL' if d == 'postgresql' else 'SQLite'} ≤ {ms:.0f} ms"
                       for d, ms in TARGET_WRITE_MS.items() if d != dialect)
    print(f"  target: the write small, median ≤ {limit:.0f} ms here (wall; {others}): {write_ms:.1f} ms "
          f"{'ok' if write_ok else 'MISSED'}")
    for error in errors:
        print(f"  WRONG: {error}")
    failed = not ratio_ok or not write_ok or bool(errors)
    return 1 if failed and not args.no_check else 0


if __name__ == "__main__":
    sys.exit(main())
