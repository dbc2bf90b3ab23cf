"""The home page and each role's dashboard."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from merchant_alliance.public import views

    app.register_blueprint(views.bp)
