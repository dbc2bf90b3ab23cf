"""Log in and out, passwords, language, accepting invitations."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from merchant_alliance.accounts import services
from merchant_alliance.accounts.forms import (
    AcceptInvitationForm,
    ConfirmForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    PasswordResetRequestForm,
)
from merchant_alliance.errors import DomainError
from merchant_alliance.extensions import limiter
from merchant_alliance.i18n import LANG_COOKIE
from merchant_alliance.mail import send_email
from merchant_alliance.urls import external_url, safe_next

bp = Blueprint("accounts", __name__)


def _login_key() -> str:
    # Failures are counted per address and login name, so one attacker cannot lock out a whole street.
    # The login is normalised, so "+86 138 …" and "138-…" count against the same account.
    login = request.form.get("login") or ""
    key = services.normalize_phone(login) or services.normalize_email(login) or login.strip().lower()
    return f"{request.remote_addr}|{key}"


def _remember_language(response: Response, code: str) -> None:
    # Secure like the session cookie: over HTTPS only in production.
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], key_func=_login_key, methods=["POST"],
               deduct_when=lambda response: bool(g.get("login_failed")))
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.login.data, form.password.data)
        if user is None:
            g.login_failed = True
            flash(_("Wrong mobile number, email or password."), "error")
        else:
            login_user(user, remember=form.remember.data)
            response = redirect(safe_next(request.args.get("next")))
            if user.locale:
                _remember_language(response, user.locale)
            return response
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if ConfirmForm().validate_on_submit():
        logout_user()
        flash(_("You have logged out."), "info")
    return redirect(url_for("public.index"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        except DomainError as error:
            form.new_password.errors.append(str(error))
        else:
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("public.index"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        user = services.find_user_by_login(form.email.data)
        if user is not None and user.email and user.active:
            token = services.make_password_reset_token(user)
            link = external_url("accounts.reset_password", token=token)
            send_email(
                user.email,
                _("Reset your password"),
                _("Open this link within an hour to choose a new password:\n%(link)s\n\n"
                  "If you did not ask for this, ignore this email.", link=link),
            )
        # The same answer either way, so the form does not reveal who has an account.
        flash(_("If an account uses that email, a reset link has been sent to it."), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    if services.user_for_reset_token(token) is None:
        flash(_("This password reset link is invalid, expired or already used."), "error")
        return redirect(url_for("accounts.forgot_password"))
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.new_password.data)
        except DomainError as error:
            form.new_password.errors.append(str(error))
        else:
            flash(_("Your password has been reset. Please log in."), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    invitation = services.invitation_for_token(token)
    if invitation is None or not invitation.is_usable:
        return render_template("accounts/invitation_invalid.html", invitation=invitation), 410 if invitation else 404
    if current_user.is_authenticated:
        form = ConfirmForm()
        if form.validate_on_submit():
            try:
                services.accept_invitation(token, user=current_user)
            except DomainError as error:
                flash(str(error), "error")
            else:
                flash(_("Welcome! You are now %(role)s.", role=invitation.role.label), "success")
                return redirect(url_for("public.index"))
        return render_template("accounts/accept_invitation.html", invitation=invitation, form=form)
    form = AcceptInvitationForm()
    if request.method == "GET":
        form.name.data = invitation.name
        form.phone.data = invitation.phone
        form.email.data = invitation.email
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(
                token, name=form.name.data, phone=form.phone.data or "", email=form.email.data or "",
                password=form.password.data,
            )
        except DomainError as error:
            flash(str(error), "error")
        else:
            login_user(user)
            flash(_("Welcome! You are now %(role)s.", role=invitation.role.label), "success")
            return redirect(url_for("public.index"))
    return render_template("accounts/accept_invitation.html", invitation=invitation, form=form)


@bp.route("/language", methods=["POST"])
def set_language():
    code = request.form.get("lang", "")
    target = safe_next(request.form.get("next"))
    if ConfirmForm().validate_on_submit() and code in current_app.config["LANGUAGES"]:
        if current_user.is_authenticated:
            services.set_locale(current_user, code)
        response = redirect(target)
        _remember_language(response, code)
        return response
    return redirect(target)

