"""Helpers for the proposal and signboard tests: designs that keep the guidelines, real photos made with
Pillow, and a snapshot of everything a refused action must leave as it was."""

from __future__ import annotations

import html
import io
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select, update
from werkzeug.datastructures import FileStorage

from merchant_alliance.accounts.models import User
from merchant_alliance.audit import AuditEvent
from merchant_alliance.extensions import db
from merchant_alliance.notifications.models import Notification
from merchant_alliance.photos.models import Photo
from merchant_alliance.projects import services
from merchant_alliance.projects.models import Comment, DesignVersion, Project, ProjectState, design_version_photos
from merchant_alliance.shops.models import Signboard, SignCondition, SignType, signboard_photos

# A design that keeps every default guideline on a 6.50 m facade (at most 5.85 m wide, 1.20 m high, …).
DESIGN: dict[str, Any] = {
    "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("5.00"), "height_m": Decimal("0.90"),
    "projection_m": Decimal("0.30"), "clearance_m": Decimal("2.80"), "materials": "铝板烤漆，镀锌钢骨架",
    "illuminated": False, "lighting": "", "fixing_method": "M12化学锚栓", "estimated_cost_fen": 1_200_000,
    "notes": "",
}
SIGNBOARD: dict[str, Any] = {
    "position": "正门上方", "sign_type": SignType.WALL_PARALLEL, "width_m": Decimal("5.20"),
    "height_m": Decimal("1.00"), "projection_m": Decimal("0.40"), "clearance_m": Decimal("2.60"),
    "material": "铁皮喷绘", "illuminated": False, "install_year": 2009, "condition": SignCondition.WORN,
}

_colours = itertools.count(1)


def fresh_jpeg() -> bytes:
    """A small real JPEG whose bytes no other call returns (photos are stored by content)."""
    n = next(_colours)
    image = Image.new("RGB", (64, 48), ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256))
    image.paste((n % 256, 255 - n % 256, 128), (0, 0, 32, 24 + n % 24))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def upload(data: bytes | None = None, filename: str = "photo.jpg") -> FileStorage:
    return FileStorage(stream=io.BytesIO(fresh_jpeg() if data is None else data), filename=filename,
                       content_type="image/jpeg")


def text_of(response) -> str:
    """The page's text with HTML entities decoded, so messages with quotes read as written."""
    return html.unescape(response.get_data(as_text=True))


def stored_files(app) -> set[str]:
    root = Path(app.config["STORAGE_LOCAL_ROOT"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def count(model_or_table) -> int:
    return db.session.scalar(select(func.count()).select_from(model_or_table))


def written(app) -> dict[str, Any]:
    """Everything a refused action must leave as it was: rows of every kind, and the stored files."""
    db.session.rollback()
    return {
        "projects": db.session.execute(select(Project.id, Project.state, Project.title).order_by(Project.id)).all(),
        "versions": count(DesignVersion), "version_photos": count(design_version_photos),
        "signboards": db.session.execute(select(
            Signboard.id, Signboard.position, Signboard.sign_type, Signboard.width_m, Signboard.height_m,
            Signboard.projection_m, Signboard.clearance_m, Signboard.material, Signboard.condition,
        ).order_by(Signboard.id)).all(),
        "signboard_photos": count(signboard_photos),
        "photos": count(Photo), "comments": count(Comment), "events": count(AuditEvent),
        "notifications": count(Notification), "files": stored_files(app),
    }


def state_of(project: Project) -> ProjectState:
    return db.session.scalar(select(Project.state).where(Project.id == project.id))


def put_in_state(project: Project, state: ProjectState) -> None:
    """Set the state directly (most later states have no transition into them yet), in the session's
    transaction: the next action sees it, and the objects already loaded stay loaded."""
    db.session.execute(update(Project).where(Project.id == project.id).values(state=state)
                       .execution_options(synchronize_session=False))
    db.session.expire(project, ["state"])


def add_version(project: Project, *, by: User, mockup: bool = True, current: bool = True,
                **design: Any) -> DesignVersion:
    return services.add_design_version(
        by, project, DESIGN | design,
        mockups=[upload(filename="设计稿.jpg")] if mockup else [],
        current=[upload(filename="现状.jpg")] if current else [],
    )
