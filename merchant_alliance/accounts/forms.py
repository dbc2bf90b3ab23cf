"""Forms for logging in, passwords and accepting invitations."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

MISMATCH = _l("The passwords do not match.")


class LoginForm(FlaskForm):
    login = StringField(_l("Mobile number or email"), validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Remember me on this device"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new_password", message=MISMATCH)],
                            render_kw={"autocomplete": "new-password"})


class PasswordResetRequestForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "email", "inputmode": "email"})


class PasswordResetForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8, max=200)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new_password", message=MISMATCH)],
                            render_kw={"autocomplete": "new-password"})


class AcceptInvitationForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=100)],
                       render_kw={"autocomplete": "name"})
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    email = StringField(_l("Email (optional)"), validators=[Optional(), Length(max=254)],
                        render_kw={"autocomplete": "email", "inputmode": "email"})
    password = PasswordField(_l("Choose a password"), validators=[DataRequired(), Length(min=8, max=200)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", message=MISMATCH)],
                            render_kw={"autocomplete": "new-password"})


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token, for buttons that change something (log out, accept, revoke)."""
