"""The qualification window: which activity counts towards a tier at a given moment.

- ``rolling_days``: the last N days (calendar days in the tenant's time zone);
- ``calendar_year``: 1 January to 31 December in the tenant's time zone;
- ``lifetime``: everything.

Periods are half-open ``[start, end)`` intervals of instants; ``start=None`` is "since ever".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.tiers._calendar import TICK, days_after, local_year, year_start
from loyalty.domain.tiers._fields import Fields, check_range
from loyalty.domain.tiers.errors import InvalidTierSettings

MAX_ROLLING_DAYS = 3660


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime | None  # inclusive; None: since the beginning
    end: datetime  # exclusive

    def __contains__(self, moment: datetime) -> bool:
        return (self.start is None or self.start <= moment) and moment < self.end


class WindowKind(StrEnum):
    ROLLING_DAYS = "rolling_days"
    CALENDAR_YEAR = "calendar_year"
    LIFETIME = "lifetime"


@dataclass(frozen=True, slots=True)
class Window:
    kind: WindowKind = WindowKind.LIFETIME
    days: int | None = None  # rolling_days only

    def __post_init__(self) -> None:
        if self.kind is WindowKind.ROLLING_DAYS:
            if self.days is None:
                raise InvalidTierSettings("a rolling window needs days", field="days")
            check_range(self.days, 1, MAX_ROLLING_DAYS, "days")
        elif self.days is not None:
            raise InvalidTierSettings(f"a {self.kind} window takes no days", field="days")

    def live(self, now: datetime, tz: ZoneInfo) -> Period:
        """The window as it stands at ``now``: activity up to and including ``now`` counts.

        A rolling window is then ``(now - N days, now]``.
        """
        return Period(self._start(now + TICK, tz), now + TICK)

    def closing_at(self, end: datetime, tz: ZoneInfo) -> Period:
        """The window that ends at ``end`` (exclusive).

        For a calendar year this is the year holding the last instant before ``end``, so a
        review at midnight on 1 January measures the year that has just ended.
        """
        return Period(self._start(end, tz), end)

    def closes_at(self, now: datetime, tz: ZoneInfo) -> datetime | None:
        """When the current calendar-year window ends; rolling and lifetime windows never do."""
        if self.kind is WindowKind.CALENDAR_YEAR:
            return year_start(local_year(now, tz) + 1, tz)
        return None

    def _start(self, end: datetime, tz: ZoneInfo) -> datetime | None:
        if self.kind is WindowKind.ROLLING_DAYS:
            assert self.days is not None
            return days_after(end, -self.days, tz)
        if self.kind is WindowKind.CALENDAR_YEAR:
            return year_start(local_year(end - TICK, tz), tz)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "days": self.days}

    @classmethod
    def from_dict(cls, data: object) -> Window:
        fields = Fields(data)
        kind = fields.text("kind")
        try:
            window_kind = WindowKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in WindowKind)
            raise InvalidTierSettings(f"must be one of {known}", field="kind") from None
        window = cls(window_kind, fields.opt_int("days"))
        fields.done()
        return window
