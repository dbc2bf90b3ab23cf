"""Accounts: log in, passwords, streets and alliances, roles and invitations."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from merchant_alliance import audit, authz
from merchant_alliance.accounts import permissions, sessions
from merchant_alliance.accounts.models import (
    ROLE_NAMES,
    Alliance,
    Invitation,
    Membership,
    PasswordResetRequest,
    Role,
    Street,
    User,
)
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.mail import queue_email
from merchant_alliance.notifications.services import notify, translatable
from merchant_alliance.once import submit_once
from merchant_alliance.timeutil import utcnow

if TYPE_CHECKING:
    from merchant_alliance.shops.models import Shop

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8


# --- identifiers and passwords -----------------------------------------------------------------


def normalize_phone(value: str) -> str | None:
    """A mainland mobile number as 11 digits, or None if `value` is not one."""
    digits = re.sub(r"[\s\-()]", "", value or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits if PHONE_RE.match(digits) else None


def normalize_email(value: str) -> str | None:
    value = (value or "").strip().lower()
    return value if EMAIL_RE.match(value) and len(value) <= 254 else None


def _hasher() -> PasswordHasher:
    # Argon2id with the library's defaults; tests configure cheaper parameters (ARGON2_PARAMS).
    return PasswordHasher(**current_app.config.get("ARGON2_PARAMS", {}))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("The password must be at least %(n)s characters long."), n=MIN_PASSWORD_LENGTH)
    if password.isdigit() or len(set(password)) < 4:
        raise DomainError(_l("This password is too easy to guess. Mix letters, digits and other characters."))


def find_user_by_login(identifier: str) -> User | None:
    phone = normalize_phone(identifier)
    email = normalize_email(identifier)
    if not phone and not email:
        return None
    return db.session.scalar(
        select(User).where(User.phone == phone) if phone else select(User).where(User.email == email)
    )


def authenticate(identifier: str, password: str) -> User | None:
    """The active user with this phone or email and password, or None. Upgrades old hashes."""
    user = find_user_by_login(identifier)
    if user is None:
        _hasher().hash(password or "x")  # spend the same time, so timing does not reveal accounts
        return None
    try:
        _hasher().verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if not user.active:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        _replace_password_hash(user, user.password_hash, hash_password(password))  # unless it just changed
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    try:
        _hasher().verify(user.password_hash, current_password or "")
    except (VerificationError, InvalidHashError):
        raise DomainError(_l("The current password is not correct.")).on("current_password") from None
    check_password_strength(new_password)
    if not _replace_password_hash(user, user.password_hash, hash_password(new_password)):
        db.session.rollback()  # changed a moment ago, in another tab: the password typed is no longer current
        raise DomainError(_l("The current password is not correct."))
    # Whoever else holds a session or remember-me cookie (perhaps who learnt the old password) is out.
    ended = sessions.end_other_sessions(user, "password_changed")
    audit.record(user, "password_changed", user, other_sessions_ended=ended)
    db.session.commit()


def _replace_password_hash(user: User, old_hash: str, new_hash: str) -> bool:
    """Store `new_hash` only while the stored hash is still `old_hash` (a compare-and-set in the database);
    False when another change got there first."""
    changed = db.session.execute(
        update(User).where(User.id == user.id, User.password_hash == old_hash).values(password_hash=new_hash)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed == 1:
        set_committed_value(user, "password_hash", new_hash)
    return changed == 1


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def make_password_reset_token(user: User) -> str:
    # The token carries a fingerprint of the current hash: once the password changes, it is void.
    return _reset_serializer().dumps({"u": user.id, "h": user.password_hash[-16:]})


def request_password_reset(email: str, *, ip: str = "", locale: str = "") -> None:
    """Record that someone asked for a reset link for `email`; `send_reset_links` answers it later.

    The request does the same whoever asked, and so takes the same time: one row, one commit, no lookup.
    Whether the address has an account is found out by the outbox's sender, away from any request.
    """
    db.session.add(PasswordResetRequest(email=(normalize_email(email) or email.strip())[:254], ip=ip[:45],
                                        locale=locale[:10]))
    db.session.commit()


def send_reset_links(link_for: Callable[[str], str], limit: int = 50) -> int:
    """Queue a reset link (`link_for(token)`) for each recorded request whose address an active account
    uses; every request is answered once, even with several senders. Returns how many links were queued."""
    queued = 0
    pending = db.session.execute(select(PasswordResetRequest.id, PasswordResetRequest.email,
                                        PasswordResetRequest.locale)
                                 .where(PasswordResetRequest.handled_at.is_(None))
                                 .order_by(PasswordResetRequest.id).limit(limit)).all()
    db.session.rollback()
    for request_id, email, locale in pending:
        claimed = db.session.execute(
            update(PasswordResetRequest)
            .where(PasswordResetRequest.id == request_id, PasswordResetRequest.handled_at.is_(None))
            .values(handled_at=utcnow()).execution_options(synchronize_session=False)
        ).rowcount
        user = find_user_by_login(email) if claimed else None
        if user is not None and user.email and user.active:
            with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
                queue_email(user.email, gettext("Reset your password"),
                            gettext("Open this link within an hour to choose a new password:\n%(link)s\n\n"
                                    "If you did not ask for this, ignore this email.",
                                    link=link_for(make_password_reset_token(user))))
            queued += 1
        db.session.commit()  # the request is marked answered together with its email
    return queued


def user_for_reset_token(token: str) -> User | None:
    try:
        data = _reset_serializer().loads(token, max_age=current_app.config["PASSWORD_RESET_SECONDS"])
    except (SignatureExpired, BadSignature):
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or user.password_hash[-16:] != data.get("h"):
        return None
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    if user is None:
        raise DomainError(_l("This password reset link is invalid, expired or already used."))
    check_password_strength(new_password)
    # The link names the hash it was made for: of two uses at once, only the first changes the password.
    if not _replace_password_hash(user, user.password_hash, hash_password(new_password)):
        db.session.rollback()
        raise DomainError(_l("This password reset link is invalid, expired or already used."))
    ended = sessions.end_all_sessions(user, "password_reset")
    audit.record(user, "password_reset", user, sessions_ended=ended)
    db.session.commit()
    return user


def set_locale(user: User, locale: str) -> None:
    if locale not in current_app.config["LANGUAGES"]:
        raise DomainError(_l("Unknown language."))
    user.locale = locale
    db.session.commit()


# --- organisation ------------------------------------------------------------------------------


def create_street(actor: User, name: str, district: str = "", *, idempotency_key: str | None = None) -> Street:
    """Add a street (platform admins). One form, one street."""
    if not actor.is_platform_admin:
        raise NotAllowed()
    name = name.strip()
    taken = DomainError(_l("A street named %(name)s already exists."), name=name)

    def write() -> Street:
        if db.session.scalar(select(Street.id).where(Street.name == name)):
            raise taken
        street = Street(name=name, district=district.strip())
        db.session.add(street)
        db.session.flush()
        audit.record(actor, "street_created", street, street_id=street.id)
        return street

    return submit_once(actor, idempotency_key, Street, write, conflict=taken)


def create_alliance(actor: User, street: Street, name: str, road: str = "", *,
                    idempotency_key: str | None = None) -> Alliance:
    """Add an alliance to a street. One form, one alliance."""
    if not authz.can(actor, "manage", street):
        raise NotAllowed()
    name = name.strip()
    taken = DomainError(_l("This street already has an alliance named %(name)s."), name=name)

    def write() -> Alliance:
        if db.session.scalar(select(Alliance.id).where(Alliance.street_id == street.id, Alliance.name == name)):
            raise taken
        alliance = Alliance(street=street, name=name, road=road.strip())
        db.session.add(alliance)
        db.session.flush()
        audit.record(actor, "alliance_created", alliance, alliance_id=alliance.id, street_id=street.id)
        return alliance

    return submit_once(actor, idempotency_key, Alliance, write, conflict=taken)


def scope_ids(*, shop: Shop | None = None, alliance: Alliance | None = None,
              street: Street | None = None) -> dict[str, int | None]:
    """The alliance and street an object belongs to, for audit events."""
    if shop is not None:
        alliance = shop.alliance
    if alliance is not None:
        return {"alliance_id": alliance.id, "street_id": alliance.street_id}
    return {"alliance_id": None, "street_id": street.id if street else None}


SCOPE_MISMATCH = {
    "shop": _l("This role must be given for exactly one shop."),
    "alliance": _l("This role must be given for exactly one alliance."),
    "street": _l("This role must be given for exactly one street."),
    "platform": _l("The platform administrator role is not given for a shop, alliance or street."),
}


def _check_role_scope(role: Role, **scope: object) -> None:
    """Refuse a scope that does not fit the role: exactly one object of the role's kind (none for admins)."""
    given = [kind for kind, obj in scope.items() if obj is not None]
    if given != ([] if role.scope == "platform" else [role.scope]):
        raise DomainError(SCOPE_MISMATCH[role.scope])


def grant_role(user: User, role: Role, *, shop: Shop | None = None, alliance: Alliance | None = None,
               street: Street | None = None, granted_by: User | None = None, confirmed: bool = True) -> Membership:
    """Give `user` a role at a scope (once: granting an existing membership returns it, confirmed if
    this grant is). `confirmed=False`: a lead appointment waiting for the street office (confirm_lead)."""
    scope = {"shop_id": shop.id if shop else None, "alliance_id": alliance.id if alliance else None,
             "street_id": street.id if street else None}
    _check_role_scope(role, shop=shop, alliance=alliance, street=street)
    for membership in user.memberships:
        if membership.role == role and all(getattr(membership, k) == v for k, v in scope.items()):
            if confirmed and membership.pending:
                membership.confirmed_at = utcnow()
            return membership
    membership = Membership(user=user, role=role, granted_by_id=granted_by.id if granted_by else None,
                            confirmed_at=utcnow() if confirmed else None, **scope)
    db.session.add(membership)
    return membership


# --- invitations -------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(actor: User, role: Role, *, shop: Shop | None = None, alliance: Alliance | None = None,
           street: Street | None = None, name: str = "", email: str = "", phone: str = "",
           link_for: Callable[[str], str] | None = None, idempotency_key: str | None = None) -> tuple[Invitation, str]:
    """Create a one-time invitation; returns it and the secret token for the link (shown once).
    With an email address and `link_for(token)`, the link is emailed (queued with the invitation).
    The same form sent twice creates one invitation and shows the same link."""
    if not permissions.may_invite(actor, role, shop=shop, alliance=alliance, street=street):
        raise NotAllowed()
    _check_role_scope(role, shop=shop, alliance=alliance, street=street)  # else it could never be accepted
    norm_email = normalize_email(email) if email else None
    norm_phone = normalize_phone(phone) if phone else None
    if email and not norm_email:
        raise DomainError(_l("Please enter a valid email address.")).on("email")
    if phone and not norm_phone:
        raise DomainError(_l("Please enter a valid mainland mobile number (11 digits).")).on("phone")
    token = _invitation_token(idempotency_key)

    def write() -> Invitation:
        invitation = Invitation(
            token_hash=_token_hash(token), role=role, name=name.strip(), email=norm_email, phone=norm_phone,
            shop=shop, alliance=alliance, street=street, invited_by=actor,
            expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"]),
        )
        db.session.add(invitation)
        db.session.flush()
        audit.record(actor, "invitation_created", invitation, role=str(role), name=invitation.name,
                     **scope_ids(shop=shop, alliance=alliance, street=street))
        if invitation.email and link_for is not None:
            queue_email(invitation.email, gettext("You are invited to the merchant alliance platform"),
                        gettext("%(inviter)s invites you to join as %(role)s.\n"
                                "Open this link to accept (valid for %(days)s days):\n%(link)s",
                                inviter=actor.name, role=role.label, link=link_for(token),
                                days=current_app.config["INVITATION_DAYS"]))
        return invitation

    return submit_once(actor, idempotency_key, Invitation, write), token


def _invitation_token(idempotency_key: str | None) -> str:
    """The link's secret. For a form it is derived from the form's one-time key with SECRET_KEY, so the
    same form sent twice shows the same link (the database keeps only the token's hash)."""
    if idempotency_key is None:
        return secrets.token_urlsafe(32)
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), b"invitation\0" + idempotency_key.encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation this token opens, whatever its status, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(token)))


UNUSABLE_INVITATION = _l("This invitation link is invalid, expired, revoked or already used.")
CLASH = _l("An account with this mobile number or email already exists. Log in first, then open the link again.")


def accept_invitation(token: str, *, user: User | None = None, name: str = "", phone: str = "",
                      email: str = "", password: str = "") -> User:
    """Accept an invitation: as the logged-in `user`, or by creating a new account.

    Once: the invitation is claimed by a conditional UPDATE before anything is written, so of several
    acceptances at the same moment one wins and the others are refused having written nothing.
    """
    invitation = invitation_for_token(token)
    if invitation is None or not invitation.is_usable:
        raise DomainError(UNUSABLE_INVITATION)
    new_user = _new_invited_user(name=name, phone=phone, email=email, password=password) if user is None else None
    _claim(invitation)
    if new_user is not None:
        user = _save_new_user(new_user)
    invitation.accepted_by = user
    # A lead appointed by another lead waits for someone outside the alliance's leadership.
    confirmed = invitation.role != Role.ALLIANCE_LEAD or authz.can(invitation.invited_by, "confirm_lead",
                                                                   invitation.alliance)
    membership = grant_role(user, invitation.role, shop=invitation.shop, alliance=invitation.alliance,
                            street=invitation.street, granted_by=invitation.invited_by, confirmed=confirmed)
    db.session.flush()
    scope = scope_ids(shop=invitation.shop, alliance=invitation.alliance, street=invitation.street)
    audit.record(user, "invitation_accepted", invitation, role=str(invitation.role), **scope)
    if invitation.role == Role.ALLIANCE_LEAD:
        audit.record(invitation.invited_by, "lead_appointed", membership, user_id=user.id, name=user.name,
                     pending=membership.pending, **scope)
        if membership.pending:
            _ask_street_office_to_confirm(membership, invitation.alliance)
    notify([invitation.invited_by_id], N_("%(name)s accepted your invitation as %(role)s."),
           name=user.name, role=translatable(ROLE_NAMES[invitation.role]))
    db.session.commit()
    return user


def _claim(invitation: Invitation) -> None:
    """Mark the invitation accepted if it is still pending, in one statement; else roll back and refuse."""
    _end_pending(invitation, "accepted_at", DomainError(UNUSABLE_INVITATION))


def _end_pending(invitation: Invitation, column: str, refusal: DomainError) -> None:
    """Set `column` (accepted_at or revoked_at) to now only while the invitation is pending, checked in the
    same statement, so an acceptance and a revocation can never both happen; else roll back and refuse."""
    now = utcnow()
    ended = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
               Invitation.expires_at > now)
        .values({column: now})
        .execution_options(synchronize_session=False)
    ).rowcount
    if ended != 1:
        db.session.rollback()
        raise refusal
    set_committed_value(invitation, column, now)


def _new_invited_user(*, name: str, phone: str, email: str, password: str) -> User:
    """The account an invitation's form describes, checked and with its password hashed; not yet saved."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("Please enter your name.")).on("name")
    norm_phone = normalize_phone(phone) if phone else None
    norm_email = normalize_email(email) if email else None
    if phone and not norm_phone:
        raise DomainError(_l("Please enter a valid mainland mobile number (11 digits).")).on("phone")
    if email and not norm_email:
        raise DomainError(_l("Please enter a valid email address.")).on("email")
    if not norm_phone and not norm_email:
        raise DomainError(_l("Please enter a mobile number or an email address to log in with."))
    clash = db.session.scalar(select(User.id).where(or_(
        User.phone == norm_phone if norm_phone else False,
        User.email == norm_email if norm_email else False,
    )))
    if clash:
        raise DomainError(CLASH)
    check_password_strength(password)
    return User(name=name, phone=norm_phone, email=norm_email, password_hash=hash_password(password))


def _save_new_user(user: User) -> User:
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # the same phone or email, signed up through another link a moment ago
        db.session.rollback()
        raise DomainError(CLASH) from None
    audit.record(user, "account_created", user)
    return user


def awaits_confirmation(user: User, invitation: Invitation) -> bool:
    """Did accepting this invitation leave `user` a lead waiting for the street office's confirmation?"""
    return invitation.role == Role.ALLIANCE_LEAD and any(
        m.role == Role.ALLIANCE_LEAD and m.alliance_id == invitation.alliance_id and m.pending
        for m in user.memberships)


def revoke_invitation(actor: User, invitation: Invitation) -> None:
    if not authz.can(actor, "revoke", invitation):
        raise NotAllowed()
    _end_pending(invitation, "revoked_at", DomainError(_l("Only a pending invitation can be revoked.")))
    audit.record(actor, "invitation_revoked", invitation,
                 **scope_ids(shop=invitation.shop, alliance=invitation.alliance, street=invitation.street))
    db.session.commit()


def invitations_at(*, alliance: Alliance | None = None, street: Street | None = None):
    """A select() of invitations issued at a scope, newest first."""
    query = select(Invitation).order_by(Invitation.created_at.desc())
    conditions = []
    if alliance is not None:
        conditions.append(Invitation.alliance_id == alliance.id)
        conditions.append(Invitation.shop.has(alliance_id=alliance.id))  # invitations to its shops
    if street is not None:
        conditions.append(Invitation.street_id == street.id)
    return query.where(or_(*conditions)) if conditions else query.where(False)


# --- lead appointments: confirmed by the street office --------------------------------------------------

AUDIT_LABELS = {
    "lead_appointed": _l("Alliance lead appointed"),
    "lead_confirmed": _l("Lead appointment confirmed"),
    "lead_declined": _l("Lead appointment declined"),
}
AUDIT_OBJECTS = {"membership": _l("Role")}

APPOINTMENT_NOTICES = {
    "pending": N_("%(name)s was appointed lead of %(alliance)s by %(by)s. "
                  "Please confirm or decline the appointment on the street's page."),
    "confirmed": N_("The appointment of %(name)s as lead of %(alliance)s has been confirmed."),
    "declined": N_("The appointment of %(name)s as lead of %(alliance)s has been declined."),
}
NOT_PENDING = _l("This appointment is not waiting for confirmation.")


def _street_office_ids(alliance: Alliance) -> set[int]:
    """Who confirms the alliance's lead appointments: the street's officers, or the platform admins if it
    has none yet."""
    officers = set(db.session.scalars(select(Membership.user_id).where(
        Membership.role == Role.STREET_OFFICER, Membership.street_id == alliance.street_id,
        Membership.confirmed_at.is_not(None))))
    return officers or set(db.session.scalars(select(Membership.user_id).where(
        Membership.role == Role.PLATFORM_ADMIN)))


def _ask_street_office_to_confirm(membership: Membership, alliance: Alliance) -> None:
    appointed_by = db.session.get(User, membership.granted_by_id) if membership.granted_by_id else None
    notify(_street_office_ids(alliance), APPOINTMENT_NOTICES["pending"], name=membership.user.name,
           alliance=alliance.name, by=appointed_by.name if appointed_by else "")


def _decide(actor: User, membership: Membership, decision: str) -> None:
    """Confirm or decline a pending lead appointment, in one conditional statement (so a confirmation and
    a refusal at the same moment cannot both happen); audited, and the two people concerned are told."""
    alliance = membership.alliance
    if membership.role != Role.ALLIANCE_LEAD or alliance is None:
        raise DomainError(NOT_PENDING)
    if not authz.can(actor, "confirm_lead", alliance) or membership.user_id == actor.id:
        raise NotAllowed()
    pending = (Membership.id == membership.id, Membership.role == Role.ALLIANCE_LEAD,
               Membership.confirmed_at.is_(None))
    now = utcnow()
    if decision == "confirmed":
        statement = update(Membership).where(*pending).values(confirmed_at=now)
    else:
        statement = delete(Membership).where(*pending)
    if db.session.execute(statement.execution_options(synchronize_session=False)).rowcount != 1:
        db.session.rollback()
        raise DomainError(NOT_PENDING)
    appointee, appointed_by = membership.user, membership.granted_by_id
    audit.record(actor, f"lead_{decision}", membership, user_id=appointee.id, name=appointee.name,
                 appointed_by=appointed_by, **scope_ids(alliance=alliance))
    notify({appointee.id, appointed_by} - {actor.id, None}, APPOINTMENT_NOTICES[decision], name=appointee.name,
           alliance=alliance.name)
    if decision == "declined":
        db.session.expunge(membership)
        db.session.expire(appointee, ["memberships"])  # the roles as they are now, for the rest of this session
    else:
        set_committed_value(membership, "confirmed_at", now)
    db.session.commit()


def confirm_lead(actor: User, membership: Membership) -> None:
    """The street's officer or a platform admin confirms a lead appointed by another lead: from now on the
    new lead holds a lead's powers (approving money among them)."""
    _decide(actor, membership, "confirmed")


def decline_lead(actor: User, membership: Membership) -> None:
    """The street's officer or a platform admin declines a lead appointment: the pending role is removed."""
    _decide(actor, membership, "declined")


def pending_appointments(*, street: Street | None = None, alliance: Alliance | None = None) -> list:
    """Lead appointments waiting for confirmation, oldest first: rows of (membership, appointee, alliance,
    the name of who appointed them)."""
    appointer = aliased(User)
    query = (
        select(Membership, User, Alliance, appointer.name)
        .join(User, Membership.user_id == User.id)
        .join(Alliance, Membership.alliance_id == Alliance.id)
        .outerjoin(appointer, Membership.granted_by_id == appointer.id)
        .where(Membership.role == Role.ALLIANCE_LEAD, Membership.confirmed_at.is_(None))
        .order_by(Membership.created_at, Membership.id)
    )
    if street is not None:
        query = query.where(Alliance.street_id == street.id)
    if alliance is not None:
        query = query.where(Alliance.id == alliance.id)
    return list(db.session.execute(query).all())
