"""Accounts: log in, passwords, streets and alliances, roles and invitations."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import or_, select

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import ROLE_NAMES, Alliance, Invitation, Membership, Role, Street, User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.i18n import N_
from merchant_alliance.notifications.services import notify, translatable
from merchant_alliance.shops.models import Shop
from merchant_alliance.timeutil import utcnow

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
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    try:
        _hasher().verify(user.password_hash, current_password or "")
    except (VerificationError, InvalidHashError):
        raise DomainError(_l("The current password is not correct.")) from None
    check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    audit.record(user, "password_changed", user)
    db.session.commit()


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def make_password_reset_token(user: User) -> str:
    # The token carries a fingerprint of the current hash: once the password changes, it is void.
    return _reset_serializer().dumps({"u": user.id, "h": user.password_hash[-16:]})


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
    user.password_hash = hash_password(new_password)
    audit.record(user, "password_reset", user)
    db.session.commit()
    return user


def set_locale(user: User, locale: str) -> None:
    if locale not in current_app.config["LANGUAGES"]:
        raise DomainError(_l("Unknown language."))
    user.locale = locale
    db.session.commit()


# --- organisation ------------------------------------------------------------------------------


def create_street(actor: User, name: str, district: str = "") -> Street:
    if not actor.is_platform_admin:
        raise NotAllowed()
    name = name.strip()
    if db.session.scalar(select(Street.id).where(Street.name == name)):
        raise DomainError(_l("A street named %(name)s already exists."), name=name)
    street = Street(name=name, district=district.strip())
    db.session.add(street)
    db.session.flush()
    audit.record(actor, "street_created", street, street_id=street.id)
    db.session.commit()
    return street


def create_alliance(actor: User, street: Street, name: str, road: str = "") -> Alliance:
    if not authz.can(actor, "manage", street):
        raise NotAllowed()
    name = name.strip()
    if db.session.scalar(select(Alliance.id).where(Alliance.street_id == street.id, Alliance.name == name)):
        raise DomainError(_l("This street already has an alliance named %(name)s."), name=name)
    alliance = Alliance(street=street, name=name, road=road.strip())
    db.session.add(alliance)
    db.session.flush()
    audit.record(actor, "alliance_created", alliance, alliance_id=alliance.id, street_id=street.id)
    db.session.commit()
    return alliance


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
               street: Street | None = None, granted_by: User | None = None) -> Membership:
    """Give `user` a role at a scope (once: granting an existing membership returns it)."""
    scope = {"shop_id": shop.id if shop else None, "alliance_id": alliance.id if alliance else None,
             "street_id": street.id if street else None}
    _check_role_scope(role, shop=shop, alliance=alliance, street=street)
    for membership in user.memberships:
        if membership.role == role and all(getattr(membership, k) == v for k, v in scope.items()):
            return membership
    membership = Membership(user=user, role=role, granted_by_id=granted_by.id if granted_by else None, **scope)
    db.session.add(membership)
    return membership


# --- invitations -------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(actor: User, role: Role, *, shop: Shop | None = None, alliance: Alliance | None = None,
           street: Street | None = None, name: str = "", email: str = "", phone: str = "") -> tuple[Invitation, str]:
    """Create a one-time invitation; returns it and the secret token for the link (shown once)."""
    if not authz.may_invite(actor, role, shop=shop, alliance=alliance, street=street):
        raise NotAllowed()
    _check_role_scope(role, shop=shop, alliance=alliance, street=street)  # else it could never be accepted
    norm_email = normalize_email(email) if email else None
    norm_phone = normalize_phone(phone) if phone else None
    if email and not norm_email:
        raise DomainError(_l("Please enter a valid email address."))
    if phone and not norm_phone:
        raise DomainError(_l("Please enter a valid mainland mobile number (11 digits)."))
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        token_hash=_token_hash(token), role=role, name=name.strip(), email=norm_email, phone=norm_phone,
        shop=shop, alliance=alliance, street=street, invited_by=actor,
        expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(actor, "invitation_created", invitation, role=str(role), name=invitation.name,
                 **scope_ids(shop=shop, alliance=alliance, street=street))
    db.session.commit()
    return invitation, token


def invitation_for_token(token: str) -> Invitation | None:
    """The invitation this token opens, whatever its status, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(token)))


def accept_invitation(token: str, *, user: User | None = None, name: str = "", phone: str = "",
                      email: str = "", password: str = "") -> User:
    """Accept an invitation: as the logged-in `user`, or by creating a new account."""
    invitation = invitation_for_token(token)
    if invitation is None or not invitation.is_usable:
        raise DomainError(_l("This invitation link is invalid, expired, revoked or already used."))
    if user is None:
        user = _create_invited_user(name=name, phone=phone, email=email, password=password)
    grant_role(user, invitation.role, shop=invitation.shop, alliance=invitation.alliance,
               street=invitation.street, granted_by=invitation.invited_by)
    invitation.accepted_at = utcnow()
    invitation.accepted_by = user
    db.session.flush()
    audit.record(user, "invitation_accepted", invitation, role=str(invitation.role),
                 **scope_ids(shop=invitation.shop, alliance=invitation.alliance, street=invitation.street))
    notify([invitation.invited_by_id], N_("%(name)s accepted your invitation as %(role)s."),
           name=user.name, role=translatable(ROLE_NAMES[invitation.role]))
    db.session.commit()
    return user


def _create_invited_user(*, name: str, phone: str, email: str, password: str) -> User:
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("Please enter your name."))
    norm_phone = normalize_phone(phone) if phone else None
    norm_email = normalize_email(email) if email else None
    if phone and not norm_phone:
        raise DomainError(_l("Please enter a valid mainland mobile number (11 digits)."))
    if email and not norm_email:
        raise DomainError(_l("Please enter a valid email address."))
    if not norm_phone and not norm_email:
        raise DomainError(_l("Please enter a mobile number or an email address to log in with."))
    clash = db.session.scalar(select(User.id).where(or_(
        User.phone == norm_phone if norm_phone else False,
        User.email == norm_email if norm_email else False,
    )))
    if clash:
        raise DomainError(_l("An account with this mobile number or email already exists. "
                             "Log in first, then open the link again."))
    check_password_strength(password)
    user = User(name=name, phone=norm_phone, email=norm_email, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    audit.record(user, "account_created", user)
    return user


def revoke_invitation(actor: User, invitation: Invitation) -> None:
    if not authz.can(actor, "revoke", invitation):
        raise NotAllowed()
    if not invitation.is_usable:
        raise DomainError(_l("Only a pending invitation can be revoked."))
    invitation.revoked_at = utcnow()
    audit.record(actor, "invitation_revoked", invitation,
                 **scope_ids(shop=invitation.shop, alliance=invitation.alliance, street=invitation.street))
    db.session.commit()


def invitations_at(*, alliance: Alliance | None = None, street: Street | None = None):
    """A select() of invitations issued at a scope, newest first."""
    query = select(Invitation).order_by(Invitation.created_at.desc())
    conditions = []
    if alliance is not None:
        conditions.append(Invitation.alliance_id == alliance.id)
        conditions.append(Invitation.shop_id.in_(select(Shop.id).where(Shop.alliance_id == alliance.id)))
    if street is not None:
        conditions.append(Invitation.street_id == street.id)
    return query.where(or_(*conditions)) if conditions else query.where(False)
