"""The street office's API keys page: the keys city systems use to post reports through Open311, a form to issue
one (its secret shown once, on the answer to that form) and a button to revoke each. Officers of the street only."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import Length

from merchant_alliance.errors import refusals
from merchant_alliance.extensions import db
from merchant_alliance.once import IdempotentForm
from merchant_alliance.reports import api_keys
from merchant_alliance.reports.models import ApiKey
from merchant_alliance.safety.checklists import shown_settings
from merchant_alliance.safety.pages import for_logged_in_users, street_or_404
from merchant_alliance.urls import external_url

bp = for_logged_in_users(Blueprint("api_keys", __name__, url_prefix="/streets/<int:street_id>/api-keys"))


class ApiKeyForm(IdempotentForm):
    # The rules (required, length) are the service's: it puts its refusal under this field.
    name = StringField(_l("Who the key is for"), description=_l("The city system or office, such as 12345 热线."),
                       validators=[Length(max=100, message=_l("Please keep this under %(max)d characters."))])



@bp.route("", methods=["GET", "POST"])
def keys(street_id: int):
    street = street_or_404(street_id)
    form = ApiKeyForm()
    issued, secret = None, None
    if form.validate_on_submit():
        with refusals(form, "name") as attempt:
            issued, secret = api_keys.issue(current_user, street, form.name.data,
                                            idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            form = ApiKeyForm(formdata=None)  # the next key gets a form (and a one-time key) of its own
    response = render_template(
        "reports/api_keys.html", street=street, form=form, keys=api_keys.keys_of(street.id), issued=issued,
        secret=secret, jurisdiction_id=shown_settings(street.id).code,
        services_url=external_url("open311.services", fmt="json"),
        requests_url=external_url("open311.requests", fmt="json"))
    # The secret is on this page once: no cache (the browser's or a proxy's) may keep it.
    return response, {"Cache-Control": "no-store"}


@bp.post("/<int:api_key_id>/revoke")
def revoke(street_id: int, api_key_id: int):
    street = street_or_404(street_id)
    key = db.session.get(ApiKey, api_key_id)
    if key is None or key.street_id != street.id:
        abort(404)
    with refusals() as attempt:
        api_keys.revoke(current_user, key)
    if attempt.ok:
        flash(_("The key %(prefix)s… no longer works.", prefix=key.prefix), "success")
    return redirect(url_for("api_keys.keys", street_id=street.id))
