"""The street office's checklist and safety settings pages: only officers of that street reach them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from merchant_alliance.accounts.models import Street
from merchant_alliance.errors import refusals
from merchant_alliance.safety import checklists
from merchant_alliance.safety.checklist_forms import ChecklistForm, SafetySettingsForm
from merchant_alliance.safety.pages import for_logged_in_users, street_or_404

bp = for_logged_in_users(Blueprint("checklists", __name__, url_prefix="/streets/<int:street_id>/safety"))



def _page(street: Street, page: str, **context):
    return render_template(page, street=street, kind_labels=checklists.KIND_LABELS, kinds=checklists.KINDS,
                           **context)


@bp.route("/checklist")
def checklist(street_id: int):
    street = street_or_404(street_id)
    return _page(street, "safety/checklist.html", template=checklists.shown_version(street.id),
                 versions=checklists.versions_of(street.id), latest=True)


@bp.route("/checklist/versions/<int:number>")
def version(street_id: int, number: int):
    street = street_or_404(street_id)
    template = checklists.shown_version(street.id, number)
    if template is None:
        abort(404)
    return _page(street, "safety/checklist.html", template=template, versions=checklists.versions_of(street.id),
                 latest=False)


@bp.route("/checklist/edit", methods=["GET", "POST"])
def edit(street_id: int):
    street = street_or_404(street_id)
    form = ChecklistForm()
    if request.method == "GET":
        form.fill(checklists.shown_version(street.id))
    elif form.validate_on_submit():
        with refusals(form) as attempt:
            template = checklists.save_version(current_user, street, form.specs(), form.note.data,
                                               based_on=form.based_on.data, idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Version %(n)s saved.", n=template.version), "success")
            return redirect(url_for("checklists.checklist", street_id=street.id))
        form.show_problems(attempt.error)
    return _page(street, "safety/checklist_edit.html", form=form)


@bp.route("/settings", methods=["GET", "POST"])
def settings(street_id: int):
    street = street_or_404(street_id)
    current = checklists.shown_settings(street.id)
    days = ("high_risk_days", "medium_risk_days", "low_risk_days", "critical_days", "major_days", "minor_days")
    form = SafetySettingsForm(data={"street_code": current.code, **{name: getattr(current, name) for name in days}})
    if form.validate_on_submit():
        with refusals(form, "street_code") as attempt:
            checklists.update_settings(current_user, street, form.street_code.data,
                                       *(form[name].data for name in days))
        if attempt.ok:
            flash(_("The safety settings have been saved."), "success")
            return redirect(url_for("checklists.settings", street_id=street.id))
    return _page(street, "safety/settings.html", form=form)
