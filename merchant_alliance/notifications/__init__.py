"""In-app notifications: the notify() service, the bell and the list."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The notification list, and the bell's unread count on every page of a logged-in user."""
    from flask import g, request
    from flask_login import current_user

    from merchant_alliance.accounts.sessions import read_with_user
    from merchant_alliance.notifications import views
    from merchant_alliance.notifications.services import unread_count, unread_count_of_user

    app.register_blueprint(views.bp)
    read_with_user("unread_notifications", unread_count_of_user)

    @app.context_processor
    def unread_notifications() -> dict:
        if not current_user.is_authenticated:
            return {"unread_notifications": 0}
        if "unread" not in g:  # once per request, however many templates ask
            read = current_user.read_with.get("unread_notifications") if request.method == "GET" else None
            # a form that writes (and may notify) counts again after its writes
            g.unread = unread_count(current_user.id) if read is None else read
        return {"unread_notifications": g.unread}
