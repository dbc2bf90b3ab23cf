"""The shop register and shop pages."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from merchant_alliance import authz, panels
from merchant_alliance.accounts.forms import ConfirmForm
from merchant_alliance.accounts.models import Alliance, Membership
from merchant_alliance.errors import refusals
from merchant_alliance.extensions import db
from merchant_alliance.pagecache import alliance_scope, lazy
from merchant_alliance.shops import queries, services
from merchant_alliance.shops.forms import ImportConfirmForm, ImportUploadForm, ShopForm, SignboardForm
from merchant_alliance.shops.models import Shop, Signboard, SignCondition, SignType

bp = Blueprint("shops", __name__)

@bp.before_request
@login_required
def require_login() -> None:
    """Every page here is for logged-in users."""


def _form_values(form: ShopForm) -> dict:
    return {name: getattr(form, name).data for name in services.SHOP_FIELDS}


@bp.route("/alliances/<int:alliance_id>/shops")
def register(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "view_register", alliance)
    show = request.args.get("show", "active")
    q = (request.args.get("q") or "").strip()[:50]
    return render_template(
        "shops/register.html", alliance=alliance, rows=lazy(queries.register_rows, alliance, show=show, search=q),
        show=show, q=q,
        can_manage=authz.can(current_user, "manage_shops", alliance), cache_scopes=[alliance_scope(alliance.id)],
    )


@bp.route("/alliances/<int:alliance_id>/shops/new", methods=["GET", "POST"])
def new_shop(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "manage_shops", alliance)
    form = ShopForm()
    if form.validate_on_submit():
        with refusals(form) as attempt:
            shop = services.create_shop(current_user, alliance, _form_values(form),
                                       idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Shop %(name)s added to the register.", name=shop.name), "success")
            return redirect(url_for("shops.shop", shop_id=shop.id))
    return render_template("shops/edit.html", form=form, alliance=alliance, shop=None)


@bp.route("/shops/<int:shop_id>")
def shop(shop_id: int):
    shop = db.get_or_404(Shop, shop_id)
    authz.require(current_user, "view", shop)
    can_edit = authz.can(current_user, "edit", shop)
    return render_template(
        "shops/shop.html", shop=shop, members=lazy(services.shop_members, shop), can_edit=can_edit,
        invitations=queries.invitations_of(shop) if can_edit else [],  # their state changes with the hour: not cached
        confirm_form=ConfirmForm(),
        signboards=lazy(services.signboards_of, shop),
        can_propose=authz.can(current_user, "propose", shop),
        panels=lazy(panels.for_page, "shop", shop, current_user),  # cards other domains add (merchant_alliance.panels)
        cache_scopes=[alliance_scope(shop.alliance_id)],
    )


@bp.route("/shops/<int:shop_id>/edit", methods=["GET", "POST"])
def edit_shop(shop_id: int):
    shop = db.get_or_404(Shop, shop_id)
    authz.require(current_user, "edit", shop)
    form = ShopForm(obj=shop)
    if form.validate_on_submit():
        with refusals(form) as attempt:
            services.update_shop(current_user, shop, _form_values(form))
        if attempt.ok:
            flash(_("The shop's details have been saved."), "success")
            return redirect(url_for("shops.shop", shop_id=shop.id))
    return render_template("shops/edit.html", form=form, alliance=shop.alliance, shop=shop)


@bp.route("/shops/<int:shop_id>/active", methods=["POST"])
def set_active(shop_id: int):
    shop = db.get_or_404(Shop, shop_id)
    authz.require(current_user, "edit", shop)
    if ConfirmForm().validate_on_submit():
        active = request.form.get("active") == "1"
        services.set_shop_active(current_user, shop, active)
        flash(_("The shop is active again.") if active else _("The shop has been deactivated."), "success")
    return redirect(url_for("shops.shop", shop_id=shop.id))


@bp.route("/shops/<int:shop_id>/members/<int:membership_id>/remove", methods=["POST"])
def remove_member(shop_id: int, membership_id: int):
    shop = db.get_or_404(Shop, shop_id)
    authz.require(current_user, "edit", shop)
    membership = db.get_or_404(Membership, membership_id)
    elsewhere = membership.shop if membership.shop_id not in (None, shop.id) else None
    if membership.shop_id != shop.id and (elsewhere is None or not authz.can(current_user, "view", elsewhere)):
        abort(404)  # a membership the user may not see looks the same as one that does not exist
    if ConfirmForm().validate_on_submit():
        with refusals() as attempt:
            services.remove_shop_member(current_user, shop, membership)
        if attempt.ok:
            flash(_("The person no longer has access to this shop."), "success")
    return redirect(url_for("shops.shop", shop_id=shop.id))


@bp.route("/alliances/<int:alliance_id>/shops/import", methods=["GET", "POST"])
def import_shops(alliance_id: int):
    alliance = db.get_or_404(Alliance, alliance_id)
    authz.require(current_user, "manage_shops", alliance)
    upload = ImportUploadForm()
    confirm = ImportConfirmForm()
    if request.form.get("step") == "confirm":
        if not confirm.validate_on_submit():
            abort(400)
        with refusals() as attempt:
            shops = services.import_shops(current_user, alliance, confirm.content.data or "",
                                          idempotency_key=confirm.idempotency_key.data)
        if not attempt.ok:
            return redirect(url_for("shops.import_shops", alliance_id=alliance.id))
        if shops:
            flash(_("%(n)s shops imported.", n=len(shops)), "success")
        else:  # the same confirmation sent twice
            flash(_("This file has already been imported."), "info")
        return redirect(url_for("shops.register", alliance_id=alliance.id))
    preview = None
    if upload.validate_on_submit():
        with refusals(upload, "file") as attempt:
            text = services.decode_csv(upload.file.data.read(services.MAX_IMPORT_BYTES + 1))
        if attempt.ok:
            preview = services.preview_import(alliance, text)
            confirm.content.data = text
    return render_template("shops/import.html", alliance=alliance, upload=upload, confirm=confirm,
                           preview=preview, field_labels=services.FIELD_LABELS)


# --- signboards --------------------------------------------------------------------------------


def _signboard_values(form: SignboardForm) -> dict:
    values = {name: getattr(form, name).data for name in services.SIGNBOARD_FIELDS if name not in
              ("sign_type", "condition")}
    values["sign_type"] = SignType(form.sign_type.data)
    values["condition"] = SignCondition(form.condition.data)
    return values


@bp.route("/shops/<int:shop_id>/signboards/new", methods=["GET", "POST"])
def new_signboard(shop_id: int):
    shop = db.get_or_404(Shop, shop_id)
    authz.require(current_user, "propose", shop)
    form = SignboardForm()
    if form.validate_on_submit():
        with refusals(form) as attempt:
            signboard = services.register_signboard(current_user, shop, _signboard_values(form), form.photos.data,
                                                     idempotency_key=form.idempotency_key.data)
        if attempt.ok:
            flash(_("Signboard recorded."), "success")
            if request.args.get("then") == "propose":  # stepped aside from a proposal: back to it, this sign chosen
                return redirect(url_for("projects.new_project", shop_id=shop.id, signboard=signboard.id))
            return redirect(url_for("shops.signboard", signboard_id=signboard.id))
    return render_template("shops/signboard_form.html", form=form, shop=shop, signboard=None)


@bp.route("/signboards/<int:signboard_id>")
def signboard(signboard_id: int):
    signboard = db.get_or_404(Signboard, signboard_id)
    authz.require(current_user, "view", signboard)
    return render_template("shops/signboard.html", signboard=signboard, shop=signboard.shop,
                           can_edit=authz.can(current_user, "edit", signboard))


@bp.route("/signboards/<int:signboard_id>/edit", methods=["GET", "POST"])
def edit_signboard(signboard_id: int):
    signboard = db.get_or_404(Signboard, signboard_id)
    authz.require(current_user, "edit", signboard)
    form = SignboardForm(obj=signboard)
    if request.method == "GET":
        form.sign_type.data = signboard.sign_type.value
        form.condition.data = signboard.condition.value
    if form.validate_on_submit():
        with refusals(form) as attempt:
            services.update_signboard(current_user, signboard, _signboard_values(form), form.photos.data)
        if attempt.ok:
            flash(_("Signboard saved."), "success")
            return redirect(url_for("shops.signboard", signboard_id=signboard.id))
    return render_template("shops/signboard_form.html", form=form, shop=signboard.shop, signboard=signboard)
