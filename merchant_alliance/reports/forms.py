"""Forms of hazard reports. The rules are the service's (merchant_alliance.reports.services): a form only turns
what was typed into values, so that the page and the Open311 API refuse the same input with the same words."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, MultipleFileField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from merchant_alliance.inputs import MAX_ID
from merchant_alliance.reports.models import Service
from merchant_alliance.reports.services import MAX_DESCRIPTION
from merchant_alliance.shops.forms import PHOTO_INPUT

# The service says the same (services.TOO_LONG); the form says it first, before a photo is even looked at.
TOO_LONG = _l("Please keep this under %(max)d characters.")


def at_most(n: int) -> list:
    return [Optional(), Length(max=n, message=TOO_LONG)]


class SignReportForm(FlaskForm):
    """A report of a sign already known (opened from its safety tag): no place to choose."""

    photos = MultipleFileField(_l("Photos of the sign"), render_kw={**PHOTO_INPUT, "required": True},
                               description=_l("Up to 3 photos. Take them from a safe place."))
    service = RadioField(_l("What is wrong?"), choices=lambda: [(s.value, s.label) for s in Service],
                         validate_choice=False)
    description = TextAreaField(_l("What did you see?"), validators=at_most(MAX_DESCRIPTION),
                                render_kw={"maxlength": MAX_DESCRIPTION, "rows": 4},
                                description=_l("At most %(n)s characters.", n=MAX_DESCRIPTION))
    urgent = BooleanField(_l("Someone could be hurt now"))
    reporter_name = StringField(_l("Your name (optional)"), validators=at_most(50),
                                render_kw={"maxlength": 50, "autocomplete": "name"})
    reporter_contact = StringField(_l("Phone or email (optional)"), validators=at_most(100),
                                   render_kw={"maxlength": 100, "autocomplete": "tel"},
                                   description=_l("Only the street office sees your name and contact."))
    share_location = BooleanField(_l("Share my location"),
                                  description=_l("Helps the street office find the sign. Not shown to the public."))
    latitude = HiddenField(validators=at_most(20))
    longitude = HiddenField(validators=at_most(20))

    def values(self) -> dict:
        return {"service": self.service.data or "", "description": self.description.data or "",
                "urgent": bool(self.urgent.data), "reporter_name": self.reporter_name.data or "",
                "reporter_contact": self.reporter_contact.data or "", "share_location": bool(self.share_location.data),
                "latitude": self.latitude.data or None, "longitude": self.longitude.data or None}


class StreetReportForm(SignReportForm):
    """A report from the street's page: the shop chosen from a list, or a house number typed on a road."""

    shop = SelectField(_l("The shop"), validate_choice=False)
    road = SelectField(_l("Road"), validate_choice=False)
    house_number = StringField(_l("House number"), validators=at_most(30),
                               render_kw={"maxlength": 30, "inputmode": "text"},
                               description=_l("If the shop is not in the list, type its house number."))

    def place(self) -> dict:
        return {"shop_id": as_id(self.shop.data), "alliance_id": as_id(self.road.data),
                "house_number": self.house_number.data or ""}


def as_id(value: object) -> int | None:
    """An id chosen in a select, or None for nothing (or anything that is no id)."""
    text = str(value or "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return None
    return int(text) if 0 < int(text) <= MAX_ID else None


class LinkForm(FlaskForm):
    signboard = SelectField(_l("The sign"), validate_choice=False)


class DismissForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=at_most(1000), render_kw={"maxlength": 1000, "rows": 3},
                           description=_l("The reporter and the public read it."))
