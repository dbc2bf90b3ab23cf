"""Language and time zone selection. Simplified Chinese is the default."""

from __future__ import annotations

from babel import Locale, support
from flask import current_app, has_request_context, request
from flask_babel import Domain, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

LANG_COOKIE = "lang"
LOGIN_REQUIRED = _l("Please log in to see this page.")


class CatalogueDomain(Domain):
    """Flask-Babel's message domain, finding a catalogue folder named like a LANGUAGES key.

    Babel expands "zh_CN" to zh_Hans_CN, and gettext then looks only in folders zh_Hans_CN and zh, so the
    translations/zh_CN catalogue was never loaded and every page stayed English. This looks for the app's
    own code (zh_CN) first, then Babel's names. Installed in the app factory as the default domain.
    """

    def get_translations(self) -> support.NullTranslations:
        locale = get_locale()
        if locale is None:  # outside an app or request context
            return support.NullTranslations()
        key = (str(locale), self.domain[0])
        translations = self.cache.get(key)
        if translations is None:
            names = [code for code in current_app.config["LANGUAGES"] if Locale.parse(code) == locale]
            translations = support.NullTranslations()
            for dirname in self.translation_directories:
                catalog = support.Translations.load(dirname, [*names, locale], self.domain[0])
                if isinstance(translations, support.Translations):
                    translations.merge(catalog)
                else:  # start from the first real catalogue, so its plural rule is kept
                    translations = catalog
            self.cache[key] = translations
        return translations


def select_locale() -> str:
    """The user's saved language, else the language cookie, else the default (zh_CN)."""
    languages = current_app.config["LANGUAGES"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    cookie = request.cookies.get(LANG_COOKIE) if has_request_context() else None
    if cookie in languages:
        return cookie
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_locale_code() -> str:
    """The current language as a key of LANGUAGES ("zh_CN"), not Babel's expanded form ("zh_Hans_CN")."""
    locale = get_locale()
    if locale is None:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    for code in current_app.config["LANGUAGES"]:
        if Locale.parse(code) == locale:
            return code
    return str(locale)


def html_lang() -> str:
    return current_locale_code().replace("_", "-")


def N_(message: str) -> str:
    """Mark a string for translation without translating it now (it is translated when shown)."""
    return message
