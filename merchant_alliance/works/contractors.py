"""The alliance's register of contractors, the people who log in for each, and the alliance's rules for works."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Alliance, Membership, Role, User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.once import submit_once
from merchant_alliance.works.models import Acceptor, Contractor, ContractorKind, WorksSettings, contractor_users
from merchant_alliance.works.permissions import forget_acceptor_rule, forget_contractors

AUDIT_LABELS = {
    "contractor.created": _l("added a contractor"),
    "contractor.updated": _l("changed a contractor's details"),
    "contractor.deactivated": _l("deactivated a contractor"),
    "contractor.reactivated": _l("reactivated a contractor"),
    "contractor.person_added": _l("gave a person a contractor's login"),
    "contractor.person_removed": _l("took a person off a contractor"),
    "works.settings_changed": _l("changed the rules for works"),
}
AUDIT_OBJECTS = {"contractor": _l("Contractor"), "workssettings": _l("Rules for works")}

FIELDS = ("name", "kinds", "licence_number", "contact_name", "contact_phone", "insurance_expires_on", "notes")
MAX_RETENTION = Decimal(3)  # 质保金 may not exceed 3% of the contract's value (住建部《建设工程质量保证金管理办法》)
NAME_TAKEN = _l("The alliance already has a contractor of that name.")


def settings_for(alliance_id: int) -> WorksSettings:
    """The alliance's rules for works (the defaults until a lead changes them; never written by a read)."""
    return db.session.get(WorksSettings, alliance_id) or WorksSettings(
        alliance_id=alliance_id, retention_percent=Decimal(3), warranty_days=365, accepted_by=Acceptor.LEAD)


def update_settings(actor: User, alliance: Alliance, *, retention_percent: Decimal, warranty_days: int,
                    accepted_by: Acceptor) -> WorksSettings:
    if not authz.can(actor, "manage_contractors", alliance):
        raise NotAllowed()
    if not (Decimal(0) <= retention_percent <= MAX_RETENTION):
        raise DomainError(_l("The retention is between 0%% and %(max)s%%.", max=MAX_RETENTION)).on("retention_percent")
    if not (0 <= warranty_days <= 3650):
        raise DomainError(_l("The warranty is between 0 and 3650 days.")).on("warranty_days")
    settings = db.session.get(WorksSettings, alliance.id) or WorksSettings(alliance_id=alliance.id)
    settings.retention_percent, settings.warranty_days = retention_percent, warranty_days
    settings.accepted_by, settings.updated_by_id = Acceptor(accepted_by), actor.id
    db.session.add(settings)
    audit.record(actor, "works.settings_changed", settings, alliance_id=alliance.id,
                 retention_percent=str(retention_percent), warranty_days=warranty_days, accepted_by=str(accepted_by))
    db.session.commit()
    forget_acceptor_rule(alliance.id)
    return settings


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    name = (values.get("name") or "").strip()
    if not name:
        raise DomainError(_l("Give the company's or team's name.")).on("name")
    kinds = [ContractorKind(k) for k in values.get("kinds") or []]
    if not kinds:
        raise DomainError(_l("Say what the contractor does.")).on("kinds")
    expires = values.get("insurance_expires_on")
    if expires is not None and not isinstance(expires, date):
        raise DomainError(_l("Please enter a date.")).on("insurance_expires_on")
    return {
        "name": name[:100], "kinds": ",".join(k.value for k in ContractorKind if k in kinds),
        "licence_number": (values.get("licence_number") or "").strip()[:30],
        "contact_name": (values.get("contact_name") or "").strip()[:50],
        "contact_phone": (values.get("contact_phone") or "").strip()[:20],
        "insurance_expires_on": expires, "notes": (values.get("notes") or "").strip()[:5000],
    }


def _name_taken(alliance_id: int, name: str, but: int | None = None) -> bool:
    query = select(Contractor.id).where(Contractor.alliance_id == alliance_id, Contractor.name == name)
    if but is not None:
        query = query.where(Contractor.id != but)
    return db.session.scalar(query.limit(1)) is not None


def add_contractor(actor: User, alliance: Alliance, values: dict[str, Any], *,
                   idempotency_key: str | None = None) -> Contractor:
    if not authz.can(actor, "manage_contractors", alliance):
        raise NotAllowed()
    clean = _clean(values)

    def write() -> Contractor:
        if _name_taken(alliance.id, clean["name"]):
            raise DomainError(NAME_TAKEN).on("name")
        contractor = Contractor(alliance_id=alliance.id, created_by_id=actor.id, **clean)
        db.session.add(contractor)
        db.session.flush()
        audit.record(actor, "contractor.created", contractor, alliance_id=alliance.id, name=contractor.name)
        return contractor

    return submit_once(actor, idempotency_key, Contractor, write, conflict=DomainError(NAME_TAKEN).on("name"))


def update_contractor(actor: User, contractor: Contractor, values: dict[str, Any]) -> None:
    if not authz.can(actor, "edit", contractor):
        raise NotAllowed()
    clean = _clean(values)
    if _name_taken(contractor.alliance_id, clean["name"], but=contractor.id):
        raise DomainError(NAME_TAKEN).on("name")
    changed = [name for name, value in clean.items() if getattr(contractor, name) != value]
    for name in changed:
        setattr(contractor, name, clean[name])
    if changed:
        audit.record(actor, "contractor.updated", contractor, alliance_id=contractor.alliance_id, fields=changed)
    db.session.commit()


def set_active(actor: User, contractor: Contractor, active: bool) -> None:
    """Deactivate (no new quotes or orders; its history stays) or reactivate a contractor."""
    if not authz.can(actor, "edit", contractor):
        raise NotAllowed()
    if contractor.active == active:
        return
    contractor.active = active
    audit.record(actor, "contractor.reactivated" if active else "contractor.deactivated", contractor,
                 alliance_id=contractor.alliance_id)
    db.session.commit()


def contractor_accounts(alliance_id: int) -> list[User]:
    """The alliance's users with the contractor role: who may be given a contractor's login."""
    return list(db.session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.role == Role.CONTRACTOR, Membership.alliance_id == alliance_id)
        .order_by(User.name, User.id).distinct()))


def _person(user_id: int | None) -> User:
    user = db.session.get(User, user_id) if user_id else None
    if user is None:
        raise DomainError(_l("Choose a person.")).on("user_id")
    return user


def add_person(actor: User, contractor: Contractor, user_id: int | None) -> None:
    """Let one of the alliance's contractor accounts act for this contractor."""
    if not authz.can(actor, "edit", contractor):
        raise NotAllowed()
    user = _person(user_id)
    if not authz.has(user, Role.CONTRACTOR, alliance_id=contractor.alliance_id):
        raise DomainError(_l("Only a person with the alliance's contractor role can act for a contractor.")
                          ).on("user_id")
    if user in contractor.users:
        return
    db.session.execute(insert(contractor_users).values(contractor_id=contractor.id, user_id=user.id)
                       .execution_options(cache_scopes={f"alliance:{contractor.alliance_id}"}))
    db.session.expire(contractor, ["users"])
    audit.record(actor, "contractor.person_added", contractor, alliance_id=contractor.alliance_id, user=user.id)
    db.session.commit()
    forget_contractors(user.id)


def remove_person(actor: User, contractor: Contractor, user_id: int | None) -> None:
    if not authz.can(actor, "edit", contractor):
        raise NotAllowed()
    user = _person(user_id)
    db.session.execute(delete(contractor_users).where(contractor_users.c.contractor_id == contractor.id,
                                                      contractor_users.c.user_id == user.id)
                       .execution_options(cache_scopes={f"alliance:{contractor.alliance_id}"}))
    db.session.expire(contractor, ["users"])
    audit.record(actor, "contractor.person_removed", contractor, alliance_id=contractor.alliance_id, user=user.id)
    db.session.commit()
    forget_contractors(user.id)


def contractors_of(alliance_id: int, *, active_only: bool = False) -> list[Contractor]:
    query = select(Contractor).where(Contractor.alliance_id == alliance_id).order_by(
        Contractor.active.desc(), Contractor.name)
    if active_only:
        query = query.where(Contractor.active)
    return list(db.session.scalars(query))
