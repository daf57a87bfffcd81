"""Calendar steps in the tenant's time zone. Inputs are aware instants; results are in UTC.

Steps are taken on the local wall clock (a day is a calendar day, so a DST change does not
shift the time of day), then converted back to UTC, which is what instants are compared in.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from loyalty.domain.errors import ValidationFailed

TICK = timedelta(microseconds=1)  # the smallest step: ``end = now + TICK`` makes ``now`` count


def require_aware(moment: datetime, field: str) -> datetime:
    if moment.utcoffset() is None:
        raise ValidationFailed(f"{field} must carry a time zone", field=field)
    return moment


def add_months(local: datetime, months: int) -> datetime:
    """Same wall-clock time ``months`` later; a missing day becomes the month's last day.

    31 January + 1 month is 28 February (29 in a leap year).
    """
    index = local.year * 12 + local.month - 1 + months
    year, month0 = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month0 + 1)[1])
    return local.replace(year=year, month=month0 + 1, day=day)


def months_after(moment: datetime, months: int, tz: ZoneInfo) -> datetime:
    return add_months(moment.astimezone(tz), months).astimezone(UTC)


def days_after(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    return (moment.astimezone(tz) + timedelta(days=days)).astimezone(UTC)


def local_year(moment: datetime, tz: ZoneInfo) -> int:
    return moment.astimezone(tz).year


def year_start(year: int, tz: ZoneInfo) -> datetime:
    """Midnight of 1 January ``year`` in ``tz``, as a UTC instant."""
    return datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)
