"""Log in and out, passwords, language, accepting invitations."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from merchant_alliance.accounts import services, sessions, throttle
from merchant_alliance.accounts.forms import (
    AcceptInvitationForm,
    ConfirmForm,
    LoginForm,
    PasswordChangeForm,
    PasswordResetForm,
    PasswordResetRequestForm,
)
from merchant_alliance.errors import refusals
from merchant_alliance.extensions import limiter
from merchant_alliance.i18n import LANG_COOKIE, current_locale_code
from merchant_alliance.urls import external_url, safe_next

bp = Blueprint("accounts", __name__)


def _log_in(user, *, remember: bool = False) -> None:
    """Start a server-side session for `user` and give this browser its cookies."""
    sessions.start_session(user, remember=remember, user_agent=request.user_agent.string)
    login_user(user, remember=remember)


def _remember_language(response: Response, code: str) -> None:
    # Secure like the session cookie: over HTTPS only in production.
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True,
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        device_cookie = request.cookies.get(throttle.DEVICE_COOKIE)
        attempt = throttle.login_attempt(form.login.data, request.remote_addr or "", device_cookie)
        if attempt.locked():
            # The same page whether or not the account exists; the password was not checked.
            return render_template("accounts/login.html", form=form,
                                   locked_minutes=attempt.minutes_to_wait()), 429
        user = services.authenticate(form.login.data, form.password.data)
        if user is None:
            attempt.failed()
            flash(_("Wrong mobile number, email or password."), "error")
        else:
            _log_in(user, remember=form.remember.data)
            response = redirect(safe_next(request.args.get("next")))
            throttle.remember_device(response, user, device_cookie)
            if user.locale:
                _remember_language(response, user.locale)
            return response
    return render_template("accounts/login.html", form=form)


@bp.route("/login/unlock", methods=["POST"])
@limiter.limit("10 per hour", methods=["POST"])
def request_unlock():
    if ConfirmForm().validate_on_submit():
        throttle.request_unlock_link(
            request.form.get("login", "")[:254], lambda token: external_url("accounts.unlock_device", token=token))
        # The same answer either way, so the form does not reveal who has an account or an email.
        flash(_("If the account has an email address, a link to log in on this device has been sent to it."),
              "info")
    return redirect(url_for("accounts.login"))


@bp.route("/login/unlock/<token>")
def unlock_device(token: str):
    user = throttle.user_for_unlock_token(token)
    if user is None:
        flash(_("This link is invalid or expired. Ask for a new one on the login page."), "error")
        return redirect(url_for("accounts.login"))
    response = redirect(url_for("accounts.login"))
    # A fresh device: its failures count apart from the locked account, so the owner gets in here.
    throttle.remember_device(response, user, None, new=True)
    flash(_("This device may now log in to your account. Log in as usual."), "success")
    return response


@bp.route("/logout", methods=["POST"])
def logout():
    if ConfirmForm().validate_on_submit():
        if current_user.is_authenticated:
            sessions.end_session(current_user)
        logout_user()
        flash(_("You have logged out."), "info")
    return redirect(url_for("public.index"))


@bp.route("/logout/everywhere", methods=["POST"])
@login_required
def logout_everywhere():
    if ConfirmForm().validate_on_submit():
        sessions.log_out_everywhere(current_user)
        logout_user()
        flash(_("You have logged out on every device, this one included."), "info")
        return redirect(url_for("accounts.login"))
    return redirect(url_for("accounts.change_password"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        with refusals(form, "new_password") as attempt:
            services.change_password(current_user, form.current_password.data, form.new_password.data)
        if attempt.ok:
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("public.index"))
    return render_template("accounts/change_password.html", form=form,
                           session_count=len(sessions.live_sessions(current_user)))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password():
    form = PasswordResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data, ip=request.remote_addr or "",
                                         locale=current_locale_code())
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
        with refusals(form, "new_password") as attempt:
            services.reset_password(token, form.new_password.data)
        if attempt.ok:
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
            with refusals(form) as attempt:
                services.accept_invitation(token, user=current_user)
            if attempt.ok:
                _welcome(current_user, invitation)
                return redirect(url_for("public.index"))
        return render_template("accounts/accept_invitation.html", invitation=invitation, form=form)
    form = AcceptInvitationForm()
    if request.method == "GET":
        form.name.data = invitation.name
        form.phone.data = invitation.phone
        form.email.data = invitation.email
    if form.validate_on_submit():
        with refusals(form) as attempt:
            user = services.accept_invitation(
                token, name=form.name.data, phone=form.phone.data or "", email=form.email.data or "",
                password=form.password.data,
            )
        if attempt.ok:
            _log_in(user)
            _welcome(user, invitation)
            return redirect(url_for("public.index"))
    return render_template("accounts/accept_invitation.html", invitation=invitation, form=form)


def _welcome(user, invitation) -> None:
    if services.awaits_confirmation(user, invitation):
        flash(_("Welcome! Your appointment as %(role)s waits for the street office to confirm it; "
                "until then the role gives you no rights.", role=invitation.role.label), "info")
    else:
        flash(_("Welcome! You are now %(role)s.", role=invitation.role.label), "success")


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

