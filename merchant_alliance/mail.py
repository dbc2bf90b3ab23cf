"""Mail goes through an outbox: an action queues its email in its own transaction; a sender delivers it later.

`queue_email` adds a row to the current session, so the email is saved (or dropped) with the action that
sends it, and no request ever waits for a mail server. `send_due` delivers what is due: it claims rows
with a lease in one conditional UPDATE, so several senders at once never send one message twice, and a
failure is retried later with growing pauses. `flask outbox send` runs it once and `flask outbox work`
in a loop (in production, a second process beside gunicorn); in development a thread of the app does it
(OUTBOX_THREAD). Backends: "log" writes mail to the log, "smtp" sends it, "memory" keeps it for tests.

A message is sent at least once: a sender killed after the server took a message but before it was
marked sent resends it when its lease runs out. Bodies carry secrets (reset and invitation links), so
they are stored sealed with a key derived from SECRET_KEY, and emptied once sent: the database alone
reveals no usable link.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, current_app
from sqlalchemy import Index, String, Text, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from merchant_alliance.extensions import db
from merchant_alliance.timeutil import utcnow

BATCH = 20


class OutboxMessage(db.Model):
    """An email waiting to be sent, being sent (claimed until `claimed_until`), sent, or given up on."""

    __tablename__ = "outbox_messages"
    __cached__ = False
    __table_args__ = (Index("ix_outbox_messages_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    sealed_body: Mapped[str] = mapped_column(Text)  # Fernet-encrypted (see _seal), "" once sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    # A sender's claim: its random token, and until when the message is its own to send.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} to={self.to_address}>"


def queue_email(to: str, subject: str, body: str) -> OutboxMessage:
    """Queue a plain-text email; it is saved with the caller's commit and sent by the outbox's sender."""
    message = OutboxMessage(to_address=to, subject=str(subject)[:255], sealed_body=_seal().encrypt(
        str(body).encode()).decode(), next_attempt_at=utcnow())
    db.session.add(message)
    return message


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    failed: int = 0


# Work that produces mail away from any request, run by the sender before it sends (e.g. answering
# password-reset requests, which look the address up only here). Registered by create_app.
PRODUCERS: list[Callable[[], object]] = []


def add_producer(producer: Callable[[], object]) -> None:
    """Run `producer` (it queues email and commits) each time the sender runs, before it sends."""
    if producer not in PRODUCERS:
        PRODUCERS.append(producer)


def send_due(limit: int = BATCH) -> SendReport:
    """Deliver every message that is due, each by one sender only; failures are put back for later (so
    each message is tried at most once per call)."""
    for producer in PRODUCERS:
        producer()
    sent = failed = 0
    started = utcnow()
    while batch := _claim(limit, due_by=started):
        for message in batch:
            if not _renew(message):  # held so long that the lease ran out and another sender took it
                continue
            try:
                _deliver(message)
            except (OSError, smtplib.SMTPException) as error:
                _failed(message, error)
                failed += 1
            except InvalidToken:  # sealed under another SECRET_KEY: it can never be read, so never sent
                current_app.logger.error("Cannot open email %s to %s: SECRET_KEY changed since it was queued",
                                         message.id, message.to_address)
                _settle(message, attempts=current_app.config["OUTBOX_MAX_ATTEMPTS"],
                        last_error="sealed with another SECRET_KEY")
                failed += 1
            except Exception as error:  # one odd message must not stop the sender for all the others
                current_app.logger.exception("Unexpected error sending email %s", message.id)
                _failed(message, error)
                failed += 1
            else:
                _settle(message, sent_at=utcnow(), last_error="", sealed_body="")
                sent += 1
    return SendReport(sent, failed)


def _claim(limit: int, due_by: datetime) -> list[OutboxMessage]:
    """Take up to `limit` due messages for this sender alone: one conditional UPDATE sets our lease on rows
    nobody holds. Two senders racing for a row: the second finds the first's lease and skips it."""
    config = current_app.config
    now = utcnow()
    token = secrets.token_hex(16)
    free = (OutboxMessage.sent_at.is_(None), OutboxMessage.attempts < config["OUTBOX_MAX_ATTEMPTS"],
            OutboxMessage.next_attempt_at <= due_by,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
    # PostgreSQL: rows another sender is claiming right now are skipped, not waited for (SQLite ignores this).
    due = (select(OutboxMessage.id).where(*free).order_by(OutboxMessage.id).limit(limit)
           .with_for_update(skip_locked=True))
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(due.scalar_subquery()), *free)
        .values(claim_token=token, claimed_until=now + timedelta(seconds=config["OUTBOX_LEASE_SECONDS"]))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.claim_token == token)
                                   .order_by(OutboxMessage.id).execution_options(populate_existing=True)))


def _renew(message: OutboxMessage) -> bool:
    """Start a fresh lease on a message just before sending it; False if it is no longer ours."""
    lease = timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    renewed = db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message.id, OutboxMessage.claim_token == message.claim_token,
                                    OutboxMessage.sent_at.is_(None))
        .values(claimed_until=utcnow() + lease).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return renewed == 1


def _settle(message: OutboxMessage, **values: object) -> None:
    """Record how the attempt went and give up our claim (only if the claim is still ours)."""
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message.id, OutboxMessage.claim_token == message.claim_token)
        .values(claim_token=None, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _failed(message: OutboxMessage, error: Exception) -> None:
    config = current_app.config
    attempts = message.attempts + 1
    pause = min(config["OUTBOX_RETRY_SECONDS"] * 2 ** (attempts - 1), config["OUTBOX_RETRY_MAX_SECONDS"])
    if attempts >= config["OUTBOX_MAX_ATTEMPTS"]:
        current_app.logger.error("Gave up sending email %s to %s after %s attempts: %s", message.id,
                                 message.to_address, attempts, error)
    else:
        current_app.logger.warning("Could not send email %s to %s (attempt %s, next in %ss): %s", message.id,
                                   message.to_address, attempts, pause, error)
    _settle(message, attempts=attempts, last_error=f"{type(error).__name__}: {error}"[:2000],
            next_attempt_at=utcnow() + timedelta(seconds=pause))


def _seal() -> Fernet:
    """The outbox's key: derived from SECRET_KEY, which the database does not hold."""
    digest = hashlib.sha256(b"outbox-messages\0" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _deliver(message: OutboxMessage) -> None:
    """Hand one message to the configured backend; raises OSError or SMTPException when that fails."""
    config = current_app.config
    body = _seal().decrypt(message.sealed_body.encode()).decode()
    email = EmailMessage()
    email["From"] = config["MAIL_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email.set_content(body)
    backend = config["MAIL_BACKEND"]
    if backend == "memory":
        current_app.extensions.setdefault("mail_outbox", []).append(email)
    elif backend == "smtp":
        smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
        with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
            if not config["MAIL_USE_SSL"] and config["MAIL_USE_STARTTLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(email)
    else:
        current_app.logger.info("Email to %s: %s\n%s", message.to_address, message.subject, body)


# --- the sender as a loop: `flask outbox work`, or a thread of the development server --------------------


def work(app: Flask, stop: threading.Event) -> None:
    """Send what is due every OUTBOX_POLL_SECONDS until `stop` is set. A database that is down (or not
    migrated yet) is logged and tried again, never fatal."""
    while not stop.is_set():
        with app.app_context():
            try:
                send_due()
            except SQLAlchemyError:
                app.logger.exception("The outbox could not be read; trying again shortly")
        stop.wait(app.config["OUTBOX_POLL_SECONDS"])


def init_app(app: Flask) -> None:
    """With OUTBOX_THREAD (development), the process that serves requests also sends the mail, so mail
    reaches the log without a second process. Started by the first request, so `flask db upgrade` and
    other commands start no sender."""
    if not app.config.get("OUTBOX_THREAD"):
        return
    lock = threading.Lock()

    @app.before_request
    def start_outbox_thread() -> None:
        if "outbox_thread" in app.extensions:
            return
        with lock:
            if "outbox_thread" not in app.extensions:
                stop = threading.Event()  # set it to end the thread (the tests do)
                thread = threading.Thread(target=work, args=(app, stop), name="outbox", daemon=True)
                app.extensions["outbox_thread"] = (thread, stop)
                thread.start()
