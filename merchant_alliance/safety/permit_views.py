"""Structural permit pages: the shop's plan form, the permit page with the officer's decision, and the permit's
card on the project page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from merchant_alliance import authz
from merchant_alliance.errors import DomainError, form_refusal, refusals
from merchant_alliance.extensions import db
from merchant_alliance.projects.guidelines import guideline_for
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import permits
from merchant_alliance.safety.models import Permit
from merchant_alliance.safety.permit_forms import (
    DecisionReasonForm,
    DistrictNumberForm,
    DistrictUploadForm,
    GrantForm,
    PlanForm,
)
from merchant_alliance.workflow import Standing

bp = Blueprint("permits", __name__)


@bp.before_request
@login_required
def require_login() -> None:
    """Every page here is for logged-in users."""


def permit_panel(project: Project, user) -> dict:
    """The permit's card on the project page (added by safety.init_app): its state and this user's next step."""
    permit = permits.permit_for_card(project)
    if permit is None and project.state != ProjectState.DESIGN_APPROVED:
        return {}
    return {
        "permit": permit,
        "can_send": authz.can(user, "propose", project) and lifecycle.allows(project, "request_permit"),
        "can_decide": permit is not None and authz.can(user, "decide", permit)
        and permits.permits.actions_for(user, permit) != [],
        "can_upload": permit is not None and authz.can(user, "submit", permit)
        and permits.permits.allows(permit, "upload_district"),
    }


def _permit_or_404(permit_id: int, action: str = "view") -> Permit:
    permit = permits.load_permit(permit_id)
    if permit is None:
        abort(404)
    authz.require(current_user, action, permit)
    return permit


def _lines(text: str | None) -> list[str]:
    return (text or "").splitlines()


@bp.route("/projects/<int:project_id>/permit/plan", methods=["GET", "POST"])
def plan(project_id: int):
    project = db.get_or_404(Project, project_id)
    authz.require(current_user, "propose", project)
    earlier = permits.permit_of(project)
    if not lifecycle.allows(project, "request_permit"):
        flash(_("The structural plan is sent once the design is approved, or again after the permit was denied."),
              "info")
        if earlier is not None:
            return redirect(url_for("permits.permit", permit_id=earlier.id))
        return redirect(url_for("projects.project", project_id=project.id))
    form = PlanForm()
    if request.method == "GET":
        for name, value in (permits.plan_of(earlier) if earlier else permits.plan_from_design(project)).items():
            getattr(form, name).data = value
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in permits.PLAN_FIELDS}
        with refusals(form) as attempt:
            permit = permits.request_permit(current_user, project, values, form.photos.data or [],
                                            idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("The structural plan has been sent to the street office."), "success")
            return redirect(url_for("permits.permit", permit_id=permit.id))
    return render_template("safety/permit_plan.html", form=form, project=project, earlier=earlier)


@bp.route("/permits/<int:permit_id>")
def permit(permit_id: int):
    permit = _permit_or_404(permit_id)
    project = permit.project
    version = permits.approved_design(project)
    rows = permits.permits.actions_for(current_user, permit)
    actions = {t.action for t in rows}
    can_revise = authz.can(current_user, "propose", project) and lifecycle.allows(project, "request_permit")
    can_upload = authz.can(current_user, "submit", permit) and permits.permits.allows(permit, "upload_district")
    advice = []
    if actions:  # shown to the officer deciding, as advice
        plan = {**permits.plan_of(permit), "sign_type": version.sign_type if version else None}
        advice = permits.district_permit_reasons(
            plan, max_reach_m=guideline_for(permit.street_id).max_projection_projecting_m)
    return render_template(
        "safety/permit.html", permit=permit, project=project, version=version, actions=actions, advice=advice,
        history=permits.history(permit), can_revise=can_revise, can_upload=can_upload,
        standing=_standing(permit, rows, can_revise, can_upload),
        grant_form=GrantForm(), reason_form=DecisionReasonForm(), upload_form=DistrictUploadForm(),
        number_form=DistrictNumberForm(),
    )


def _standing(permit: Permit, rows: list, can_revise: bool, can_upload: bool) -> Standing:
    """The permit's next step for this person: the shop's own steps (sending a revised plan after a denial,
    which is the project's move; bringing the district's permit) come before waiting for the office."""
    standing = permits.permits.standing(current_user, permit, rows)
    if standing.step in ("wait", "end") and (can_revise or can_upload):
        return Standing("revise" if can_revise else "upload")
    return standing


# What each decision form's action is, and who may send it (authz.require: 404 for who may not see the permit).
_ACTION_NEEDS = {"grant": "decide", "deny": "decide", "district": "decide", "record": "decide", "upload": "submit"}


@bp.route("/permits/<int:permit_id>/grant", methods=["POST"], defaults={"action": "grant"})
@bp.route("/permits/<int:permit_id>/deny", methods=["POST"], defaults={"action": "deny"})
@bp.route("/permits/<int:permit_id>/district", methods=["POST"], defaults={"action": "district"})
@bp.route("/permits/<int:permit_id>/record", methods=["POST"], defaults={"action": "record"})
@bp.route("/permits/<int:permit_id>/upload", methods=["POST"], defaults={"action": "upload"})
def decide(permit_id: int, action: str):
    permit = _permit_or_404(permit_id, _ACTION_NEEDS[action])
    with refusals() as attempt:
        message = _do(permit, action)
    if attempt.ok:
        flash(message, "success")
    return redirect(url_for("permits.permit", permit_id=permit.id))


def _do(permit: Permit, action: str) -> str:
    """Run one decision form's service; returns what to tell the user. Refusals raise DomainError/NotAllowed."""
    if action == "grant":
        form = GrantForm()
        _valid(form)
        permits.grant(current_user, permit, _lines(form.conditions.data))
        return _("The permit is granted; the shop has been told.")
    if action in ("deny", "district"):
        form = DecisionReasonForm()
        if (form.reason.data or "").strip():  # an empty one: the workflow says a reason is needed
            _valid(form)
        if action == "deny":
            permits.deny(current_user, permit, form.reason.data or "")
            return _("The permit is denied; the shop has been told why.")
        permits.require_district(current_user, permit, form.reason.data or "")
        return _("The shop has been told to bring the district's permit.")
    if action == "upload":
        form = DistrictUploadForm()
        _valid(form)
        permits.upload_district_permit(current_user, permit, form.photos.data or [])
        return _("The district's permit has been uploaded; the street office has been told.")
    form = DistrictNumberForm()
    _valid(form)
    permits.record_district_permit(current_user, permit, form.number.data or "", _lines(form.conditions.data))
    return _("The district permit's number is recorded and the permit is granted.")


def _valid(form) -> None:
    if not form.validate_on_submit():
        raise DomainError(form_refusal(form, _("Please check the form.")))


