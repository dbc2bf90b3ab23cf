"""Photos: the Photo record, saving uploads all-or-nothing, and serving them after an access check.

Built on `storage` (backends and the image pipeline), which knows nothing of the domain. Domains
call `services.save_photos`; templates link with `photo_url`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Serving photos, who may see them, and the checks `flask doctor` runs on the store."""
    from merchant_alliance import authz, doctor
    from merchant_alliance.photos import forms, permissions, services, upkeep, views

    app.register_blueprint(views.bp)
    authz.add_rules(permissions.RULES, visible_when=permissions.VISIBLE_WHEN)
    services.register_session_hooks()  # deletes stored objects whose transaction did not commit
    app.jinja_env.globals["photo_url"] = views.photo_url
    app.jinja_env.globals["document_url"] = views.document_url
    app.jinja_env.tests["chosen_again"] = forms.files_chosen  # `{% if field is chosen_again %}`
    doctor.register_check("storage-orphans", upkeep.check_orphans)
    doctor.register_check("storage-missing", upkeep.check_missing)
