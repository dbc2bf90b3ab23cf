"""Inspection pages (made for a phone on the street), rectification, certificates, the printable tag and the
public page its QR code opens; the safety cards on the project page and the officer's home."""

from __future__ import annotations

import io

import segno
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from merchant_alliance import authz
from merchant_alliance.accounts.forms import ConfirmForm
from merchant_alliance.accounts.models import Role
from merchant_alliance.errors import form_refusal, refusals
from merchant_alliance.extensions import db
from merchant_alliance.i18n import current_locale_code, format_date
from merchant_alliance.projects.lifecycle import lifecycle
from merchant_alliance.projects.models import Project, ProjectState
from merchant_alliance.safety import certificates, inspections, queries, rectifications
from merchant_alliance.safety.forms import AnswerForm, DeadlineForm, FinishForm, FixForm, RevokeForm
from merchant_alliance.safety.models import (
    Certificate,
    Inspection,
    InspectionState,
    Outcome,
    RectificationItem,
    RectificationOrder,
    RectificationState,
)
from merchant_alliance.safety.permissions import officer_of_project
from merchant_alliance.shops.models import Signboard
from merchant_alliance.timeutil import local_today
from merchant_alliance.urls import external_url
from merchant_alliance.workflow import Standing

bp = Blueprint("safety", __name__)


def _inspection_or_404(inspection_id: int, action: str = "view") -> Inspection:
    inspection = queries.load_inspection(inspection_id)
    if inspection is None:
        abort(404)
    authz.require(current_user, action, inspection)
    return inspection


@bp.route("/projects/<int:project_id>/inspections", methods=["POST"])
@login_required
def start_for_project(project_id: int):
    project = db.get_or_404(Project, project_id)
    authz.require(current_user, "view", project)
    if not officer_of_project(current_user, project):
        abort(403)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("projects.project", project_id=project.id))
    with refusals() as attempt:
        inspection = inspections.start_for_project(current_user, project)
    if not attempt.ok:
        return redirect(url_for("projects.project", project_id=project.id))
    return redirect(url_for("safety.inspection", inspection_id=inspection.id))


@bp.route("/inspections/<int:inspection_id>")
@login_required
def inspection(inspection_id: int):
    inspection = _inspection_or_404(inspection_id)
    asked = inspections.questions(inspection)
    can_inspect = authz.can(current_user, "inspect", inspection) and inspection.state == InspectionState.OPEN
    verdict = inspections.evaluate(asked, inspection.exception_reason)
    permit = queries.permit_of(inspection.project_id) if inspection.project_id else None
    forms = {}
    if can_inspect:
        for question in asked:
            form = AnswerForm(prefix=question.code, formdata=None)
            if question.answer is not None:
                form.outcome.data = question.answer.outcome.value
                form.finding.data = question.answer.note
                form.seen_revision.data = question.answer.revision
            forms[question.code] = form
    order, certificate = queries.outcome_of(inspection.id)
    return render_template(
        "safety/inspection.html", inspection=inspection, asked=asked, forms=forms, can_inspect=can_inspect,
        verdict=verdict, permit=permit, version=inspection.project.latest_version if inspection.project else None,
        finish_form=FinishForm() if can_inspect else None, order=order, certificate=certificate,
        locale=current_locale_code(), answered=sum(1 for q in asked if q.answer is not None))


@bp.route("/inspections/<int:inspection_id>/answers/<code>", methods=["POST"])
@login_required
def answer(inspection_id: int, code: str):
    inspection = _inspection_or_404(inspection_id, "inspect")
    form = AnswerForm(prefix=code)
    if form.validate_on_submit():
        with refusals() as attempt:
            inspections.save_answer(current_user, inspection, code, form.outcome.data, form.finding.data or "",
                                    form.photos.data or [], seen_revision=form.seen_revision.data or 0)
        if attempt.ok:
            flash(_("Saved: %(code)s.", code=code), "success")
    else:
        flash(form_refusal(form, _("Choose pass, fail or not applicable.")), "error")
    return redirect(url_for("safety.inspection", inspection_id=inspection.id, _anchor=f"q-{code}"))


@bp.route("/inspections/<int:inspection_id>/finish", methods=["POST"])
@login_required
def finish(inspection_id: int):
    inspection = _inspection_or_404(inspection_id, "inspect")
    form = FinishForm()
    if form.validate_on_submit():
        with refusals() as attempt:
            verdict = inspections.finish(current_user, inspection, exception_reason=form.exception_reason.data or "",
                                         summary=form.summary.data or "")
        if attempt.ok:
            flash(_("The inspection passed: the certificate is issued.") if verdict.passed
                  else _("The inspection failed: the shop has been sent the items to fix."), "success")
    else:
        flash(form_refusal(form, _("Please check the form.")), "error")
    return redirect(url_for("safety.inspection", inspection_id=inspection.id))


# --- rectification -------------------------------------------------------------------------------------


@bp.route("/rectifications/<int:order_id>")
@login_required
def rectification(order_id: int):
    order = queries.load_order(order_id)
    if order is None:
        abort(404)
    authz.require(current_user, "view", order)
    texts = queries.item_texts(order.inspection, current_locale_code())
    can_fix = authz.can(current_user, "report_fixed", order) and order.state == RectificationState.OPEN
    fix_forms = {item.id: FixForm(prefix=f"fix{item.id}") for item in order.items if item.fixed_at is None} \
        if can_fix else {}
    manage = authz.can(current_user, "manage", order) and order.state != RectificationState.CLOSED
    deadline_form = DeadlineForm(deadline=order.deadline) if manage else None
    return render_template(
        "safety/rectification.html", order=order, texts=texts, fix_forms=fix_forms, confirm_form=ConfirmForm(),
        can_reinspect=manage, deadline_form=deadline_form, overdue=queries.is_overdue(order),
        standing=_rectification_standing(order, can_fix, manage))


def _rectification_standing(order: RectificationOrder, can_fix: bool, manage: bool) -> Standing:
    """The shop's step is the first item still to fix; the officer's, once every item is reported fixed, the
    re-inspection (which they may also start earlier, from below the items)."""
    if order.state == RectificationState.CLOSED:
        return Standing("end")
    if order.state == RectificationState.OPEN:
        return Standing("fix") if can_fix else Standing("wait", waiting_for=(_("Report every item fixed"),))
    return Standing("act") if manage else Standing("wait", waiting_for=(_("Start the re-inspection"),))


@bp.route("/rectifications/<int:order_id>/deadline", methods=["POST"])
@login_required
def deadline(order_id: int):
    order = db.get_or_404(RectificationOrder, order_id)
    authz.require(current_user, "manage", order)
    form = DeadlineForm()
    if form.validate_on_submit():
        with refusals() as attempt:  # the page it returns to shows the message
            rectifications.set_deadline(current_user, order, form.deadline.data)
        if attempt.ok:
            flash(_("The deadline is now %(day)s.", day=format_date(form.deadline.data)), "success")
    else:
        flash(form_refusal(form, _("Please choose a date.")), "error")
    return redirect(url_for("safety.rectification", order_id=order.id))


@bp.route("/rectifications/<int:order_id>/items/<int:item_id>/fixed", methods=["POST"])
@login_required
def report_fixed(order_id: int, item_id: int):
    item = db.session.get(RectificationItem, item_id)
    if item is None or item.order_id != order_id:
        abort(404)
    authz.require(current_user, "report_fixed", item.order)
    form = FixForm(prefix=f"fix{item.id}")
    if form.validate_on_submit():
        with refusals() as attempt:
            rectifications.report_fixed(current_user, item, form.fixed_note.data or "", form.photos.data or [])
        if attempt.ok:
            flash(_("Reported fixed: %(code)s.", code=item.code), "success")
    else:
        flash(form_refusal(form, _("Please check the form.")), "error")
    return redirect(url_for("safety.rectification", order_id=order_id))


@bp.route("/rectifications/<int:order_id>/reinspect", methods=["POST"])
@login_required
def reinspect(order_id: int):
    order = db.get_or_404(RectificationOrder, order_id)
    authz.require(current_user, "manage", order)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("safety.rectification", order_id=order.id))
    with refusals() as attempt:
        if order.project is not None and order.project.state == ProjectState.RECTIFICATION:
            inspection = inspections.start_for_project(current_user, order.project)
        else:
            inspection = inspections.start_for_sign(current_user, order.signboard)
    if not attempt.ok:
        return redirect(url_for("safety.rectification", order_id=order.id))
    return redirect(url_for("safety.inspection", inspection_id=inspection.id))


# --- certificates and the public tag -------------------------------------------------------------------


def _certificate_or_404(certificate_id: int) -> Certificate:
    certificate = db.get_or_404(Certificate, certificate_id)
    authz.require(current_user, "view", certificate)
    return certificate


def qr_svg(url: str) -> Markup:
    """The QR code of `url` as inline SVG, drawn here (no image service, no script)."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=4, border=2, xmldecl=False, svgns=True,
                                    title=None, desc=None, svgclass="qr", lineclass=None)
    return Markup(buffer.getvalue().decode())  # noqa: S704 - segno's own SVG of our own URL


@bp.route("/certificates/<int:certificate_id>")
@login_required
def certificate(certificate_id: int):
    certificate = _certificate_or_404(certificate_id)
    tag_url = external_url("safety.tag", token=certificate.token)
    return render_template("safety/certificate.html", certificate=certificate, tag_url=tag_url, qr=qr_svg(tag_url),
                           status=certificates.public_status(certificate.token),
                           revoke_form=RevokeForm() if authz.can(current_user, "revoke", certificate) else None)


@bp.route("/certificates/<int:certificate_id>/tag")
@login_required
def tag_print(certificate_id: int):
    certificate = _certificate_or_404(certificate_id)
    tag_url = external_url("safety.tag", token=certificate.token)
    return render_template("safety/tag_print.html", certificate=certificate, tag_url=tag_url, qr=qr_svg(tag_url))


@bp.route("/certificates/<int:certificate_id>/revoke", methods=["POST"])
@login_required
def revoke(certificate_id: int):
    certificate = _certificate_or_404(certificate_id)
    authz.require(current_user, "revoke", certificate)
    form = RevokeForm()
    if form.validate_on_submit():
        with refusals() as attempt:
            certificates.revoke(current_user, certificate, form.reason.data)
        if attempt.ok:
            flash(_("The certificate is revoked: its tag now says so."), "success")
    else:
        flash(form_refusal(form, _("Please give a reason.")), "error")
    return redirect(url_for("safety.certificate", certificate_id=certificate.id))


@bp.route("/tags/<token>")
def tag(token: str):
    """The public page of a sign, opened by the QR code on its tag: nothing private, no login."""
    found = certificates.public_status(token)
    if found is None:
        abort(404)
    return render_template("safety/tag.html", found=found, photo=queries.public_photo(found.current),
                           outcome=Outcome)


# --- cards on other pages ------------------------------------------------------------------------------


def project_panel(project: Project, user) -> dict:
    """The safety card on a project page (added by safety.init_app): inspections, rectification, certificate,
    and the officer's button to start the inspection when the project is ready for one."""
    history = queries.project_safety(project.id)
    may_start = (lifecycle.find(project.state, "start_inspection") is not None
                 and officer_of_project(user, project))
    if not history.inspections and not may_start:
        return {}
    return {"history": history, "may_start": may_start, "confirm_form": ConfirmForm(),
            "overdue": history.order is not None and queries.is_overdue(history.order)}


def shop_panel(shop, user) -> dict:
    """The safety card on a shop page (added by safety.init_app): each sign's certificate, rectification and
    inspection under way; the street's officer starts a periodic inspection from it."""
    signs = queries.shop_safety(shop.id)
    officer = authz.officer_of(user, shop.alliance.street_id)
    if not signs or not (officer or any(s.certificate or s.order or s.inspection for s in signs)):
        return {}
    return {"signs": signs, "officer": officer, "confirm_form": ConfirmForm(), "today": local_today()}


@bp.route("/signboards/<int:signboard_id>/inspections", methods=["POST"])
@login_required
def start_for_sign(signboard_id: int):
    signboard = db.get_or_404(Signboard, signboard_id)
    authz.require(current_user, "view", signboard)
    if not authz.officer_of(current_user, signboard.shop.alliance.street_id):
        abort(403)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("shops.shop", shop_id=signboard.shop_id))
    with refusals() as attempt:
        inspection = inspections.start_for_sign(current_user, signboard)
    if not attempt.ok:
        return redirect(url_for("shops.shop", shop_id=signboard.shop_id, _anchor="safety"))
    return redirect(url_for("safety.inspection", inspection_id=inspection.id))


def owner_home_panel(user, _user) -> dict:
    """The safety of the shop owner's signs, on their home page: rectifications, inspections due or overdue."""
    shop_ids = sorted({m.shop_id for m in user.memberships if m.role == Role.SHOP_OWNER and m.shop_id})
    if not shop_ids:
        return {}
    signs, total = queries.owner_signs(shop_ids)
    return {"signs": signs, "total": total, "today": local_today()} if signs else {}


def officer_home_panel(user, _user) -> dict:
    """What waits for a street officer, on their home page (added by safety.init_app)."""
    street_ids = [m.street_id for m in user.memberships if m.street_id and m.role.value == "street_officer"]
    if not street_ids:
        return {}
    return {"work": queries.officer_work(street_ids), "today": local_today()}
