"""The keys a street office issues to city systems, so that they may post reports through the Open311 API.

The secret is shown once, when the key is issued; only its SHA-256 is kept (and its first characters, to tell
keys apart). A key works for its own street only, until it is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from merchant_alliance import audit, authz
from merchant_alliance.accounts.models import Street, User
from merchant_alliance.errors import DomainError, NotAllowed
from merchant_alliance.extensions import db
from merchant_alliance.once import submit_once
from merchant_alliance.reports.models import ApiKey
from merchant_alliance.timeutil import utcnow

AUDIT_LABELS = {
    "reports.api_key_issued": _l("issued an API key"),
    "reports.api_key_revoked": _l("revoked an API key"),
}
AUDIT_OBJECTS = {"apikey": _l("API key")}

NAME_LENGTH = 100
PREFIX_LENGTH = 8
NAME_NEEDED = _l("Please say who the key is for.")
NAME_TOO_LONG = _l("Please keep this under %(n)s characters.")


def hash_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(user: User, street: Street, name: str, *, idempotency_key: str | None = None) -> tuple[ApiKey, str | None]:
    """A new key of the street for the system `name`, and its secret (committed). The same form sent again gets
    the key it made and None: the secret was shown once, with the first answer, and is kept nowhere."""
    if not authz.officer_of(user, street.id):
        raise NotAllowed()
    name = (name or "").strip()
    if not name:
        raise DomainError(NAME_NEEDED).on("name")
    if len(name) > NAME_LENGTH:
        raise DomainError(NAME_TOO_LONG, n=NAME_LENGTH).on("name")
    made: dict[str, str] = {}

    def write() -> ApiKey:
        secret = secrets.token_urlsafe(32)
        key = ApiKey(street_id=street.id, name=name, prefix=secret[:PREFIX_LENGTH], key_hash=hash_of(secret),
                     created_by_id=user.id)
        db.session.add(key)
        db.session.flush()
        audit.record(user, "reports.api_key_issued", key, street_id=street.id, name=name, prefix=key.prefix)
        made["secret"] = secret
        return key

    key = submit_once(user, idempotency_key, ApiKey, write)
    secret = made.get("secret")
    return key, secret if secret and key.key_hash == hash_of(secret) else None


def revoke(user: User, key: ApiKey) -> ApiKey:
    """Stop the key from working, for good (committed). A key revoked already stays as it was."""
    if not authz.officer_of(user, key.street_id):
        raise NotAllowed()
    revoked = db.session.execute(update(ApiKey).where(ApiKey.id == key.id, ApiKey.revoked_at.is_(None))
                                 .values(revoked_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if revoked:
        audit.record(user, "reports.api_key_revoked", key, street_id=key.street_id, name=key.name, prefix=key.prefix)
    db.session.commit()
    db.session.refresh(key)
    return key


def authenticate(street: Street, secret: str | None) -> ApiKey | None:
    """The street's unrevoked key with this secret, its last use noted (in the caller's transaction); None for
    anything else. The lookup is by the secret's hash, so no comparison leaks how much of a guess was right."""
    if not secret or len(secret) > 200:
        return None
    digest = hash_of(secret)
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if key is None or not hmac.compare_digest(key.key_hash, digest) or key.street_id != street.id \
            or key.revoked_at is not None:
        return None
    # No page shows when a key was last used from a cache, so the write touches no cached page's version.
    now = utcnow()
    db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now)
                       .execution_options(synchronize_session=False, cache_scopes=()))
    set_committed_value(key, "last_used_at", now)
    return key


def keys_of(street_id: int) -> list[ApiKey]:
    """The street's keys, newest first, revoked ones included (for the officer's page)."""
    return list(db.session.scalars(select(ApiKey).where(ApiKey.street_id == street_id)
                                   .order_by(ApiKey.id.desc())))
