"""In-app notifications: the notify() service, the bell and the list."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The notification list, and the bell's unread count on every page of a logged-in user."""
    from flask import g
    from flask_login import current_user

    from merchant_alliance.notifications import views
    from merchant_alliance.notifications.services import unread_count

    app.register_blueprint(views.bp)

    @app.context_processor
    def unread_notifications() -> dict:
        if not current_user.is_authenticated:
            return {"unread_notifications": 0}
        if "unread" not in g:  # once per request, however many templates ask
            g.unread = unread_count(current_user.id)
        return {"unread_notifications": g.unread}
