"""The signboard registry's pages: a street's signs (and their CSV), planning a road's periodic inspections, the
printable route of a day, and one sign's registry page with its whole history and its removal.

The street's pages are for its officers only (anyone else gets what the checklist pages give them); a sign's page
is for whoever may see the sign.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from merchant_alliance import authz, panels
from merchant_alliance.accounts.forms import ConfirmForm
from merchant_alliance.errors import form_refusal, refusals
from merchant_alliance.i18n import format_date
from merchant_alliance.inputs import date_arg, int_arg
from merchant_alliance.safety import checklists, registry
from merchant_alliance.safety import registry_queries as queries
from merchant_alliance.safety.models import InspectionState
from merchant_alliance.safety.pages import for_logged_in_users, street_or_404
from merchant_alliance.safety.registry_forms import PlanForm, RemovalForm
from merchant_alliance.timeutil import local_today

bp = for_logged_in_users(Blueprint("registry", __name__))



def _filters() -> queries.Filters:
    return queries.filters_from(request.args, int_arg("road"))


@bp.route("/streets/<int:street_id>/registry")
def registry_list(street_id: int):
    street = street_or_404(street_id)
    today = local_today()
    filters = _filters()
    page = queries.registry_page(street.id, filters, queries.Cursor.parse(request.args.get("after")), today)
    roads = queries.roads_of(street.id)
    plan_form = PlanForm(formdata=None, day=today + timedelta(days=1)).offer(roads)
    return render_template(
        "safety/registry.html", street=street, page=page, filters=filters, roads=roads, today=today,
        flags=queries.FLAG_LABELS, status_labels=registry.STATUS_LABELS, plan_form=plan_form,
        first_page=not request.args.get("after"))


@bp.route("/streets/<int:street_id>/registry.csv")
def registry_csv(street_id: int):
    """The filtered registry as a spreadsheet, streamed: its rows are read in batches while it is sent."""
    street = street_or_404(street_id)
    today = local_today()
    pieces = queries.registry_csv(queries.all_lines(street.id, _filters(), today), today)
    body = stream_with_context(piece.encode("utf-8") for piece in pieces)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="sign-registry-{street.id}-{today.isoformat()}.csv"'})


@bp.route("/streets/<int:street_id>/registry/plan", methods=["POST"])
def plan(street_id: int):
    street = street_or_404(street_id)
    roads = queries.roads_of(street.id)
    form = PlanForm().offer(roads)
    if not form.validate_on_submit():  # a road of another street is not among the choices
        flash(form_refusal(form, _("Choose a road and a day.")), "error")
        return redirect(url_for("registry.registry_list", street_id=street.id))
    alliance = next(road for road in roads if road.id == form.road.data)
    with refusals() as attempt:
        planned = registry.plan_periodic(current_user, alliance, form.day.data)
    if not attempt.ok:
        return redirect(url_for("registry.registry_list", street_id=street.id))
    day = format_date(form.day.data)
    if planned.planned:
        flash(ngettext("Planned %(num)s inspection for %(day)s.", "Planned %(num)s inspections for %(day)s.",
                       planned.planned, day=day), "success")
    else:
        flash(_("No sign of this road is due by %(day)s without an inspection already under way.", day=day), "info")
    if planned.skipped:
        flash(ngettext("%(num)s sign was skipped: another officer had just started its inspection.",
                       "%(num)s signs were skipped: another officer had just started their inspections.",
                       planned.skipped), "info")
    return redirect(url_for("registry.route", street_id=street.id, day=form.day.data.isoformat()))


@bp.route("/streets/<int:street_id>/route")
def route(street_id: int):
    street = street_or_404(street_id)
    day = date_arg("day") or local_today()
    roads = queries.route_of(street.id, day)
    return render_template("safety/route.html", street=street, day=day, roads=roads,
                           stops=sum(len(r.odd) + len(r.even) + len(r.other) for r in roads),
                           previous_day=day - timedelta(days=1), next_day=day + timedelta(days=1))


# --- one sign -------------------------------------------------------------------------------------------------


def _signboard_or_404(signboard_id: int):
    signboard = queries.load_signboard(signboard_id)
    if signboard is None:
        abort(404)
    authz.require(current_user, "view", signboard)
    return signboard


def _sign_page(signboard, removal_form: RemovalForm | None = None):
    today = local_today()
    history = queries.history_of(signboard.id)
    street_id = signboard.street_id
    officer = authz.officer_of(current_user, street_id)
    removed = signboard.removed_at is not None
    may_remove = not removed and authz.can(current_user, "close_as_removed", signboard)
    under_way = next((i for i in history.inspections if i.state == InspectionState.OPEN), None)
    reasons = queries.risk_reasons(signboard, today)
    return render_template(
        "safety/registry_sign.html", signboard=signboard, shop=signboard.shop, history=history, today=today,
        status=registry.status_of(signboard, today), status_labels=registry.STATUS_LABELS,
        reasons=reasons, points=sum(reason.points for reason in reasons),
        interval=checklists.shown_settings(street_id).interval_for(signboard.risk) if officer else None,
        officer=officer, under_way=under_way, may_inspect=officer and not removed and under_way is None,
        confirm_form=ConfirmForm(), removal_form=(removal_form or RemovalForm(formdata=None)) if may_remove else None,
        panels=panels.for_page("signboard", signboard, current_user))


@bp.route("/signboards/<int:signboard_id>/registry")
def sign(signboard_id: int):
    return _sign_page(_signboard_or_404(signboard_id))


@bp.route("/signboards/<int:signboard_id>/removal", methods=["POST"])
def removal(signboard_id: int):
    signboard = _signboard_or_404(signboard_id)
    authz.require(current_user, "close_as_removed", signboard)
    form = RemovalForm()
    if form.validate_on_submit():
        # A photo that is not one (or too many) is said under the photo field, like the missing photo.
        with refusals(form, "photos") as attempt:
            registry.remove(current_user, signboard, form.removal_note.data or "", form.photos.data or [])
        if attempt.ok:
            flash(_("The sign is closed in the registry as removed."), "success")
            return redirect(url_for("registry.sign", signboard_id=signboard.id))
        signboard = _signboard_or_404(signboard_id)  # as it is now (the refusal rolled back)
        if signboard.removed_at is not None:  # someone closed it meanwhile: no form left to show the message on
            flash(str(attempt.error), "error")
            return redirect(url_for("registry.sign", signboard_id=signboard.id))
    return _sign_page(signboard, form)
