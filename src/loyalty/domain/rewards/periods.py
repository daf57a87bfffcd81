"""Calendar periods for per-member redemption limits, in the tenant's time zone.

A limit counts redemptions in the calendar day, ISO week (Monday first), month or year that
``now`` falls in *locally*, or over the member's lifetime. The services either keep counters
under ``period_key`` or count redemption rows inside ``period_window``; both agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    LIFETIME = "lifetime"


class UsageKey(NamedTuple):
    """A counter of one member's redemptions of one reward (by id, across versions)."""

    reward_id: str
    period: Period
    key: str  # "2026-03-31", "2026-W14", "2026-03", "2026" or "lifetime"


def local_time(now: datetime, tz: ZoneInfo) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(tz)


def period_key(period: Period, now: datetime, tz: ZoneInfo) -> str:
    """The name of the calendar period ``now`` falls in, in ``tz``."""
    local = local_time(now, tz)
    if period is Period.DAY:
        return local.date().isoformat()
    if period is Period.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if period is Period.MONTH:
        return f"{local.year:04d}-{local.month:02d}"
    if period is Period.YEAR:
        return f"{local.year:04d}"
    return "lifetime"


def period_window(period: Period, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """Start (inclusive) and end (exclusive) of the period, in UTC; ``None`` for lifetime.

    The bounds are local midnights, so a day across a DST change lasts 23 or 25 hours. They are
    returned in UTC because aware datetimes sharing one ``ZoneInfo`` compare by wall clock.
    """
    day = local_time(now, tz).date()
    if period is Period.DAY:
        start, end = day, day + timedelta(days=1)
    elif period is Period.WEEK:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period is Period.MONTH:
        start = day.replace(day=1)
        end = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    elif period is Period.YEAR:
        start, end = date(day.year, 1, 1), date(day.year + 1, 1, 1)
    else:
        return None
    return _midnight(start, tz), _midnight(end, tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
