"""Language and time zone selection. Simplified Chinese is the default."""

from __future__ import annotations

from flask import current_app, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

LANG_COOKIE = "lang"
LOGIN_REQUIRED = _l("Please log in to see this page.")


def select_locale() -> str:
    """The user's saved language, else the language cookie, else the default (zh_CN)."""
    languages = current_app.config["LANGUAGES"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in languages:
        return cookie
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_locale_code() -> str:
    locale = get_locale()
    return str(locale) if locale else current_app.config["BABEL_DEFAULT_LOCALE"]


def html_lang() -> str:
    return current_locale_code().replace("_", "-")
