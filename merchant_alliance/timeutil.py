"""Time helpers. The database stores naive UTC; pages show Asia/Shanghai (Flask-Babel converts)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what every DateTime column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)
