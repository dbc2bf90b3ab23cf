"""Login throttling that holds against guessing and does not lock the owner out.

Failed logins are counted in a store that every app process shares (Redis in production):

- per account, whatever identifier is typed (phone and email of one account count together; an
  identifier that names no account counts under its normalised form, so locking looks the same);
- per client address (the peer, or what the configured number of trusted proxies says it is).

A browser that has logged in to an account before carries a signed "device cookie" naming that
account (OWASP's device cookies). Its attempts at that account are counted in the device's own
bucket instead, so an attacker who locks the account, or the address both share, does not lock out
the owner on their own phone. On a new device the owner can ask for an emailed link that makes the
browser such a device.

A locked bucket refuses before the password is checked, so a locked answer says nothing about the
password. Only failures are counted: a check and a later hit, so parallel guesses may overshoot a limit
by the number of requests served at once, never more.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response, current_app, url_for
from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from merchant_alliance.accounts import services
from merchant_alliance.accounts.models import User
from merchant_alliance.extensions import db
from merchant_alliance.mail import queue_email

DEVICE_COOKIE = "login_device"


def init_app(app: Flask) -> None:
    """Open the shared store of login counters (RATELIMIT_STORAGE_URI) for this app."""
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"],
                                  **app.config.get("RATELIMIT_STORAGE_OPTIONS", {}))
    app.extensions["login_throttle"] = MovingWindowRateLimiter(storage)


def reset() -> None:
    """Forget every login counter of this app's store (tests start from zero)."""
    current_app.extensions["login_throttle"].storage.reset()


def _limiter() -> MovingWindowRateLimiter:
    return current_app.extensions["login_throttle"]


def _keys(*parts: str) -> tuple[str, ...]:
    return ("login", current_app.config.get("RATELIMIT_KEY_PREFIX", ""), *parts)


def _account_key(identifier: str, user: User | None) -> str:
    if user is not None:
        return f"user-{user.id}"
    typed = identifier or ""
    normalised = services.normalize_phone(typed) or services.normalize_email(typed) or typed.strip().lower()
    # Hashed: bounded keys whatever is typed, and no phone numbers or addresses in the store.
    return "name-" + hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# --- device cookies ---------------------------------------------------------------------------------


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="login-device")


def _device_id(cookie: str | None, user: User | None) -> str | None:
    """The device id in a genuine, unexpired device cookie naming `user`, else None."""
    if not cookie or user is None or len(cookie) > 200:
        return None
    try:
        data = _device_serializer().loads(cookie, max_age=current_app.config["DEVICE_COOKIE_DAYS"] * 86400)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or data.get("u") != user.id or not isinstance(data.get("d"), str):
        return None
    return data["d"]


def remember_device(response: Response, user: User, cookie: str | None, *, new: bool = False) -> None:
    """Mark this browser as one `user` has logged in from (again); `new` starts a fresh device bucket."""
    device = None if new else _device_id(cookie, user)
    value = _device_serializer().dumps({"u": user.id, "d": device or secrets.token_urlsafe(16)})
    response.set_cookie(DEVICE_COOKIE, value, max_age=current_app.config["DEVICE_COOKIE_DAYS"] * 86400,
                        path=url_for("accounts.login"), httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


# --- counting -----------------------------------------------------------------------------------------


@dataclass
class LoginAttempt:
    """The buckets one login attempt is counted in."""

    buckets: list[tuple[RateLimitItem, tuple[str, ...]]] = field(default_factory=list)
    from_known_device: bool = False

    def locked(self) -> bool:
        """Whether any bucket is full: then the password is not even checked."""
        return not all(_limiter().test(item, *keys) for item, keys in self.buckets)

    def minutes_to_wait(self) -> int:
        """Until the full buckets have room again, in whole minutes (at least 1)."""
        now = time.time()
        waits = [_limiter().get_window_stats(item, *keys).reset_time - now
                 for item, keys in self.buckets if not _limiter().test(item, *keys)]
        return max(1, math.ceil(max(waits, default=0) / 60))

    def failed(self) -> None:
        """Count a wrong password in every bucket of this attempt."""
        for item, keys in self.buckets:
            _limiter().hit(item, *keys)


def login_attempt(identifier: str, client_ip: str, device_cookie: str | None) -> LoginAttempt:
    """Where an attempt to log in as `identifier` from `client_ip` with this device cookie counts."""
    config = current_app.config
    user = services.find_user_by_login(identifier)
    device = _device_id(device_cookie, user)
    if device is not None:
        return LoginAttempt([(parse(config["LOGIN_DEVICE_LIMIT"]), _keys("device", device))], from_known_device=True)
    return LoginAttempt([
        (parse(config["LOGIN_ACCOUNT_LIMIT"]), _keys("account", _account_key(identifier, user))),
        (parse(config["LOGIN_IP_LIMIT"]), _keys("ip", client_ip or "")),
    ])


# --- emailed unlock links -----------------------------------------------------------------------------


def _unlock_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="login-unlock")


def request_unlock_link(identifier: str, link_for: Callable[[str], str]) -> None:
    """Queue a link (`link_for(token)`) that makes a browser a known device of this account.

    Sent only to an active account with an email, at most LOGIN_UNLOCK_MAIL_LIMIT times; the caller
    answers the same in every case, so the form tells nobody whether the account exists.
    """
    user = services.find_user_by_login(identifier)
    item = parse(current_app.config["LOGIN_UNLOCK_MAIL_LIMIT"])
    if not _limiter().hit(item, *_keys("unlock-mail", _account_key(identifier, user))):
        return
    if user is None or not user.email or not user.active:
        return
    link = link_for(_unlock_serializer().dumps({"u": user.id}))
    queue_email(user.email, gettext("Log in on a new device"),
                gettext("Logging in to your account was paused after too many wrong passwords. Open this link "
                        "within an hour on the phone or computer you want to use, then log in there as usual:\n"
                        "%(link)s\n\nIf you did not ask for this, someone may be guessing your password: "
                        "ignore this email, and choose a stronger password if yours is weak.", link=link))
    db.session.commit()


def user_for_unlock_token(token: str) -> User | None:
    """The active user an unexpired unlock link names, or None."""
    if not token or len(token) > 200:
        return None
    try:
        data = _unlock_serializer().loads(token, max_age=current_app.config["LOGIN_UNLOCK_SECONDS"])
    except (BadSignature, SignatureExpired):
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) and isinstance(data.get("u"), int) else None
    return user if user is not None and user.active else None
