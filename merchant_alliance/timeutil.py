"""Time helpers. The database stores naive UTC; pages show Asia/Shanghai (Flask-Babel converts)."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what every DateTime column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


SHANGHAI = ZoneInfo("Asia/Shanghai")


def start_of_month_utc(moment: datetime | None = None) -> datetime:
    """The first instant of the current month in Shanghai, as naive UTC (for WHERE at >= …)."""
    local = (moment.replace(tzinfo=UTC) if moment else datetime.now(UTC)).astimezone(SHANGHAI)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.astimezone(UTC).replace(tzinfo=None)


def local_day_start_utc(day: date) -> datetime:
    """Midnight of a Shanghai calendar day, as naive UTC."""
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC).replace(tzinfo=None)
