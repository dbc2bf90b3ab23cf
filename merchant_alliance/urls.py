"""Redirect targets that never leave the site, and absolute links for emails."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for


def safe_next(target: str | None, default_endpoint: str = "public.index") -> str:
    """`target` if it is a path on this site, else the default page (never an off-site redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for(default_endpoint)


def back(default_endpoint: str = "public.index") -> str:
    """The page the form was sent from when it is on this site, else the default page."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.scheme in ("http", "https"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for(default_endpoint)


def external_url(endpoint: str, **values: str) -> str:
    """An absolute link for emails and invitations, using EXTERNAL_URL when configured."""
    base = current_app.config.get("EXTERNAL_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
