"""Domain errors and the handlers that turn errors into friendly pages or JSON."""

from __future__ import annotations

from flask import Flask, flash, jsonify, redirect, render_template, request
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from merchant_alliance.urls import back


class DomainError(Exception):
    """A business rule refused an action. The message is translatable and shown to the user."""

    status_code = 400
    field: str | None = None  # the form field the message is about, when there is one

    def __init__(self, message: str | LazyString, **params: object) -> None:
        super().__init__(str(message))
        self.message = message
        self.params = params

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text

    def on(self, field: str) -> DomainError:
        """Say which form field this is about: `raise DomainError(...).on("due_on")`."""
        self.field = field
        return self


def show_on_form(form, error: DomainError, default: str) -> None:
    """Put a refusal under the field it is about (or under `default`), where the person will look."""
    field = getattr(form, error.field or default, None) or getattr(form, default)
    field.errors = [*field.errors, str(error)]


class NotAllowed(DomainError):
    """The acting user may not do this to this object."""

    status_code = 403

    def __init__(self, message: str | LazyString | None = None, **params: object) -> None:
        super().__init__(message or _l("You are not allowed to do that."), **params)


ERROR_TITLES = {
    400: _l("Bad request"),
    403: _l("Not allowed"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    413: _l("File too large"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
}

ERROR_MESSAGES = {
    400: _l("The request could not be understood. Please go back and try again."),
    403: _l("You do not have permission to see this page."),
    404: _l("There is nothing here. The link may be wrong or out of date."),
    405: _l("That action is not possible on this page."),
    413: _l("The upload is larger than allowed. Please choose a smaller file."),
    429: _l("Too many attempts. Please wait a few minutes and try again."),
    500: _l("Sorry, something went wrong on our side. It has been logged; please try again."),
}


CSRF_MESSAGE = _l("This form has expired or was sent from elsewhere. Please reload the page and try again.")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or best == "application/json"


def render_error(code: int, message: str | None = None):
    if _wants_json():
        body = {"error": str(ERROR_TITLES.get(code, code)), "message": message or str(ERROR_MESSAGES.get(code, ""))}
        return jsonify(body), code
    return (
        render_template(
            "errors/error.html",
            code=code,
            title=ERROR_TITLES.get(code, ERROR_TITLES[500]),
            message=message or ERROR_MESSAGES.get(code, ERROR_MESSAGES[500]),
        ),
        code,
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        if _wants_json() or request.method == "GET":
            return render_error(error.status_code, str(error))
        flash(str(error), "error")
        return redirect(back())

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        code = error.code or 500
        if code in ERROR_TITLES:
            message = None
            if code == 400 and getattr(error, "description", "").startswith("The CSRF"):
                message = str(CSRF_MESSAGE)
            return render_error(code, message)
        return error

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        from merchant_alliance.extensions import db

        db.session.rollback()
        return render_error(500)
