"""Configuration classes, read from the environment.

`development` is the embedded default: SQLite and local files under `instance/`.
`production` refuses to start without a real SECRET_KEY, DATABASE_URL, EXTERNAL_URL and a shared
RATELIMIT_STORAGE_URI.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

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
    # A login without "remember me" ends on the server after this many hours, whatever the browser keeps.
    SESSION_LIFETIME_HOURS = int(os.environ.get("SESSION_LIFETIME_HOURS", 12))

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead, so a long form on a phone still submits

    # Rendered page fragments, kept under the versions of the data they show (merchant_alliance.pagecache):
    # in each process by default. A store shared by several machines (CACHE_TYPE=RedisCache, CACHE_REDIS_URL)
    # needs a CACHE_KEY_PREFIX of its own for each release, as the templates change with it.
    CACHE_TYPE = os.environ.get("CACHE_TYPE", "SimpleCache")
    CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL")
    CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "")
    CACHE_THRESHOLD = int(os.environ.get("CACHE_THRESHOLD", 2000))  # fragments kept per process


    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # Failed logins are counted per account (whatever identifier is typed) and per client address;
    # a browser the account has logged in from before has a bucket of its own (see accounts/throttle.py).
    LOGIN_ACCOUNT_LIMIT = os.environ.get("LOGIN_ACCOUNT_LIMIT", "5 per 15 minutes")
    LOGIN_IP_LIMIT = os.environ.get("LOGIN_IP_LIMIT", "20 per 15 minutes")
    LOGIN_DEVICE_LIMIT = os.environ.get("LOGIN_DEVICE_LIMIT", "10 per 15 minutes")
    LOGIN_UNLOCK_MAIL_LIMIT = "3 per hour"
    LOGIN_UNLOCK_SECONDS = 60 * 60
    DEVICE_COOKIE_DAYS = 365
    # How many reverse proxies in front of the app append to X-Forwarded-For (0: use the peer address).
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", 0))

    INVITATION_DAYS = int(os.environ.get("INVITATION_DAYS", 7))
    PASSWORD_RESET_SECONDS = int(os.environ.get("PASSWORD_RESET_SECONDS", 60 * 60))

    # "log" writes mail to the application log; "smtp" sends it; "memory" keeps it for tests.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp" if os.environ.get("MAIL_SERVER") else "log")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", 465))
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", True)
    MAIL_USE_STARTTLS = _bool("MAIL_USE_STARTTLS", True)  # without SSL: upgrade with STARTTLS (off: a local relay)
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", 10))  # seconds the sender waits for the mail server
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "noreply@localhost")
    # Mail waits in the outbox_messages table until a sender delivers it: `flask outbox work` beside the
    # web server, or (OUTBOX_THREAD, development's default) a thread of the web process itself.
    OUTBOX_THREAD = _bool("OUTBOX_THREAD", False)
    OUTBOX_POLL_SECONDS = float(os.environ.get("OUTBOX_POLL_SECONDS", 5))
    OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", 10))
    OUTBOX_RETRY_SECONDS = float(os.environ.get("OUTBOX_RETRY_SECONDS", 30))  # doubled after each failure …
    OUTBOX_RETRY_MAX_SECONDS = float(os.environ.get("OUTBOX_RETRY_MAX_SECONDS", 3600))  # … up to this
    OUTBOX_LEASE_SECONDS = float(os.environ.get("OUTBOX_LEASE_SECONDS", 300))  # a sender's claim on a message

    # Links in emails are built from this alone, never from the request's Host header.
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
    MAX_DOCUMENT_BYTES = int(os.environ.get("MAX_DOCUMENT_BYTES", 10 * 1024 * 1024))  # a PDF (a contractor's quote)
    # A form may carry as many photos as one upload allows, each as large as allowed, plus its text.
    # Files above 500 KB are spooled to disk while the request is read, not held in memory.
    MAX_CONTENT_LENGTH = int(os.environ.get(
        "MAX_CONTENT_LENGTH", MAX_PHOTOS_PER_UPLOAD * MAX_IMAGE_BYTES + 1024 * 1024))
    # The largest text form: a shop list of up to 1 MB comes back as one field when its import is confirmed
    # (three times as long once a browser percent-encodes Chinese).
    MAX_FORM_MEMORY_SIZE = 4 * 1024 * 1024
    # An object no row names is left alone this long (an upload may still be on its way to its commit);
    # after that `flask doctor` reports it and `flask storage gc` deletes it.
    STORAGE_ORPHAN_GRACE_SECONDS = int(os.environ.get("STORAGE_ORPHAN_GRACE_SECONDS", 3600))

    @classmethod
    def check(cls) -> None:
        """Raise ConfigError when this configuration cannot run safely."""


class DevelopmentConfig(Config):
    DEBUG = False  # the debugger stays off unless FLASK_DEBUG=1 is given explicitly
    OUTBOX_THREAD = _bool("OUTBOX_THREAD", True)  # `make run` shows mail in the log without a second process
    EXTERNAL_URL = os.environ.get("EXTERNAL_URL") or "http://127.0.0.1:5000"  # what `make run` serves


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing"  # noqa: S105 - tests only
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    MAIL_BACKEND = "memory"
    RATELIMIT_STORAGE_URI = "memory://"
    EXTERNAL_URL = "http://localhost"
    ARGON2_PARAMS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    SERVER_NAME = None
    STORAGE_BACKEND = "local"
    STORAGE_LOCAL_ROOT = ""  # a temporary directory of each app's own (see merchant_alliance.storage.init_app)
    CACHE_CHECK_WRITES = True  # a commit that writes a table without telling the page cache fails


def trusted_hosts(external_url: str, extra: str = "") -> list[str]:
    """The Host names the app answers: EXTERNAL_URL's host and a comma-separated list of others."""
    hosts = [urlsplit(external_url).hostname or ""] + [h.strip() for h in extra.split(",")]
    return [h for h in dict.fromkeys(hosts) if h]


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    # A request naming any other Host gets 400 (Flask checks it before routing).
    TRUSTED_HOSTS = trusted_hosts(Config.EXTERNAL_URL, os.environ.get("TRUSTED_HOSTS", ""))

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
        external = urlsplit(os.environ.get("EXTERNAL_URL", ""))
        if external.scheme not in ("http", "https") or not external.hostname:
            problems.append("EXTERNAL_URL must be set to the site's public address, e.g. https://yuyuan.example.cn "
                            "(links in emails are built from it)")
        if os.environ.get("RATELIMIT_STORAGE_URI", "memory://").startswith("memory://"):
            problems.append("RATELIMIT_STORAGE_URI must name a store that all app processes share, "
                            "e.g. redis://127.0.0.1:6379/0 (login throttling counts there)")
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
