"""Accounts: users, streets, alliances, scoped roles, invitations, logging in, passwords, sessions."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Log-in pages and sessions, the login throttle, the rules on streets, alliances and invitations,
    the audit labels of accounts, and answering "forgot password" from the outbox's sender."""
    from merchant_alliance import audit, authz, i18n, mail, pagecache
    from merchant_alliance.accounts import permissions, services, sessions, throttle, views
    from merchant_alliance.extensions import login_manager

    app.register_blueprint(views.bp)
    authz.add_rules(permissions.RULES, visible_when=permissions.VISIBLE_WHEN)
    audit.register_labels(services.AUDIT_LABELS, objects=services.AUDIT_OBJECTS)
    throttle.init_app(app)  # login failures, counted in the shared store
    mail.add_producer(answer_password_reset_requests)

    login_manager.login_view = "accounts.login"
    login_manager.login_message = i18n.LOGIN_REQUIRED
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    # The session and remember-me cookies carry a server-side session's token, not the user id: the
    # loader opens only a live, unexpired session of an active user (deactivating ends open sessions).
    login_manager.id_attribute = "get_session_token"
    login_manager.user_loader(sessions.user_for_token)
    # the page cache's versions of the user's own scopes come with the user: a cached page costs no query more
    sessions.read_with_user(pagecache.OWN_VERSIONS, sessions.own_scope_versions)


def answer_password_reset_requests() -> None:
    """The outbox's sender answers "forgot password" requests, with links to this app's reset page."""
    from merchant_alliance.accounts.services import send_reset_links
    from merchant_alliance.urls import external_url

    send_reset_links(lambda token: external_url("accounts.reset_password", token=token))
