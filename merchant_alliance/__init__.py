"""愚园路 merchant alliance platform: the application factory."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from flask import Flask, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from config import INSTANCE_DIR, Config, config_for

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: type[Config] | str | None = None, **overrides: object) -> Flask:
    """Build the app. `config` is a config class or a name (development, testing, production)."""
    config_class = config if isinstance(config, type) else config_for(config)
    config_class.check()
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
        instance_relative_config=True,
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if app.config["TRUSTED_PROXIES"] > 0:
        # Behind N reverse proxies the client's address and scheme are what the proxies say (and only
        # the last N hops of X-Forwarded-For are believed); without proxies the headers are ignored.
        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    register_extensions(app)
    register_input_checks(app)
    register_domains(app)
    register_template_helpers(app)
    register_error_handlers(app)
    register_commands(app)
    configure_logging(app)
    return app


def register_extensions(app: Flask) -> None:
    from merchant_alliance import i18n, mail, pagecache, storage
    from merchant_alliance.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale,
                   timezone_selector=lambda: app.config["BABEL_DEFAULT_TIMEZONE"])
    babel.domain_instance = i18n.CatalogueDomain()  # finds translations/zh_CN (see its docstring)
    limiter.init_app(app)
    pagecache.init_app(app)
    storage.init_app(app)
    mail.init_app(app)  # in development, a thread that sends the outbox's mail
    login_manager.init_app(app)  # accounts.init_app says how users are loaded


def register_input_checks(app: Flask) -> None:
    """Bounded ids in URLs and a 400 for text nobody can store; before the blueprints add their routes."""
    from merchant_alliance import inputs

    inputs.init_app(app)


# Each domain plugs in through its package's `init_app(app)`: blueprints, permission rules, menu
# entries, page cards, audit labels, checks and demo data. Adding a domain is one more name here.
DOMAINS = ("public", "accounts", "alliances", "shops", "notifications", "photos", "projects", "funds", "safety",
           "works", "reports")


def register_domains(app: Flask) -> None:
    for name in DOMAINS:
        importlib.import_module(f"{__name__}.{name}").init_app(app)


def register_template_helpers(app: Flask) -> None:
    from merchant_alliance import audit, i18n, navigation, pagecache
    from merchant_alliance.money import format_fen

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals["audit_label"] = audit.action_label
    app.jinja_env.globals["object_label"] = audit.object_label
    app.jinja_env.filters["money"] = format_fen
    app.jinja_env.filters["datetimeformat"] = i18n.format_datetime  # Flask-Babel's, with patterns cached
    app.jinja_env.filters["dateformat"] = i18n.format_date

    @app.context_processor
    def layout_context() -> dict:
        return {
            "languages": app.config["LANGUAGES"],
            "current_locale": i18n.current_locale_code(),
            "nav_items": pagecache.lazy(navigation.items_for, current_user._get_current_object())
            if current_user.is_authenticated else [],
            # the header of a logged-in user's pages, cached (an anonymous visitor's costs less than a lookup)
            "header_scopes": pagecache.own_scopes(current_user) if current_user.is_authenticated else None,
        }

    # Photos on an object store arrive by redirect from its own origin, which img-src must allow.
    photo_origin = app.extensions["storage"].url_origin()
    img_src = " ".join(["'self'", "data:", "blob:", *([photo_origin] if photo_origin else [])])

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src {img_src}; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def register_error_handlers(app: Flask) -> None:
    from merchant_alliance.errors import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from merchant_alliance.cli import register

    register(app)


def configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
