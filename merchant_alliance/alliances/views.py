"""Streets, alliances, their members, invitations and audit logs."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from merchant_alliance import authz
from merchant_alliance.accounts import services
from merchant_alliance.accounts.forms import ConfirmForm
from merchant_alliance.accounts.models import Alliance, Invitation, Membership, Role, Street
from merchant_alliance.accounts.permissions import invitable_roles
from merchant_alliance.alliances import queries
from merchant_alliance.alliances.forms import AllianceForm, InvitationForm, StreetForm
from merchant_alliance.errors import refusals
from merchant_alliance.extensions import db
from merchant_alliance.pagecache import alliance_scope, lazy
from merchant_alliance.shops.models import Shop
from merchant_alliance.urls import back, external_url

bp = Blueprint("alliances", __name__)
AUDIT_PAGE_SIZE = 50


@bp.before_request
@login_required
def require_login() -> None:
    """Every page here is for logged-in users."""


@bp.route("/streets", methods=["GET", "POST"])
def streets():
    if not current_user.is_platform_admin:
        abort(404)
    form = StreetForm()
    if form.validate_on_submit():
        with refusals(form, "name") as attempt:
            street = services.create_street(current_user, form.name.data, form.district.data or "",
                                            idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Street %(name)s created.", name=street.name), "success")
            return redirect(url_for("alliances.street", street_id=street.id))
    return render_template("alliances/streets.html", rows=queries.streets_with_alliance_counts(), form=form)


@bp.route("/streets/<int:street_id>", methods=["GET", "POST"])
def street(street_id: int):
    street = db.get_or_404(Street, street_id)
    authz.require(current_user, "view", street)
    form = AllianceForm()
    if form.validate_on_submit():
        with refusals(form, "name") as attempt:
            alliance = services.create_alliance(current_user, street, form.name.data, form.road.data or "",
                                                idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Alliance %(name)s created.", name=alliance.name), "success")
            return redirect(url_for("alliances.alliance", alliance_id=alliance.id))
    return render_template(
        "alliances/street.html", street=street, alliances=queries.alliances_of_street(street), form=form,
        members=queries.members_at(street=street),
        invitations=queries.recent_invitations(street=street),
        appointments=services.pending_appointments(street=street),
        can_manage=authz.can(current_user, "manage", street),
        can_invite=authz.can(current_user, "invite_officer", street),
    )


@bp.route("/alliances/<int:alliance_id>")
def alliance(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "view", alliance)
    staff_view = authz.can(current_user, "view_register", alliance)
    return render_template(
        "alliances/alliance.html", alliance=alliance, shop_count=queries.active_shop_count(alliance),
        members=queries.members_at(alliance=alliance) if staff_view else [],
        invitations=queries.recent_invitations(alliance=alliance) if authz.can(current_user, "invite", alliance)
        else [],
        staff_view=staff_view,
        can_confirm=authz.can(current_user, "confirm_lead", alliance),
        can_invite=authz.can(current_user, "invite", alliance) or authz.can(current_user, "invite_lead", alliance),
        can_audit=authz.can(current_user, "view_audit", alliance),
    )


def _scope_from_request() -> dict:
    """The shop, alliance or street the URL names (an invitation's or an audit log's scope), or 404."""
    if "shop_id" in request.view_args:
        return {"shop": db.get_or_404(Shop, request.view_args["shop_id"])}
    if "alliance_id" in request.view_args:
        return {"alliance": db.get_or_404(Alliance, request.view_args["alliance_id"])}
    return {"street": db.get_or_404(Street, request.view_args["street_id"])}


@bp.route("/shops/<int:shop_id>/invite", methods=["GET", "POST"])
@bp.route("/alliances/<int:alliance_id>/invite", methods=["GET", "POST"])
@bp.route("/streets/<int:street_id>/invite", methods=["GET", "POST"])
def invite(**_ids: int):
    scope = _scope_from_request()
    target = next(iter(scope.values()))
    authz.require(current_user, "view", target)
    roles = invitable_roles(current_user, **scope)
    if not roles:
        abort(403)
    form = InvitationForm()
    form.role.choices = [(str(r), r.label) for r in roles]
    if form.validate_on_submit():
        with refusals(form) as attempt:
            invitation, token = services.invite(
                current_user, Role(form.role.data), name=form.name.data or "",
                phone=form.phone.data or "", email=form.email.data or "", **scope,
                link_for=lambda token: external_url("accounts.accept_invitation", token=token),
                idempotency_key=form.idempotency_key.data,
            )
        if attempt.ok:
            link = external_url("accounts.accept_invitation", token=token)
            return render_template("alliances/invitation_created.html", invitation=invitation, link=link,
                                   target=target, needs_confirmation=invitation.role == Role.ALLIANCE_LEAD
                                   and not authz.can(current_user, "confirm_lead", target))
    return render_template("alliances/invite.html", form=form, target=target)


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
def revoke_invitation(invitation_id: int):
    invitation = db.get_or_404(Invitation, invitation_id)
    if not authz.can(current_user, "revoke", invitation):
        abort(404)
    if ConfirmForm().validate_on_submit():
        with refusals() as attempt:
            services.revoke_invitation(current_user, invitation)
        if attempt.ok:
            flash(_("The invitation has been revoked; its link no longer works."), "success")
    return redirect(back())


def _appointment_or_404(membership_id: int) -> Membership:
    """A membership the current user may confirm or decline: 404 for who may not see its alliance, 403 for
    who may see the alliance but not decide."""
    membership = db.get_or_404(Membership, membership_id)
    alliance = membership.alliance or (membership.shop.alliance if membership.shop is not None else None)
    if alliance is None:
        abort(404)
    authz.require(current_user, "confirm_lead", alliance)
    return membership


@bp.route("/memberships/<int:membership_id>/confirm", methods=["POST"], endpoint="confirm_lead",
          defaults={"decision": "confirm"})
@bp.route("/memberships/<int:membership_id>/decline", methods=["POST"], endpoint="decline_lead",
          defaults={"decision": "decline"})
def decide_lead(membership_id: int, decision: str):
    """The street office confirms or declines a lead appointed by another lead."""
    membership = _appointment_or_404(membership_id)
    name = membership.user.name
    if ConfirmForm().validate_on_submit():
        confirm = decision == "confirm"
        with refusals() as attempt:
            (services.confirm_lead if confirm else services.decline_lead)(current_user, membership)
        if attempt.ok:
            flash(_("The appointment is confirmed: %(name)s now holds a lead's rights.", name=name) if confirm
                  else _("The appointment is declined: %(name)s is not a lead of the alliance.", name=name), "success")
    return redirect(back())


@bp.route("/alliances/<int:alliance_id>/audit", endpoint="alliance_audit")
@bp.route("/streets/<int:street_id>/audit", endpoint="street_audit")
def audit_log(**_ids: int):
    """The audit log of an alliance or of a street, newest first."""
    scope = next(iter(_scope_from_request().values()))
    authz.require(current_user, "view_audit", scope)
    page = lazy(db.paginate, queries.audit_events(scope), per_page=AUDIT_PAGE_SIZE)
    # A street's log shows its alliances' events too: only an alliance's log is cached.
    scopes = [alliance_scope(scope.id)] if "alliance_id" in _ids else None
    return render_template("alliances/audit.html", page=page, scope=scope, cache_scopes=scopes)
