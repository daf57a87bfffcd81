"""When a rule is live: a date range, days of the week and hours, in the tenant's time zone.

``starts_at`` is inclusive and ``ends_at`` exclusive. Either may carry an offset (an exact
instant) or not (a wall-clock time in the tenant's zone, so "2024-06-01" starts at local
midnight whatever the season). Days and hours are checked separately against the local
time: ``days: [sat, sun]`` is a weekend campaign; ``hours: 22:00-02:00`` wraps midnight, and
01:00 on Saturday is a Saturday. On the night clocks change, local times are what people see:
02:30 does not exist in spring and happens twice in autumn (both inside 02:00-03:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from loyalty.domain.errors import InvalidRule
from loyalty.domain.rules._fields import Fields, at

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # ISO weekday - 1


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Local times from ``start`` (inclusive) to ``end`` (exclusive); ``end <= start`` wraps
    past midnight, and ``end`` 00:00 (written "24:00") means the end of the day."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end and self.end != time(0):
            raise InvalidRule("from and to must differ")

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{_clock(self.end)}"


@dataclass(frozen=True, slots=True)
class Schedule:
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    days_of_week: frozenset[int] = frozenset()  # ISO: 1 = Monday .. 7 = Sunday; empty = all
    hours: tuple[TimeWindow, ...] = ()  # empty = all day

    def __post_init__(self) -> None:
        if any(not 1 <= day <= 7 for day in self.days_of_week):
            raise InvalidRule("days are 1 (Monday) to 7 (Sunday)", field="days_of_week")
        start, end = self.starts_at, self.ends_at
        if start is None or end is None:
            return
        if (start.utcoffset() is None) != (end.utcoffset() is None):
            raise InvalidRule("starts_at and ends_at must both have an offset, or neither")
        if end <= start:
            raise InvalidRule("must be after starts_at", field="ends_at")

    def is_open(self, local: datetime) -> bool:
        """Is the rule live at ``local``? (``closed_reason`` says why not.)"""
        if not (self.starts_at or self.ends_at or self.days_of_week or self.hours):
            return True
        tz = local.tzinfo  # the checks of ``closed_reason``, without writing the reason
        assert isinstance(tz, ZoneInfo), "schedules need a ZoneInfo time"
        if self.starts_at is not None and local < _instant(self.starts_at, tz):
            return False
        if self.ends_at is not None and local >= _instant(self.ends_at, tz):
            return False
        if self.days_of_week and local.isoweekday() not in self.days_of_week:
            return False
        return not self.hours or any(w.contains(local.time()) for w in self.hours)

    def closed_reason(self, local: datetime) -> str | None:
        """Why the rule is not live at ``local`` (a tenant-local time); ``None`` when it is."""
        if not (self.starts_at or self.ends_at or self.days_of_week or self.hours):
            return None
        tz = local.tzinfo
        assert isinstance(tz, ZoneInfo), "schedules need a ZoneInfo time"
        if self.starts_at is not None and local < _instant(self.starts_at, tz):
            return f"not started: starts {_show(self.starts_at)}"
        if self.ends_at is not None and local >= _instant(self.ends_at, tz):
            return f"ended: ended {_show(self.ends_at)}"
        if self.days_of_week and local.isoweekday() not in self.days_of_week:
            days = ", ".join(DAY_NAMES[day - 1] for day in sorted(self.days_of_week))
            return f"outside schedule: runs on {days}; it is {_when(local, tz)}"
        if self.hours and not any(w.contains(local.time()) for w in self.hours):
            hours = ", ".join(str(window) for window in self.hours)
            return f"outside schedule: runs {hours}; it is {_when(local, tz)}"
        return None

    def to_dict(self) -> dict[str, object]:
        return {
            "starts_at": None if self.starts_at is None else self.starts_at.isoformat(),
            "ends_at": None if self.ends_at is None else self.ends_at.isoformat(),
            "days_of_week": [DAY_NAMES[day - 1] for day in sorted(self.days_of_week)],
            "hours": [{"from": f"{w.start:%H:%M}", "to": _clock(w.end)} for w in self.hours],
        }

    @classmethod
    def from_dict(cls, data: object) -> Schedule:
        if data is None:
            return cls()
        fields = Fields(data)
        days = frozenset(
            _day(item, f"days_of_week[{i}]") for i, item in enumerate(fields.items("days_of_week"))
        )
        hours = []
        for index, item in enumerate(fields.items("hours")):
            with at(f"hours[{index}]"):
                hours.append(_window(item))
        schedule = cls(
            fields.opt_datetime("starts_at"), fields.opt_datetime("ends_at"), days, tuple(hours)
        )
        fields.done()
        return schedule


def _instant(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=tz)


def _when(local: datetime, tz: ZoneInfo) -> str:
    return f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d %H:%M} {tz.key}"


def _show(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="minutes")


def _clock(moment: time) -> str:
    return "24:00" if moment == time(0) else f"{moment:%H:%M}"


def _day(value: object, field: str) -> int:
    if isinstance(value, str) and value.lower()[:3] in DAY_NAMES:
        return DAY_NAMES.index(value.lower()[:3]) + 1
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 7:
        return value
    raise InvalidRule("must be a day name (mon..sun) or 1 (Monday) to 7 (Sunday)", field=field)


def _window(data: object) -> TimeWindow:
    fields = Fields(data)
    window = TimeWindow(_time(fields.text("from"), "from"), _time(fields.text("to"), "to"))
    fields.done()
    return window


def _time(text: str, field: str) -> time:
    if text == "24:00":
        return time(0)
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidRule("must be a time such as 18:00", field=field) from None
