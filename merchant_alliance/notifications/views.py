"""The notification list and marking notifications read."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from merchant_alliance.accounts.forms import ConfirmForm
from merchant_alliance.extensions import db
from merchant_alliance.notifications import services
from merchant_alliance.notifications.models import Notification
from merchant_alliance.pagecache import lazy, user_scope
from merchant_alliance.urls import safe_next

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def link_of(note: Notification) -> str | None:
    """Where the notification leads (None: nowhere, or a page that no longer exists)."""
    if not note.endpoint:
        return note.link or None
    try:
        return url_for(note.endpoint, **(note.endpoint_args or {}))
    except BuildError:
        return None


@bp.route("")
@login_required
def index():
    page = lazy(db.paginate, services.notifications_for(current_user.id), per_page=30)
    return render_template("notifications/index.html", page=page, render_message=services.render_message,
                           confirm_form=lazy(ConfirmForm), cache_scopes=[user_scope(current_user.id)])


@bp.route("/<int:notification_id>/open", methods=["POST"])
@login_required
def open_notification(notification_id: int):
    note = db.session.get(Notification, notification_id)
    if note is None or note.user_id != current_user.id:
        abort(404)  # someone else's notification looks the same as one that does not exist
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("notifications.index"))
    services.mark_read(current_user.id, note.id)
    link = link_of(note)
    return redirect(safe_next(link) if link else url_for("notifications.index"))


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all():
    if ConfirmForm().validate_on_submit():
        services.mark_read(current_user.id)
    return redirect(safe_next(request.form.get("next"), "notifications.index"))
