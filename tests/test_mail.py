"""Mail goes through the outbox: a request only queues it, a sender delivers it with retries, and a slow or
failing mail server never slows a request, breaks one, or tells who has an account."""

from __future__ import annotations

import email
import email.policy
import re
import socketserver
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from config import TestingConfig
from merchant_alliance import create_app, mail
from merchant_alliance.accounts import answer_password_reset_requests
from merchant_alliance.accounts.models import PasswordResetRequest
from merchant_alliance.extensions import db, limiter
from merchant_alliance.mail import OutboxMessage, queue_email, send_due
from merchant_alliance.timeutil import utcnow
from tests.concurrency import at_once
from tests.factories import UserFactory

RESET_LINK = re.compile(r"http://localhost/password/reset/\S+")


class FakeMailServer(socketserver.ThreadingTCPServer):
    """A mail server on 127.0.0.1 speaking just enough SMTP. Each connection behaves as the next item of
    `plan` says ("ok" after it is used up): "ok", "slow" (greets after `delay` seconds, then works),
    "stall" (says nothing for `delay` seconds) or "busy" (answers 421 and hangs up)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, plan: list[str] | None = None, delay: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), SMTPHandler)
        self.plan, self.delay = list(plan or []), delay
        self.received: list[str] = []
        self.connections = 0
        self.lock = threading.Lock()

    def next_behaviour(self) -> str:
        with self.lock:
            self.connections += 1
            return self.plan.pop(0) if self.plan else "ok"


class SMTPHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: FakeMailServer = self.server  # type: ignore[assignment]
        behaviour = server.next_behaviour()
        if behaviour in ("slow", "stall"):
            time.sleep(server.delay)
            if behaviour == "stall":
                return
        if behaviour == "busy":
            self.wfile.write(b"421 too busy, try later\r\n")
            return
        self.wfile.write(b"220 fake.example ESMTP\r\n")
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip().upper()
            if command.startswith("DATA"):
                self.wfile.write(b"354 go ahead\r\n")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                server.received.append(data.decode())
                self.wfile.write(b"250 queued\r\n")
            elif command.startswith("QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # EHLO, MAIL FROM, RCPT TO, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def mail_server(app) -> Iterator:
    """Start a fake mail server (see FakeMailServer) and point the app's SMTP settings at it."""
    servers: list[FakeMailServer] = []

    def start(plan: list[str] | None = None, delay: float = 0.0) -> FakeMailServer:
        server = FakeMailServer(plan, delay)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=server.server_address[1],
                          MAIL_USE_SSL=False, MAIL_USE_STARTTLS=False, MAIL_TIMEOUT=0.5)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def queued() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)
                                   .execution_options(populate_existing=True)))


def time_forgot_password(client, email: str) -> float:
    started = time.perf_counter()
    response = client.post("/password/forgot", data={"email": email})
    elapsed = time.perf_counter() - started
    assert response.status_code == 302 and response.location == "/login"
    return elapsed


def test_forgot_password_answers_as_fast_for_a_known_email_as_for_an_unknown_one_while_the_mail_server_is_slow(
        app, client, mail_server, monkeypatch):
    """The probe timed 419 ms for a known address against 15 ms for an unknown one: the mail was sent inside
    the request. With a mail server that takes half a second to answer, both take the same time now."""
    mail_server(plan=["slow"] * 100, delay=0.5)
    monkeypatch.setattr(limiter, "enabled", False)  # thirty requests from one address, on purpose
    user = UserFactory(email="chen@yuyuan.example")
    time_forgot_password(client, "warm-up@yuyuan.example")

    known, unknown = [], []
    for _round in range(15):
        known.append(time_forgot_password(client, user.email))
        unknown.append(time_forgot_password(client, "stranger@yuyuan.example"))

    fast_known, fast_unknown = statistics.median(known), statistics.median(unknown)
    assert fast_known < 0.25, f"a known address took {fast_known * 1000:.0f} ms: the request waited for mail"
    assert abs(fast_known - fast_unknown) < 0.02 + 0.5 * fast_unknown, (fast_known, fast_unknown)
    # Both answers did the same work: each request, known address or not, was recorded with one commit,
    # and nothing else: no lookup, no mail. The sender answers them afterwards, away from any request.
    asked = db.session.scalars(select(PasswordResetRequest.email).order_by(PasswordResetRequest.id)).all()
    assert asked == ["warm-up@yuyuan.example", *[user.email, "stranger@yuyuan.example"] * 15]
    assert queued() == []
    answer_password_reset_requests()  # what the sender runs before it sends
    assert [m.to_address for m in queued()] == [user.email] * 15  # fifteen links, none for the stranger


def test_the_sender_retries_a_failing_mail_server_with_growing_pauses_then_delivers_once(app, client,
                                                                                            mail_server):
    """The server first stalls past the sender's timeout, then answers "busy": each failure is put back for
    later, 30 s then 60 s on; the third try delivers the reset link, once, and the sealed body is emptied."""
    server = mail_server(plan=["stall", "busy"], delay=1.0)
    user = UserFactory(email="chen@yuyuan.example")
    client.post("/password/forgot", data={"email": user.email})

    for attempt, pause in ((1, 30), (2, 60)):
        before = utcnow()
        assert send_due() == mail.SendReport(sent=0, failed=1)
        (message,) = queued()
        assert (message.attempts, message.sent_at, message.claim_token) == (attempt, None, None)
        assert message.last_error
        assert before + timedelta(seconds=pause - 1) <= message.next_attempt_at <= utcnow() + timedelta(seconds=pause)
        assert send_due() == mail.SendReport()  # not due yet: the server is left alone
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))  # the pause is over
        db.session.commit()

    assert send_due() == mail.SendReport(sent=1, failed=0)
    (message,) = queued()
    assert message.sent_at is not None and message.sealed_body == ""
    (received,) = [email.message_from_string(data, policy=email.policy.default) for data in server.received]
    assert received["To"] == user.email and RESET_LINK.search(received.get_content())
    assert send_due() == mail.SendReport() and server.connections == 3


def test_a_message_that_keeps_failing_is_given_up_after_the_last_attempt(app, mail_server):
    """OUTBOX_MAX_ATTEMPTS tries, then the message stays unsent with its last error, and is tried no more."""
    server = mail_server(plan=["busy"] * 10)
    app.config.update(OUTBOX_MAX_ATTEMPTS=2, OUTBOX_RETRY_SECONDS=0)
    queue_email("chen@yuyuan.example", "主题", "正文")
    db.session.commit()

    assert send_due() == mail.SendReport(failed=1)
    assert send_due() == mail.SendReport(failed=1)
    assert send_due() == mail.SendReport()
    (message,) = queued()
    assert (message.attempts, message.sent_at, server.connections) == (2, None, 2)
    assert "421" in message.last_error


def test_mail_is_saved_with_the_action_that_sends_it_and_sealed(app):
    """An email queued by an action that is then rolled back is never sent; one that is committed is stored
    without its secret link in clear, and reaches its reader intact."""
    queue_email("gone@yuyuan.example", "主题", "never")
    db.session.rollback()
    assert queued() == []

    queue_email("chen@yuyuan.example", "重置密码", "链接：http://localhost/password/reset/secret-token")
    db.session.commit()
    (message,) = queued()
    assert "secret-token" not in message.sealed_body and message.sealed_body

    assert send_due() == mail.SendReport(sent=1)
    (delivered,) = app.extensions["mail_outbox"]
    assert delivered["To"] == "chen@yuyuan.example" and delivered["Subject"] == "重置密码"
    assert "secret-token" in delivered.get_content()


def test_a_message_sealed_under_another_secret_key_is_given_up_not_retried(app):
    queue_email("chen@yuyuan.example", "主题", "正文")
    db.session.commit()
    app.config["SECRET_KEY"] = "rotated-" + "x" * 32

    assert send_due() == mail.SendReport(failed=1)
    assert send_due() == mail.SendReport()
    assert app.extensions["mail_outbox"] == []


def test_a_message_that_breaks_the_sender_is_put_back_and_the_others_still_go(app, monkeypatch):
    queue_email("odd@yuyuan.example", "主题", "正文")
    queue_email("chen@yuyuan.example", "主题", "正文")
    db.session.commit()
    deliver = mail._deliver

    def choke_on_odd(message):
        if message.to_address.startswith("odd"):
            raise ValueError("cannot encode this address")
        deliver(message)

    monkeypatch.setattr(mail, "_deliver", choke_on_odd)

    assert send_due() == mail.SendReport(sent=1, failed=1)
    odd, fine = queued()
    assert (odd.sent_at, odd.attempts, "ValueError" in odd.last_error) == (None, 1, True)
    assert fine.sent_at is not None


def test_flask_outbox_send_delivers_what_is_due(app, runner):
    for n in range(3):
        queue_email(f"shop{n}@yuyuan.example", "会费提醒", "请按时缴纳会费。")
    db.session.commit()

    result = runner.invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    assert "3 sent, 0 failed" in result.output
    assert sorted(e["To"] for e in app.extensions["mail_outbox"]) == [f"shop{n}@yuyuan.example" for n in range(3)]


@pytest.mark.postgres_only
def test_several_senders_at_once_send_every_message_exactly_once(app):
    """Four senders (four `flask outbox work` processes, or four web workers' threads) start together on 60
    messages, claiming five at a time: each message is delivered once."""
    for n in range(60):
        queue_email(f"shop{n}@yuyuan.example", f"通知 {n}", "正文")
    db.session.commit()

    reports = at_once(app, *[lambda: send_due(limit=5)] * 4)

    delivered = [e["To"] for e in app.extensions["mail_outbox"]]
    assert sorted(delivered) == sorted(f"shop{n}@yuyuan.example" for n in range(60))
    assert sum(r.sent for r in reports) == 60
    assert db.session.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None))) == 0


def test_in_development_the_web_process_sends_the_mail_itself(tmp_path: Path):
    """`make run` starts one process: with OUTBOX_THREAD, its first request starts a sender thread, so a
    reset link reaches the log (here: the memory backend) without a second process."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
                     OUTBOX_THREAD=True, OUTBOX_POLL_SECONDS=0.05)
    with app.app_context():
        db.create_all()
        db.session.add(UserFactory.build(email="chen@yuyuan.example"))
        db.session.commit()
    assert "outbox_thread" not in app.extensions  # `flask db upgrade` and friends start no sender

    try:
        response = app.test_client().post("/password/forgot", data={"email": "chen@yuyuan.example"})
        assert response.status_code == 302
        deadline = time.monotonic() + 10
        while not app.extensions.get("mail_outbox") and time.monotonic() < deadline:
            time.sleep(0.05)
        (delivered,) = app.extensions["mail_outbox"]
        assert delivered["To"] == "chen@yuyuan.example" and RESET_LINK.search(delivered.get_content())
    finally:
        thread, stop = app.extensions["outbox_thread"]
        stop.set()
        thread.join(5)
        with app.app_context():
            db.engine.dispose()


def test_each_reset_request_is_answered_once_in_the_language_it_was_asked_in(app, client):
    user = UserFactory(email="chen@yuyuan.example")
    UserFactory(email="gone@yuyuan.example", active=False)
    client.set_cookie("lang", "en")
    for address in ("chen@yuyuan.example", "gone@yuyuan.example", "nobody@yuyuan.example"):
        assert client.post("/password/forgot", data={"email": address}).status_code == 302
    answer_password_reset_requests()
    answer_password_reset_requests()  # a second sender, or the next round: nothing is answered twice
    (message,) = queued()
    assert message.to_address == user.email and message.subject == "Reset your password"
    assert db.session.scalar(select(func.count()).where(PasswordResetRequest.handled_at.is_(None))) == 0
