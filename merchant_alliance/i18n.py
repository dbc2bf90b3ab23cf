"""Language and time zone selection. Simplified Chinese is the default."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, support
from babel.dates import DateTimePattern, get_date_format, get_datetime_format, get_time_format, parse_pattern
from flask import current_app, g, has_request_context, request
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
        # Once per request (every gettext asks): kept where Flask-Babel keeps its request state, which
        # `force_locale` clears and puts back, so rendering inside it still switches the language.
        state = g.get("_flask_babel") if g else None
        kept = getattr(state, "babel_translations", None)
        if kept is not None:
            return kept
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
        state = g.get("_flask_babel")  # made by get_locale()
        if state is not None:
            state.babel_translations = translations
        return translations


def select_locale() -> Locale:
    """The user's saved language, else the language cookie, else the default (zh_CN)."""
    languages = current_app.config["LANGUAGES"]
    if getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return _parsed(current_user.locale)
    cookie = request.cookies.get(LANG_COOKIE) if has_request_context() else None
    if cookie in languages:
        return _parsed(cookie)
    return _parsed(current_app.config["BABEL_DEFAULT_LOCALE"])


@lru_cache(maxsize=16)
def _parsed(code: str) -> Locale:
    """Babel's Locale for a LANGUAGES key, parsed once per process (parsing costs ~0.4 ms a request)."""
    return Locale.parse(code)


@lru_cache(maxsize=64)
def _code_for(locale: str, languages: tuple[str, ...]) -> str:
    """The LANGUAGES key Babel's locale name stands for (parsing locales is slow: done once per name)."""
    parsed = Locale.parse(locale)
    return next((code for code in languages if Locale.parse(code) == parsed), locale)


def current_locale_code() -> str:
    """The current language as a key of LANGUAGES ("zh_CN"), not Babel's expanded form ("zh_Hans_CN")."""
    locale = get_locale()
    if locale is None:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return _code_for(str(locale), tuple(current_app.config["LANGUAGES"]))


def html_lang() -> str:
    return current_locale_code().replace("_", "-")


def N_(message: str) -> str:
    """Mark a string for translation without translating it now (it is translated when shown)."""
    return message


NAMED_FORMATS = ("short", "medium", "long", "full")


@lru_cache(maxsize=64)
def _pattern(locale_code: str, kind: str, format: str) -> DateTimePattern:
    """Babel's pattern for a named format ("short", "medium") in a language, parsed once per process.
    A datetime's pattern is the locale's date and time patterns combined the way Babel combines them."""
    locale = _parsed(locale_code)
    if format not in NAMED_FORMATS:
        return parse_pattern(format)  # a pattern of its own, e.g. "yyyy-MM"
    if kind == "date":
        return get_date_format(format, locale)
    combined = (str(get_datetime_format(format, locale)).replace("'", "")
                .replace("{0}", get_time_format(format, locale).pattern)
                .replace("{1}", get_date_format(format, locale).pattern))
    return parse_pattern(combined)


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    """A UTC datetime in the reader's language and the app's time zone, as Flask-Babel's `datetimeformat`
    writes it, five times faster: a list page formats dozens of them."""
    if value is None:
        return ""
    local = value.replace(tzinfo=UTC).astimezone(_zone(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    return _pattern(current_locale_code(), "datetime", format).apply(local, _parsed(current_locale_code()))


def format_date(value: date | datetime | None, format: str = "medium") -> str:
    """A date (or a UTC datetime's local date) in the reader's language, as Flask-Babel's `dateformat`."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.replace(tzinfo=UTC).astimezone(_zone(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    return _pattern(current_locale_code(), "date", format).apply(value, _parsed(current_locale_code()))


@lru_cache(maxsize=4)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
