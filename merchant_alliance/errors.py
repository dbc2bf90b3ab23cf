"""Domain errors and the handlers that turn errors into friendly pages or JSON."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, flash, g, has_request_context, jsonify, make_response, redirect, render_template, request
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from werkzeug.exceptions import BadRequest, HTTPException, SecurityError

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


def show_on_form(form, error: DomainError, default: str | None = None) -> bool:
    """Put a refusal under the field it is about (or under `default`), where the person will look.
    False when the form has no such field (the caller then flashes it)."""
    target = getattr(form, error.field, None) if error.field else None
    if target is None and default:
        target = getattr(form, default)
    if target is None:
        return False
    target.errors = [*target.errors, str(error)]
    return True


class Attempt:
    """What `refusals` saw: `ok` until a rule refused; then `error` is the refusal."""

    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@contextmanager
def refusals(form=None, field: str | None = None) -> Iterator[Attempt]:
    """Run a service call; a refusal (DomainError) is undone and told to the person, once, for every view.

        with refusals(form, "amount") as attempt:
            entry = services.record_entry(...)
        if attempt.ok:
            return redirect(...)

    The transaction is rolled back (files the request wrote go with it), and the message is put under
    the field the error names (or `field`) when there is a form, otherwise flashed.
    """
    from merchant_alliance.extensions import db

    attempt = Attempt()
    try:
        yield attempt
    except DomainError as error:
        db.session.rollback()
        attempt.error = error
        if form is None or not show_on_form(form, error, field):
            flash(str(error), "error")


def form_refusal(form, when_empty: str | LazyString) -> str:
    """Why a short form (a comment, a reason) was refused: the error of a field that was filled in, such as
    that it is too long; `when_empty` when nothing was written."""
    for field in form:
        if field.errors and any(str(value).strip() for value in field.raw_data or ()):
            return str(field.errors[0])
    return str(when_empty)


class NotAllowed(DomainError):
    """The acting user may not do this to this object."""

    status_code = 403

    def __init__(self, message: str | LazyString | None = None, **params: object) -> None:
        super().__init__(message or _l("You are not allowed to do that."), **params)


class BadInput(BadRequest):
    """Malformed input (a NUL byte, a number or a date out of range): a 400 page that says what is wrong."""

    def __init__(self, message: str | LazyString, **params: object) -> None:
        super().__init__()
        self.message = message
        self.params = params

    def text(self) -> str:
        """The message in the reader's language (evaluated when the page is made, not when raised)."""
        text = str(self.message)
        return text % self.params if self.params else text


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
            header_scopes=None,  # an error page reads nothing more from a database that may have failed
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
        if isinstance(error, SecurityError):
            # A Host outside TRUSTED_HOSTS, refused before routing: no URL (so no page) can be built.
            return app.response_class(str(ERROR_TITLES[400]), 400, mimetype="text/plain")
        code = error.code or 500
        if code in ERROR_TITLES:
            message = None
            if isinstance(error, BadInput):
                message = error.text()
            elif code == 400 and getattr(error, "description", "").startswith("The CSRF"):
                message = str(CSRF_MESSAGE)
            response = make_response(render_error(code, message))
            # Keep what the exception says about itself, e.g. the `Allow` header of a 405.
            for name, value in error.get_headers():
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response
        return error

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        from merchant_alliance.extensions import db

        db.session.rollback()
        if g.get("saved_something") and request.method == "POST" and not _wants_json():
            # The action is in the database; only what came after failed. Say so, so that nobody
            # records the same payment again.
            flash(str(SAVED_BUT_NOT_SHOWN), "info")
            return redirect(back(), code=303)
        return render_error(500)

    from merchant_alliance.extensions import db

    for name, hook in (("after_flush", _note_write), ("do_orm_execute", _note_statement),
                       ("after_commit", _note_commit), ("after_rollback", _forget_writes)):
        if not event.contains(db.session, name, hook):
            event.listen(db.session, name, hook)


def _note_write(session, flush_context) -> None:
    session.info["wrote"] = True


def _note_statement(execute_state) -> None:
    if execute_state.is_update or execute_state.is_delete or execute_state.is_insert:
        execute_state.session.info["wrote"] = True


def _forget_writes(session) -> None:
    session.info.pop("wrote", None)


def _note_commit(session) -> None:
    """Remember that this request saved something (for the error handler above); a commit that wrote
    nothing (closing a read) does not count."""
    if session.info.pop("wrote", False) and has_request_context():
        g.saved_something = True


SAVED_BUT_NOT_SHOWN = _l("Your change was saved, but the next page could not be shown. "
                         "Please do not send it again: check this page to see it.")
