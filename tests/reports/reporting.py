"""Helpers for the hazard report page tests: a sign on a shop, the report form as a passer-by fills it in, an
inspection finished either way, and a snapshot of everything a refused report must leave as it was."""

from __future__ import annotations

import io
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from merchant_alliance.extensions import db
from merchant_alliance.photos.models import Photo
from merchant_alliance.reports import services
from merchant_alliance.reports.models import HazardReport, ReportEntry, report_photos
from merchant_alliance.safety import inspections
from merchant_alliance.safety.models import Inspection, Outcome, Severity
from merchant_alliance.shops.models import Signboard, SignCondition, SignType
from merchant_alliance.shops.services import register_signboard

_colours = itertools.count(1)


def jpeg_bytes() -> bytes:
    """A small real JPEG whose bytes no other call returns."""
    n = next(_colours)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def photo_file(data: bytes | None = None, name: str = "sign.jpg") -> tuple[io.BytesIO, str]:
    """A photo as a browser posts it in a multipart form."""
    return io.BytesIO(jpeg_bytes() if data is None else data), name


def upload(data: bytes | None = None, name: str = "sign.jpg") -> FileStorage:
    """A photo as a service receives it."""
    return FileStorage(stream=io.BytesIO(jpeg_bytes() if data is None else data), filename=name,
                       content_type="image/jpeg")


def sign_on(side, position: str = "正门上方") -> Signboard:
    """A sign registered on the side's shop."""
    return register_signboard(side.owner, side.shop, {
        "position": position, "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("3.00"),
        "height_m": Decimal("0.80"), "projection_m": Decimal("0.30"), "clearance_m": Decimal("2.80"),
        "material": "铁皮", "illuminated": False, "install_year": 2009, "condition": SignCondition.WORN})


def form(side, **changes: Any) -> dict[str, Any]:
    """The street's report form as a passer-by fills it in: a photo, a kind, the side's shop, what they saw."""
    data = {"photos": [photo_file()], "service": "loose", "shop": str(side.shop.id), "road": str(side.alliance.id),
            "house_number": "", "description": "招牌一角松动，风一吹就晃", "reporter_name": "", "reporter_contact": ""}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def post_report(client, side, **changes: Any):
    return client.post(f"/streets/{side.street.id}/report", data=form(side, **changes),
                       content_type="multipart/form-data")


def report(side, *, signboard: Signboard | None = None, client: str = "", **changes: Any) -> ReportEntry:
    """A report received through the service (a photo, the side's shop or the given sign)."""
    values: dict[str, Any] = {"alliance_id": side.alliance.id, "service": "loose", "description": "招牌松动",
                              "photos": [upload()], "shop_id": None if signboard else side.shop.id,
                              "signboard_id": signboard.id if signboard else None, "client": client}
    values.update(changes)
    return services.submit(side.street, **values)


def finish_inspection(officer, inspection: Inspection, *, passed: bool = True) -> None:
    """Answer every item (a critical one fails unless `passed`) and finish the inspection."""
    asked = inspections.questions(inspection)
    failing = None if passed else next(q.code for q in asked if q.severity == Severity.CRITICAL)
    for question in asked:
        outcome = Outcome.FAIL if question.code == failing else Outcome.PASS
        photos = [upload()] if question.photo_required or outcome == Outcome.FAIL else []
        inspections.save_answer(officer, inspection, question.code, outcome, "现场检查", photos)
    inspections.finish(officer, inspection)


def open_reports_of(signboard_id: int) -> tuple[int, int]:
    """The sign's kept count of open reports, and the real count."""
    db.session.expire_all()
    kept = db.session.scalar(select(Signboard.open_reports).where(Signboard.id == signboard_id))
    real = db.session.scalar(select(func.count()).select_from(HazardReport).where(
        HazardReport.signboard_id == signboard_id, HazardReport.state.in_(["new", "accepted", "inspecting"])))
    return kept, real


def stored_files(app) -> set[str]:
    root = Path(app.config["STORAGE_LOCAL_ROOT"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def written(app) -> dict[str, Any]:
    """Everything a refused report must leave as it was."""
    db.session.rollback()
    count = lambda table: db.session.scalar(select(func.count()).select_from(table))  # noqa: E731
    return {"reports": count(HazardReport), "entries": count(ReportEntry), "photos": count(Photo),
            "report_photos": count(report_photos), "files": stored_files(app)}
