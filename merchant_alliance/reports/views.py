"""Hazard report pages: anyone reports a dangerous sign from a phone (from the street's page or a sign's safety
tag) and follows it by a private link; the public list of a street's reports shows nothing private; the street
office triages each report into an inspection. Also the reports' cards on a sign's registry page and on the
officer's home."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from merchant_alliance import authz
from merchant_alliance.accounts.models import Role, Street
from merchant_alliance.errors import form_refusal, refusals
from merchant_alliance.extensions import db, limiter
from merchant_alliance.inputs import int_arg, page_arg
from merchant_alliance.reports import queries, services
from merchant_alliance.reports.forms import DismissForm, LinkForm, SignReportForm, StreetReportForm, as_id
from merchant_alliance.reports.models import HazardReport, ReportState, Service
from merchant_alliance.reports.services import reports
from merchant_alliance.safety import certificates
from merchant_alliance.safety.certificates import Status
from merchant_alliance.safety.models import InspectionState
from merchant_alliance.shops.models import Signboard
from merchant_alliance.urls import external_url

bp = Blueprint("reports", __name__)

# Per client (its address), shared by both report forms: a person reports a few signs, a script is stopped.
REPORT_LIMIT = "5 per minute;30 per hour"


# --- reporting, without an account ------------------------------------------------------------------------


@bp.route("/streets/<int:street_id>/report", methods=["GET", "POST"])
@limiter.shared_limit(REPORT_LIMIT, scope="hazard-report", methods=["POST"])
def report_on_street(street_id: int):
    street = db.get_or_404(Street, street_id)
    roads = queries.roads_of(street.id)
    if not roads:
        abort(404)  # a street with no alliance yet has nothing to report
    form = StreetReportForm()
    form.shop.choices = [("", _("Choose the shop"))] + [
        (road.label, [(str(shop.id), f"{shop.house_number} · {shop.name}") for shop in road.shops])
        for road in roads if road.shops]
    form.road.choices = [(str(road.alliance.id), road.label) for road in roads]
    if len(roads) == 1:
        form.road.data = str(roads[0].alliance.id)
    if form.validate_on_submit():
        return _receive(form, street, form.place(), again=lambda: _street_form(street, form, roads))
    return _street_form(street, form, roads)


def _street_form(street: Street, form: StreetReportForm, roads: list):
    return _form_page(street=street, form=form, roads=roads, signboard=None)


def _form_page(**context):
    return render_template("reports/report_form.html", descriptions={s.value: s.description for s in Service},
                           **context)


@bp.route("/tags/<token>/report", methods=["GET", "POST"])
@limiter.shared_limit(REPORT_LIMIT, scope="hazard-report", methods=["POST"])
def report_on_tag(token: str):
    """The report form opened from a sign's public safety tag: the sign is known."""
    found = certificates.public_status(token)
    if found is None:
        abort(404)
    signboard = found.certificate.signboard
    street = signboard.shop.alliance.street
    form = SignReportForm()
    if found.status == Status.REMOVED:
        return _form_page(street=street, form=None, signboard=signboard, token=token, removed=True)

    def again():
        return _form_page(street=street, form=form, signboard=signboard, token=token)

    if form.validate_on_submit():
        return _receive(form, street, {"signboard_id": signboard.id, "alliance_id": signboard.alliance_id},
                        again=again)
    return again()


def _receive(form: SignReportForm, street: Street, place: dict, again):
    """Send the report to the service; to the follow page when received, back to the form (every typed value
    kept, each refusal under its field, the photos to choose again) when refused. `again()` draws the form
    again."""
    chosen = _photos_chosen()
    with refusals(form, "photos") as attempt:
        entry = services.submit(street, photos=chosen, client=services.client_key(request.remote_addr or ""),
                                **place, **form.values())
    if not attempt.ok:
        return again()
    flash(_("Thank you: the street office has your report. Keep this page's link to follow it: %(url)s",
            url=external_url("reports.follow", token=entry.token)), "success")
    return redirect(url_for("reports.follow", token=entry.token), code=303)


def _photos_chosen() -> list:
    return [upload for upload in request.files.getlist("photos") if upload and upload.filename]


@bp.route("/reports/follow/<token>")
def follow(token: str):
    """The reporter's private page: how their report is going, and nothing about anyone else."""
    entry = services.followed(token)
    if entry is None:
        abort(404)
    report = entry.report
    inspection = report.inspection
    response = make_response(render_template(
        "reports/follow.html", entry=entry, report=report, others=max(report.entries_count - 1, 0),
        inspection=inspection, InspectionState=InspectionState))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/streets/<int:street_id>/reports")
def street_reports(street_id: int):
    """The public list of a street's reports: where, what kind, how far along; photos and words only once the
    street office has published them."""
    street = db.get_or_404(Street, street_id)
    before = int_arg("before", 0, minimum=0) or None
    return render_template("reports/public_list.html", street=street,
                           page=queries.public_list(street.id, before), before=before)


# --- the street office -------------------------------------------------------------------------------------


@bp.route("/streets/<int:street_id>/reports/triage")
@login_required
def triage(street_id: int):
    street = db.get_or_404(Street, street_id)
    authz.require(current_user, "triage_reports", street)
    wanted = request.args.get("state", "")
    state = ReportState(wanted) if wanted in {s.value for s in ReportState} else None
    return render_template("reports/triage.html", street=street, state=state, states=list(ReportState),
                           listing=queries.triage_list(street.id, state, page_arg()))


def _report_or_404(report_id: int, action: str = "view") -> HazardReport:
    report = queries.load_report(report_id)
    if report is None:
        abort(404)
    authz.require(current_user, action, report)
    return report


@bp.route("/reports/<int:report_id>")
@login_required
def report(report_id: int):
    report = _report_or_404(report_id)
    can_triage = authz.can(current_user, "triage", report)
    link_form = None
    if can_triage and reports.allows(report, "link"):
        link_form = LinkForm(signboard=str(report.signboard_id or ""))
        link_form.signboard.choices = [("", _("Choose the sign"))] + [
            (str(s.id), f"{s.shop.name} · {s.shop.house_number} · {s.position}")
            for s in queries.signs_for_linking(report)]
    # accept and inspect are the service's own rows (no generic button): ask the workflow whether each is
    # possible now, and why not (the guard's word: link it to a sign first)
    steps = {action: reports.refusal(current_user, report, action, internal=True)
             for action in ("accept", "inspect") if can_triage and reports.allows(report, action)}
    buttons = {t.action: t for t in reports.actions_for(current_user, report)}
    return render_template(
        "reports/report.html", report=report, can_triage=can_triage, link_form=link_form, steps=steps,
        dismiss=buttons.get("dismiss"), dismiss_form=DismissForm() if "dismiss" in buttons else None,
        can_publish=can_triage and reports.allows(report, "publish"), InspectionState=InspectionState)


@bp.route("/reports/<int:report_id>/link", methods=["POST"])
@login_required
def link(report_id: int):
    report = _report_or_404(report_id, "triage")
    form = LinkForm()
    if not form.validate_on_submit():
        return redirect(url_for("reports.report", report_id=report.id))
    signboard = queries.sign_on_street(as_id(form.signboard.data), report.street_id)
    if signboard is None:
        flash(_("Please choose the sign."), "error")
        return redirect(url_for("reports.report", report_id=report.id))
    with refusals() as attempt:
        case = services.link(current_user, report, signboard)
    if not attempt.ok:
        return redirect(url_for("reports.report", report_id=report.id))
    if case.id != report_id:
        flash(_("This sign already had an open report: this one is merged into report %(n)s, and its reporters "
                "now follow that one.", n=case.id), "success")
    else:
        flash(_("Linked to the sign."), "success")
    return redirect(url_for("reports.report", report_id=case.id))


@bp.route("/reports/<int:report_id>/accept", methods=["POST"])
@login_required
def accept(report_id: int):
    report = _report_or_404(report_id, "triage")
    if LinkForm().validate_on_submit():  # the CSRF token only
        with refusals() as attempt:
            services.accept(current_user, report)
        if attempt.ok:
            flash(_("Accepted: the sign will be inspected."), "success")
    return redirect(url_for("reports.report", report_id=report.id))


@bp.route("/reports/<int:report_id>/inspect", methods=["POST"])
@login_required
def inspect(report_id: int):
    report = _report_or_404(report_id, "triage")
    if not LinkForm().validate_on_submit():
        return redirect(url_for("reports.report", report_id=report.id))
    with refusals() as attempt:
        inspection = services.inspect(current_user, report)
    if not attempt.ok:
        return redirect(url_for("reports.report", report_id=report.id))
    return redirect(url_for("safety.inspection", inspection_id=inspection.id))


@bp.route("/reports/<int:report_id>/dismiss", methods=["POST"])
@login_required
def dismiss(report_id: int):
    report = _report_or_404(report_id, "triage")
    form = DismissForm()
    if form.validate_on_submit():
        with refusals() as attempt:
            services.dismiss(current_user, report, form.reason.data or "")
        if attempt.ok:
            flash(_("Dismissed: the reporter and the public see your reason."), "success")
    else:
        flash(form_refusal(form, _("Please give a reason.")), "error")
    return redirect(url_for("reports.report", report_id=report.id))


@bp.route("/reports/<int:report_id>/publish", methods=["POST"])
@login_required
def publish(report_id: int):
    report = _report_or_404(report_id, "triage")
    if LinkForm().validate_on_submit():
        published = request.form.get("published") == "1"
        with refusals() as attempt:
            services.set_published(current_user, report, published)
        if attempt.ok:
            flash(_("The photos and words are public now.") if published
                  else _("The photos and words are hidden from the public again."), "success")
    return redirect(url_for("reports.report", report_id=report.id))


# --- cards on other pages ----------------------------------------------------------------------------------


def signboard_panel(signboard: Signboard, user) -> dict:
    """The reports' card on a sign's registry page (for its street's officers): the sign's reports, newest first."""
    if not authz.officer_of(user, signboard.street_id):
        return {}
    found = queries.reports_of_sign(signboard.id)
    if not found:
        return {}
    return {"reports": found, "signboard": signboard}


def officer_home_panel(user, _user) -> dict:
    """The new reports waiting for a street officer, on their home page: urgent first, at most ten."""
    street_ids = sorted({m.street_id for m in user.memberships
                         if m.street_id and m.role == Role.STREET_OFFICER and not m.pending})
    if not street_ids:
        return {}
    return {"new": queries.new_reports(street_ids)}
