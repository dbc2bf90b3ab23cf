"""Configuration classes, read from the environment.

`development` is the embedded default: SQLite and local files under `instance/`.
`production` refuses to start without a real SECRET_KEY and DATABASE_URL.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


class ConfigError(RuntimeError):
    """The configuration cannot run the app; the message says what to set."""


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - the development default, refused in production


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'merchant_alliance.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLALCHEMY_RECORD_QUERIES = False

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_CN": "简体中文", "en": "English"}

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead, so a long form on a phone still submits

    # Ten phone photos in one form; the page shrinks big photos first where the browser can.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 64 * 1024 * 1024))

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_FAILURE_LIMIT = os.environ.get("LOGIN_FAILURE_LIMIT", "5 per 15 minutes")

    INVITATION_DAYS = int(os.environ.get("INVITATION_DAYS", 7))
    PASSWORD_RESET_SECONDS = int(os.environ.get("PASSWORD_RESET_SECONDS", 60 * 60))

    # "log" writes mail to the application log; "smtp" sends it; "memory" keeps it for tests.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp" if os.environ.get("MAIL_SERVER") else "log")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", 465))
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", True)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "noreply@localhost")

    # Links in emails are built from this when set (behind a proxy), else from the request.
    EXTERNAL_URL = os.environ.get("EXTERNAL_URL", "")

    # Photos and files: "local" keeps them under STORAGE_LOCAL_ROOT and serves them after an access
    # check; "s3" uses any S3-compatible store (AWS S3, Aliyun OSS, Tencent COS, MinIO) and hands
    # browsers presigned links valid for PHOTO_URL_SECONDS.
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    STORAGE_LOCAL_ROOT = os.environ.get("STORAGE_LOCAL_ROOT", str(INSTANCE_DIR / "files"))
    S3_BUCKET = os.environ.get("S3_BUCKET", "")
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", "")  # empty: AWS itself
    S3_REGION = os.environ.get("S3_REGION", "")
    S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID", "")  # empty: boto3's usual credential chain
    S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY", "")
    S3_PREFIX = os.environ.get("S3_PREFIX", "")
    S3_ADDRESSING_STYLE = os.environ.get("S3_ADDRESSING_STYLE", "")  # "virtual" for Aliyun OSS, Tencent COS
    PHOTO_URL_SECONDS = int(os.environ.get("PHOTO_URL_SECONDS", 300))
    MAX_IMAGE_BYTES = int(os.environ.get("MAX_IMAGE_BYTES", 20 * 1024 * 1024))
    MAX_IMAGE_PIXELS = int(os.environ.get("MAX_IMAGE_PIXELS", 50_000_000))
    MAX_PHOTOS_PER_UPLOAD = int(os.environ.get("MAX_PHOTOS_PER_UPLOAD", 10))

    @classmethod
    def check(cls) -> None:
        """Raise ConfigError when this configuration cannot run safely."""


class DevelopmentConfig(Config):
    DEBUG = False  # the debugger stays off unless FLASK_DEBUG=1 is given explicitly


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing"  # noqa: S105 - tests only
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    MAIL_BACKEND = "memory"
    RATELIMIT_STORAGE_URI = "memory://"
    ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    SERVER_NAME = None
    STORAGE_BACKEND = "local"
    STORAGE_LOCAL_ROOT = ""  # a temporary directory of each app's own (see merchant_alliance.storage.init_app)


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls) -> None:
        problems = []
        secret = os.environ.get("SECRET_KEY", "")
        if len(secret.strip()) < 32 or secret == DEV_SECRET_KEY:
            problems.append("SECRET_KEY must be set to a random string of at least 32 characters")
        if not os.environ.get("DATABASE_URL"):
            problems.append("DATABASE_URL must be set (e.g. postgresql+psycopg://user:pass@host/db)")
        backend = os.environ.get("STORAGE_BACKEND", "local")
        if backend not in ("local", "s3"):
            problems.append("STORAGE_BACKEND must be local or s3")
        if backend == "s3" and not os.environ.get("S3_BUCKET"):
            problems.append("S3_BUCKET must be set when STORAGE_BACKEND=s3")
        if problems:
            raise ConfigError("Production configuration incomplete: " + "; ".join(problems))


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None) -> type[Config]:
    """The configuration class for `name` (default: APP_ENV, else development)."""
    name = name or os.environ.get("APP_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"Unknown APP_ENV {name!r}; use one of {', '.join(CONFIGS)}") from None
