"""Time helpers. The database stores naive UTC; pages show Asia/Shanghai (Flask-Babel converts)."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Now, as a naive UTC datetime (what every DateTime column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


SHANGHAI = ZoneInfo("Asia/Shanghai")

# The dates the app accepts anywhere: the street's books and plans live in this century, and dates far outside
# it overflow time zone conversions (0001-01-01 in Shanghai is before the first UTC datetime).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def local_today() -> date:
    """Today in Shanghai, where the street keeps its books."""
    return datetime.now(SHANGHAI).date()


def start_of_month_utc(moment: datetime | None = None) -> datetime:
    """The first instant of the current month in Shanghai, as naive UTC (for WHERE at >= …)."""
    local = (moment.replace(tzinfo=UTC) if moment else datetime.now(UTC)).astimezone(SHANGHAI)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.astimezone(UTC).replace(tzinfo=None)


def local_day_start_utc(day: date) -> datetime:
    """Midnight of a Shanghai calendar day, as naive UTC."""
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC).replace(tzinfo=None)


def local_month(moment: datetime) -> date:
    """The Shanghai month a naive UTC moment falls in, as the month's first day."""
    return moment.replace(tzinfo=UTC).astimezone(SHANGHAI).date().replace(day=1)
