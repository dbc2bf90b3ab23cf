"""Dates and times on pages: written as Flask-Babel writes them, in the reader's language and Shanghai time.

The app formats them with patterns cached per language (a list page writes dozens); these tests hold the
fast path to Babel's own output for every named format, both languages, and times that change day in
Shanghai.
"""

from __future__ import annotations

from datetime import date, datetime

import flask_babel
import pytest

from merchant_alliance import i18n

MOMENTS = [datetime(2026, 11, 30, 20, 30), datetime(2026, 1, 1, 0, 0), datetime(2025, 6, 15, 15, 59, 59),
           datetime(2024, 2, 29, 16, 0)]


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("format", ["short", "medium", "long", "full", "yyyy-MM"])
def test_dates_and_times_read_as_babel_writes_them(app, locale, format):
    with app.test_request_context(), flask_babel.force_locale(locale):
        for moment in MOMENTS:
            assert i18n.format_datetime(moment, format) == flask_babel.format_datetime(moment, format)
            assert i18n.format_date(moment, format) == flask_babel.format_date(moment, format)
            assert i18n.format_date(moment.date(), format) == flask_babel.format_date(moment.date(), format)


def test_a_utc_evening_is_the_next_morning_in_shanghai_and_nothing_is_empty_text(app):
    with app.test_request_context(), flask_babel.force_locale("zh_CN"):
        assert i18n.format_datetime(datetime(2026, 11, 30, 20, 30), "short") == "2026/12/1 04:30"
        assert i18n.format_date(datetime(2026, 11, 30, 20, 30), "short") == "2026/12/1"
        assert i18n.format_date(date(2026, 11, 30), "short") == "2026/11/30"
        assert i18n.format_datetime(None) == i18n.format_date(None) == ""
    with app.test_request_context(), flask_babel.force_locale("en"):
        assert i18n.format_datetime(datetime(2026, 11, 30, 20, 30), "short") == "12/1/26, 4:30\u202fAM"


def test_pages_use_the_cached_formats(app):
    assert app.jinja_env.filters["datetimeformat"] is i18n.format_datetime
    assert app.jinja_env.filters["dateformat"] is i18n.format_date


def test_the_catalogue_kept_for_a_request_still_follows_force_locale(app):
    """The catalogue is looked up once per request; an email written in its reader's language inside the
    request (force_locale) must still come out in that language, and the page after it in the page's."""
    with app.test_request_context():
        page_language = flask_babel.gettext("Bad request")
        with flask_babel.force_locale("en"):
            assert flask_babel.gettext("Bad request") == "Bad request"
            assert app.jinja_env.from_string("{{ _('Bad request') }}").render() == "Bad request"
        assert flask_babel.gettext("Bad request") == page_language != "Bad request"
        assert app.jinja_env.from_string("{{ _('Bad request') }}").render() == page_language
