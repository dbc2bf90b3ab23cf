"""Hazard reports from the public: a passer-by reports a dangerous sign from a phone without an account, the
street office triages it into an inspection, the reporter follows it by a private link, and city systems read
(and post) reports through an Open311 GeoReport v2 API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The report pages, the Open311 API, rules, hooks on inspections, menu entries and demo data."""
    from merchant_alliance.reports import models  # noqa: F401 - the tables, until the pages import them
