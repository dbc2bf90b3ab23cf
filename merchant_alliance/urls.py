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
    """An absolute link for emails and invitations, built from EXTERNAL_URL alone.

    Never from the request: its Host and X-Forwarded-* headers are whatever the sender typed, and a
    reset link pointing at an attacker's host would hand them the token. Works outside a request too.
    """
    base = urlsplit(current_app.config.get("EXTERNAL_URL") or "")
    if base.scheme not in ("http", "https") or not base.netloc:
        raise RuntimeError("EXTERNAL_URL must be configured (e.g. https://yuyuan.example.cn) to build links")
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path.rstrip("/") or "/",
                                       url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)
