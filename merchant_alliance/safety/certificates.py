"""Certificates: the street office's sign-off on a sign after a passed inspection, and the sign's public status.

A serial number is the street's code, the year and a sequence (ST001-2026-00017), drawn from a counter that only
ever goes up, so a number is never reused, not even after a revocation. Each certificate has an unguessable token:
the QR code on the sign's tag opens the public page by it, which shows nothing private. A newer certificate of the
same sign supersedes the older; a revoked one says so.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.pagecache import alliance_scope
from merchant_alliance.safety import checklists, queries, registry
from merchant_alliance.safety.models import (
    Certificate,
    CertificateSequence,
    Inspection,
    Permit,
    RectificationOrder,
    RectificationState,
)
from merchant_alliance.shops.models import Signboard, SignCondition
from merchant_alliance.timeutil import local_today, utcnow

AUDIT_LABELS = {
    "certificate.issued": _l("issued a safety certificate"),
    "certificate.revoked": _l("revoked a safety certificate"),
}
AUDIT_OBJECTS = {"certificate": _l("Safety certificate")}


def next_serial(street_id: int, code: str, year: int) -> str:
    """The next serial number of the street in that year, counted in the database (two at once get two)."""
    table = CertificateSequence.__table__
    insert = postgres_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(street_id=street_id, year=year, last=1).on_conflict_do_update(
        index_elements=[table.c.street_id, table.c.year], set_={"last": table.c.last + 1}).returning(table.c.last)
    number = db.session.execute(statement, execution_options={"cache_scopes": ()}).scalar_one()
    return f"{code}-{year}-{number:05d}"


def issue(user: User, inspection: Inspection, *, valid_until: date, advisories: Sequence = ()) -> Certificate:
    """The certificate of a passed inspection (in the caller's transaction), valid until the sign's next
    periodic inspection is due (safety.registry); the sign's earlier certificate is superseded."""
    settings = checklists.settings_for(inspection.street_id)
    today = local_today()
    permit = db.session.scalar(select(Permit).where(Permit.project_id == inspection.project_id)) \
        if inspection.project_id else None
    certificate = Certificate(
        serial=next_serial(inspection.street_id, settings.code, today.year), token=secrets.token_urlsafe(24),
        signboard_id=inspection.signboard_id, shop_id=inspection.shop_id, alliance_id=inspection.alliance_id,
        street_id=inspection.street_id, project_id=inspection.project_id, inspection_id=inspection.id,
        inspector_id=user.id, issued_on=today, valid_until=valid_until, next_due_on=valid_until,
        conditions="\n".join(c.text for c in permit.conditions) if permit else "",
        advisories="\n".join(f"{q.code} {q.text_zh}" for q in advisories))
    db.session.add(certificate)
    db.session.flush()
    photo = queries.public_photo(certificate)
    if photo is not None:
        photo.public = True  # the sign as the officer saw it, shown on its public page
    db.session.execute(
        update(Certificate).where(Certificate.signboard_id == inspection.signboard_id, Certificate.id != certificate.id,
                                  Certificate.superseded_by_id.is_(None))
        .values(superseded_by_id=certificate.id)
        .execution_options(cache_scopes=[alliance_scope(inspection.alliance_id)]))  # loaded ones updated too
    audit.record(user, "certificate.issued", certificate, alliance_id=certificate.alliance_id,
                 street_id=certificate.street_id, serial=certificate.serial, project=inspection.project_id)
    return certificate


def revoke(user: User, certificate: Certificate, reason: str) -> None:
    """Withdraw a certificate (the sign was found unsafe, or issued in error); its tag then says so. Committed."""
    if not authz.can(user, "revoke", certificate):
        raise NotAllowed()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_l("Please give a reason."))
    revoked = db.session.execute(
        update(Certificate).where(Certificate.id == certificate.id, Certificate.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason[:2000])
        .execution_options(synchronize_session=False)).rowcount
    if revoked != 1:
        db.session.rollback()
        raise DomainError(_l("This certificate has already been revoked."))
    db.session.expire(certificate)
    if certificate.superseded_by_id is None:
        registry.due_now(certificate.signboard)  # the sign must be inspected again
    audit.record(user, "certificate.revoked", certificate, alliance_id=certificate.alliance_id,
                 street_id=certificate.street_id, reason=reason[:2000])
    db.session.commit()


def released(project_id: int) -> bool:
    """Whether the street office has signed the project's sign off (a valid certificate from its inspection):
    what the works domain asks before releasing the retention held from the contractor."""
    return db.session.scalar(select(Certificate.id).where(
        Certificate.project_id == project_id, Certificate.revoked_at.is_(None)).limit(1)) is not None


# --- the sign's public status -------------------------------------------------------------------------


class Status(enum.StrEnum):
    SAFE = "safe"
    RECTIFICATION_DUE = "rectification_due"
    OVERDUE = "overdue"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"
    REMOVED = "removed"

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])


STATUS_LABELS = {
    Status.SAFE: _l("Safe"),
    Status.RECTIFICATION_DUE: _l("Rectification due"),
    Status.OVERDUE: _l("Overdue"),
    Status.REVOKED: _l("Certificate revoked"),
    Status.SUPERSEDED: _l("Replaced by a newer certificate"),
    Status.REMOVED: _l("Sign removed"),
}


@dataclass(frozen=True)
class PublicStatus:
    """What the public tag page shows about a sign: nothing private."""

    certificate: Certificate
    status: Status
    current: Certificate  # the sign's newest certificate (this one, unless superseded)
    rectify_by: date | None  # the open rectification order's deadline


def public_status(token: str) -> PublicStatus | None:
    """The status of the sign whose tag carries `token`; None for a token no certificate has."""
    if not token or len(token) > 64:
        return None
    certificate = db.session.scalar(select(Certificate).where(Certificate.token == token))
    if certificate is None:
        return None
    current = certificate
    while current.superseded_by_id is not None:
        current = db.session.get(Certificate, current.superseded_by_id)
    order = db.session.scalar(select(RectificationOrder).where(
        RectificationOrder.signboard_id == certificate.signboard_id,
        RectificationOrder.state != RectificationState.CLOSED).order_by(RectificationOrder.id.desc()).limit(1))
    today = local_today()
    if certificate.signboard.condition == SignCondition.REMOVED:
        status = Status.REMOVED
    elif certificate.revoked_at is not None:
        status = Status.REVOKED
    elif certificate is not current:
        status = Status.SUPERSEDED
    elif (order is not None and order.deadline < today) or current.next_due_on < today:
        status = Status.OVERDUE
    elif order is not None:
        status = Status.RECTIFICATION_DUE
    else:
        status = Status.SAFE
    return PublicStatus(certificate, status, current, order.deadline if order is not None else None)


def current_certificate(signboard: Signboard) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(
        Certificate.signboard_id == signboard.id, Certificate.superseded_by_id.is_(None),
        Certificate.revoked_at.is_(None)).order_by(Certificate.id.desc()).limit(1))
