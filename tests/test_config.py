"""Configuration from the environment, production's refusals, cookies and security headers."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config import DEV_SECRET_KEY, ConfigError, ProductionConfig, TestingConfig
from merchant_alliance import create_app
from merchant_alliance.extensions import db

PROJECT_DIR = Path(__file__).resolve().parent.parent
ALLOWED_SOURCES = {"'self'", "'none'", "data:", "blob:"}


@pytest.fixture
def production_env(monkeypatch):
    """What an operator sets for production (the database is never opened by these tests)."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://alliance:secret@db.internal/alliance")
    monkeypatch.setenv("EXTERNAL_URL", "https://yuyuan.example.cn")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")


# --- production refuses to start without what it needs ------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "short-secret", DEV_SECRET_KEY, "x" * 31])
def test_production_refuses_to_start_without_a_real_secret_key(production_env, monkeypatch, secret):
    if secret is None:
        monkeypatch.delenv("SECRET_KEY")
    else:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="SECRET_KEY must be set to a random string of at least 32 characters"):
        create_app()


def test_production_refuses_to_start_without_a_database_url(production_env, monkeypatch):
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(ConfigError, match=r"DATABASE_URL must be set \(e\.g\. postgresql\+psycopg://"):
        create_app("production")


@pytest.mark.parametrize("external_url", [None, "", "yuyuan.example.cn", "https://", "ftp://yuyuan.example.cn"])
def test_production_refuses_to_start_without_a_public_address_for_links(production_env, monkeypatch, external_url):
    """Emailed links are built from EXTERNAL_URL alone; without it they would have nowhere to point."""
    if external_url is None:
        monkeypatch.delenv("EXTERNAL_URL")
    else:
        monkeypatch.setenv("EXTERNAL_URL", external_url)
    with pytest.raises(ConfigError, match="EXTERNAL_URL must be set to the site's public address"):
        create_app()


@pytest.mark.parametrize("store", [None, "memory://"])
def test_production_refuses_login_counters_kept_in_one_process(production_env, monkeypatch, store):
    """Several gunicorn workers must count login failures in one shared store (Redis), not each its own."""
    if store is None:
        monkeypatch.delenv("RATELIMIT_STORAGE_URI")
    else:
        monkeypatch.setenv("RATELIMIT_STORAGE_URI", store)
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI must name a store that all app processes share"):
        create_app()


def test_production_names_every_missing_setting_at_once(production_env, monkeypatch):
    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(ConfigError) as refused:
        create_app()
    assert "SECRET_KEY" in str(refused.value) and "DATABASE_URL" in str(refused.value)


@pytest.mark.parametrize("name", ["staging", "prod", "Production"])
def test_an_unknown_app_env_is_refused(monkeypatch, name):
    monkeypatch.setenv("APP_ENV", name)
    with pytest.raises(ConfigError, match=f"Unknown APP_ENV '{name}'; use one of development, testing, production"):
        create_app()


def test_development_is_the_default(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    app = create_app()
    assert not app.testing and not app.debug
    assert app.config["SESSION_COOKIE_SECURE"] is False


# --- production, configured -------------------------------------------------------------------


@pytest.fixture
def production_app(production_env):
    # Configuration is read at import, before production_env: give the values it would have read.
    return create_app(ProductionConfig, EXTERNAL_URL="https://localhost", TRUSTED_HOSTS=["localhost"])


def cookie(response, name: str) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    return header


def test_production_session_cookie_is_secure_httponly_and_samesite_lax(production_app):
    client = production_app.test_client()
    response = client.get("/login")  # the form's CSRF token starts the session
    assert response.status_code == 200
    session = cookie(response, production_app.config["SESSION_COOKIE_NAME"])
    assert "; Secure" in session
    assert "; HttpOnly" in session
    assert "; SameSite=Lax" in session
    assert production_app.config["REMEMBER_COOKIE_SECURE"] is True
    assert production_app.config["REMEMBER_COOKIE_HTTPONLY"] is True
    assert production_app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert production_app.config["WTF_CSRF_ENABLED"] is True
    assert production_app.config["PREFERRED_URL_SCHEME"] == "https"


def test_production_language_cookie_is_secure_too(production_app):
    client = production_app.test_client()
    https = "https://localhost"  # the browser sends the Secure session cookie back over HTTPS only
    page = client.get("/login", base_url=https).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
    response = client.post("/language", base_url=https, headers={"Referer": f"{https}/login"},
                           data={"lang": "en", "next": "/login", "csrf_token": token})
    assert response.status_code == 302
    lang = cookie(response, "lang")
    assert "; Secure" in lang and "; HttpOnly" in lang and "; SameSite=Lax" in lang


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Start a fresh interpreter the way gunicorn would, with only the given environment."""
    clean_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), **env}
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=clean_env, capture_output=True, text=True, timeout=60,
    )


def test_the_wsgi_entry_point_reads_production_settings_from_the_environment(tmp_path):
    secret = secrets.token_urlsafe(48)
    database = f"sqlite:///{tmp_path / 'production.sqlite3'}"
    result = run_python(
        "import json, wsgi; c = wsgi.app.config; print(json.dumps({k: c[k] for k in "
        "('SECRET_KEY', 'SQLALCHEMY_DATABASE_URI', 'SESSION_COOKIE_SECURE', 'DEBUG', 'TESTING')}))",
        APP_ENV="production", SECRET_KEY=secret, DATABASE_URL=database, EXTERNAL_URL="https://yuyuan.example.cn",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout.strip().splitlines()[-1])
    assert config == {"SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": database, "SESSION_COOKIE_SECURE": True,
                      "DEBUG": False, "TESTING": False}


HOST_PROBE = """
import json, wsgi
client = wsgi.app.test_client()
answers = {}
for host in ("yuyuan.example.cn", "admin.yuyuan.example.cn", "evil.example", "yuyuan.example.cn.evil.example"):
    answers[host] = [client.get("/login", headers={"Host": host}).status_code,
                     client.post("/password/forgot", headers={"Host": host}, data={"email": "a@b.cn"}).status_code]
print(json.dumps({"trusted": wsgi.app.config["TRUSTED_HOSTS"], "answers": answers}))
"""


def test_production_answers_only_its_own_host_names(tmp_path):
    """A request naming another Host (the trick that poisons reset links) gets a 400, never a page or a 500."""
    result = run_python(
        HOST_PROBE, APP_ENV="production", SECRET_KEY=secrets.token_urlsafe(48),
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}", EXTERNAL_URL="https://yuyuan.example.cn",
        TRUSTED_HOSTS="admin.yuyuan.example.cn", RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["trusted"] == ["yuyuan.example.cn", "admin.yuyuan.example.cn"]
    assert probe["answers"]["yuyuan.example.cn"][0] == 200
    assert probe["answers"]["admin.yuyuan.example.cn"][0] == 200
    assert probe["answers"]["evil.example"] == [400, 400]
    assert probe["answers"]["yuyuan.example.cn.evil.example"] == [400, 400]


def test_development_links_point_at_what_make_run_serves():
    result = run_python("import config; print(config.DevelopmentConfig.EXTERNAL_URL)")
    assert result.stdout.strip() == "http://127.0.0.1:5000"


# --- security headers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site():
    """A browser on the app with an empty SQLite database (the headers do not depend on the database)."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    with app.app_context():
        db.create_all()
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in filter(None, (p.strip() for p in policy.split(";"))):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.mark.parametrize("url", ["/", "/login", "/no-such-page", "/static/css/app.css"])
def test_every_response_carries_the_security_headers(site, url):
    with site.get(url) as response:
        assert response.status_code == (404 if url == "/no-such-page" else 200)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    directives = csp_directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    for name, sources in directives.items():
        assert set(sources) <= ALLOWED_SOURCES, f"{name} allows {sources}: no external host, no unsafe-inline"


def test_pages_are_not_cached_but_static_files_may_be(site):
    assert site.get("/login").headers["Cache-Control"] == "no-store"
    with site.get("/static/css/app.css") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


@pytest.mark.parametrize("url", ["/", "/login"])
def test_pages_load_nothing_from_another_host(site, url):
    page = site.get(url).get_data(as_text=True)
    for attribute, target in re.findall(r'\b(src|href|action)="([^"]*)"', page):
        assert not re.match(r"^(https?:)?//", target), f"{attribute}={target} loads from another host"
