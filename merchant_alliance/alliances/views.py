"""Streets, alliances, their members, invitations and audit logs."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from merchant_alliance import audit, authz
from merchant_alliance.accounts import services
from merchant_alliance.accounts.forms import ConfirmForm
from merchant_alliance.accounts.models import Alliance, Invitation, Membership, Role, Street, User
from merchant_alliance.accounts.permissions import invitable_roles
from merchant_alliance.alliances.forms import AllianceForm, InvitationForm, StreetForm
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import db
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
        try:
            street = services.create_street(current_user, form.name.data, form.district.data or "",
                                            idempotency_key=form.idempotency_key.data)
        except DomainError as error:
            form.name.errors.append(str(error))
        else:
            flash(_("Street %(name)s created.", name=street.name), "success")
            return redirect(url_for("alliances.street", street_id=street.id))
    rows = db.session.execute(
        select(Street, func.count(Alliance.id)).outerjoin(Alliance).group_by(Street.id).order_by(Street.name)
    ).all()
    return render_template("alliances/streets.html", rows=rows, form=form)


@bp.route("/streets/<int:street_id>", methods=["GET", "POST"])
def street(street_id: int):
    street = db.get_or_404(Street, street_id)
    authz.require(current_user, "view", street)
    form = AllianceForm()
    if form.validate_on_submit():
        try:
            alliance = services.create_alliance(current_user, street, form.name.data, form.road.data or "",
                                                idempotency_key=form.idempotency_key.data)
        except DomainError as error:
            form.name.errors.append(str(error))
        else:
            flash(_("Alliance %(name)s created.", name=alliance.name), "success")
            return redirect(url_for("alliances.alliance", alliance_id=alliance.id))
    alliances = db.session.execute(
        select(Alliance, func.count(Shop.id))
        .outerjoin(Shop, (Shop.alliance_id == Alliance.id) & Shop.active)
        .where(Alliance.street_id == street.id)
        .group_by(Alliance.id)
        .order_by(Alliance.name)
    ).all()
    return render_template(
        "alliances/street.html", street=street, alliances=alliances, form=form,
        members=_members(street_id=street.id),
        invitations=_invitations(street=street),
        appointments=services.pending_appointments(street=street),
        can_manage=authz.can(current_user, "manage", street),
        can_invite=authz.can(current_user, "invite_officer", street),
    )


@bp.route("/alliances/<int:alliance_id>")
def alliance(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "view", alliance)
    shop_count = db.session.scalar(
        select(func.count(Shop.id)).where(Shop.alliance_id == alliance.id, Shop.active)
    )
    staff_view = authz.can(current_user, "view_register", alliance)
    return render_template(
        "alliances/alliance.html", alliance=alliance, shop_count=shop_count,
        members=_members(alliance_id=alliance.id) if staff_view else [],
        invitations=_invitations(alliance=alliance) if authz.can(current_user, "invite", alliance) else [],
        staff_view=staff_view,
        can_confirm=authz.can(current_user, "confirm_lead", alliance),
        can_invite=authz.can(current_user, "invite", alliance) or authz.can(current_user, "invite_lead", alliance),
        can_audit=authz.can(current_user, "view_audit", alliance),
    )


def _members(**scope: int) -> list[tuple[Membership, User]]:
    return db.session.execute(
        select(Membership, User).join(User, Membership.user_id == User.id)
        # filter_by() would apply to the last joined entity (User), so name Membership's columns.
        .where(*(getattr(Membership, key) == value for key, value in scope.items()))
        .order_by(Membership.role, User.name)
    ).all()


def _invitations(**scope: Alliance | Street) -> list[Invitation]:
    return list(db.session.scalars(services.invitations_at(**scope).limit(50)))


def _scope_from_request() -> dict:
    """The object an invitation is for, from the URL, checked against the user's rights."""
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
        try:
            invitation, token = services.invite(
                current_user, Role(form.role.data), name=form.name.data or "",
                phone=form.phone.data or "", email=form.email.data or "", **scope,
                link_for=lambda token: external_url("accounts.accept_invitation", token=token),
                idempotency_key=form.idempotency_key.data,
            )
        except DomainError as error:
            flash(str(error), "error")
        else:
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
        try:
            services.revoke_invitation(current_user, invitation)
        except DomainError as error:
            flash(str(error), "error")
        else:
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


@bp.route("/memberships/<int:membership_id>/confirm", methods=["POST"])
def confirm_lead(membership_id: int):
    membership = _appointment_or_404(membership_id)
    name = membership.user.name
    if ConfirmForm().validate_on_submit():
        try:
            services.confirm_lead(current_user, membership)
        except DomainError as error:
            flash(str(error), "error")
        else:
            flash(_("The appointment is confirmed: %(name)s now holds a lead's rights.", name=name), "success")
    return redirect(back())


@bp.route("/memberships/<int:membership_id>/decline", methods=["POST"])
def decline_lead(membership_id: int):
    membership = _appointment_or_404(membership_id)
    name = membership.user.name
    if ConfirmForm().validate_on_submit():
        try:
            services.decline_lead(current_user, membership)
        except DomainError as error:
            flash(str(error), "error")
        else:
            flash(_("The appointment is declined: %(name)s is not a lead of the alliance.", name=name), "success")
    return redirect(back())


@bp.route("/alliances/<int:alliance_id>/audit")
def alliance_audit(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "view_audit", alliance)
    page = db.paginate(audit.events_for_scope(alliance_ids=[alliance.id]), per_page=AUDIT_PAGE_SIZE)
    return render_template("alliances/audit.html", page=page, scope=alliance)


@bp.route("/streets/<int:street_id>/audit")
def street_audit(street_id: int):
    street = db.get_or_404(Street, street_id)
    authz.require(current_user, "view_audit", street)
    page = db.paginate(audit.events_for_scope(street_id=street.id), per_page=AUDIT_PAGE_SIZE)
    return render_template("alliances/audit.html", page=page, scope=street)
