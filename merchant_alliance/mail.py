"""Send email: to the log in development, through SMTP when configured, to a list in tests."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app


def send_email(to: str, subject: str, body: str) -> None:
    """Send a plain-text email now. Failures are logged, never shown to the user as a 500."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    backend = config["MAIL_BACKEND"]
    if backend == "memory":
        current_app.extensions.setdefault("mail_outbox", []).append(message)
    elif backend == "smtp":
        smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
        try:
            with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
                if not config["MAIL_USE_SSL"]:
                    smtp.starttls()
                if config["MAIL_USERNAME"]:
                    smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException):
            current_app.logger.exception("Could not send email to %s", to)
    else:
        current_app.logger.info("Email to %s: %s\n%s", to, subject, body)
