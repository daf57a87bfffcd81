"""How much one member may get from one rule, per period, and what the rule's budget allows.

A period limit caps the points a rule gives a member (``max_points``) and/or how many times it
applies to them (``max_times``) in a calendar day, ISO week (Monday first), month or year of
the tenant's time zone, or over their lifetime. The engine does not store counters: the
services pass the member's usage for the keys ``Limits.keys`` names, and write back the
increments the engine returns. Limits count per rule *id*, so a new version of a rule keeps
counting where the old one was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from loyalty.domain.errors import InvalidRule
from loyalty.domain.rules._fields import Fields, at


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    LIFETIME = "lifetime"


class UsageKey(NamedTuple):
    rule_id: str
    period: Period
    key: str  # "2024-03-31", "2024-W13", "2024-03", "2024" or "lifetime"


@dataclass(frozen=True, slots=True)
class Usage:
    points: int = 0
    times: int = 0


@dataclass(frozen=True, slots=True)
class PeriodLimit:
    period: Period
    max_points: int | None = None
    max_times: int | None = None

    def __post_init__(self) -> None:
        if self.max_points is None and self.max_times is None:
            raise InvalidRule("needs max_points or max_times")
        if self.max_points is not None and self.max_points < 1:
            raise InvalidRule("must be at least 1", field="max_points")
        if self.max_times is not None and self.max_times < 1:
            raise InvalidRule("must be at least 1", field="max_times")


class PeriodClock:
    """The period keys of one tenant-local moment, each worked out once per evaluation."""

    def __init__(self, local: datetime) -> None:
        self.local = local
        self._keys: dict[Period, str] = {}

    def key(self, period: Period) -> str:
        key = self._keys.get(period)
        if key is None:
            key = self._keys[period] = _period_key(period, self.local.date())
        return key


@dataclass(slots=True)  # internal and never changed; not frozen, which costs 4x to build
class Allowance:
    """What limits leave for this evaluation. ``refusal`` set: the rule cannot apply now."""

    points_left: int | None  # None: no points cap
    refusal: str | None = None
    budget_exhausted: bool = False
    cap: PeriodLimit | None = None  # the limit ``points_left`` comes from; None: the budget
    cap_key: str = ""

    def cap_text(self) -> str:
        if self.cap is None:
            return f"the budget ({self.points_left} points left)"
        return f"the limit of {self.cap.max_points} points {_phrase(self.cap.period, self.cap_key)}"


@dataclass(frozen=True, slots=True)
class Limits:
    per_member: tuple[PeriodLimit, ...] = ()
    budget_points: int | None = None  # total points the rule may give, all members together

    def __post_init__(self) -> None:
        periods = [limit.period for limit in self.per_member]
        for index, period in enumerate(periods):
            if period in periods[:index]:
                raise InvalidRule(
                    f"period '{period}' is limited twice", field=f"per_member[{index}]"
                )
        if self.budget_points is not None and self.budget_points < 1:
            raise InvalidRule("must be at least 1", field="budget_points")

    def keys(self, rule_id: str, clock: PeriodClock) -> tuple[UsageKey, ...]:
        """The counters this rule needs for an event at the clock's moment."""
        if not self.per_member:
            return ()
        return tuple(
            UsageKey(rule_id, limit.period, clock.key(limit.period)) for limit in self.per_member
        )

    def allowance(
        self,
        rule_id: str,
        clock: PeriodClock,
        usage: Mapping[UsageKey, Usage],
        budgets_left: Mapping[str, int],
    ) -> Allowance:
        if self.budget_points is None and not self.per_member:
            return _UNLIMITED
        best = _UNLIMITED
        for limit in self.per_member:
            key = _new(UsageKey, (rule_id, limit.period, clock.key(limit.period)))
            used = usage.get(key, _NONE)
            if limit.max_times is not None and used.times >= limit.max_times:
                when = _phrase(limit.period, key.key)
                return Allowance(
                    0, f"limit reached: applied {used.times} of {limit.max_times} times {when}"
                )
            if limit.max_points is not None:
                room = max(limit.max_points - used.points, 0)
                if room == 0:
                    when = _phrase(limit.period, key.key)
                    return Allowance(
                        0, f"limit reached: {used.points} of {limit.max_points} points {when}"
                    )
                if best.points_left is None or room < best.points_left:
                    best = Allowance(room, cap=limit, cap_key=key.key)
        if self.budget_points is not None:
            budget = max(budgets_left.get(rule_id, self.budget_points), 0)
            if budget == 0:
                return Allowance(0, f"budget of {self.budget_points} points used up", True)
            if best.points_left is None or budget < best.points_left:
                best = Allowance(budget)
        return best

    def to_dict(self) -> dict[str, object]:
        return {
            "per_member": [
                {
                    "period": lim.period.value,
                    "max_points": lim.max_points,
                    "max_times": lim.max_times,
                }
                for lim in self.per_member
            ],
            "budget_points": self.budget_points,
        }

    @classmethod
    def from_dict(cls, data: object) -> Limits:
        if data is None:
            return cls()
        fields = Fields(data)
        per_member = []
        for index, item in enumerate(fields.items("per_member")):
            with at(f"per_member[{index}]"):
                per_member.append(_period_limit(item))
        budget = fields.opt_int("budget_points")
        fields.done()
        return cls(tuple(per_member), budget)


_NONE = Usage()
_new = tuple.__new__  # a named tuple built without its Python-level ``__new__``
_UNLIMITED = Allowance(None)


def _period_limit(data: object) -> PeriodLimit:
    fields = Fields(data)
    name = fields.text("period")
    try:
        period = Period(name)
    except ValueError:
        allowed = ", ".join(p.value for p in Period)
        raise InvalidRule(
            f"'{name}' is not a period; use one of {allowed}", field="period"
        ) from None
    limit = PeriodLimit(period, fields.opt_int("max_points"), fields.opt_int("max_times"))
    fields.done()
    return limit


def period_key(period: Period, local: datetime | date) -> str:
    """The calendar period ``local`` (a tenant-local time or date) falls in."""
    if period is Period.DAY:
        return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
    if period is Period.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if period is Period.MONTH:
        return f"{local.year:04d}-{local.month:02d}"
    if period is Period.YEAR:
        return f"{local.year:04d}"
    return "lifetime"


def period_window(period: Period, local: datetime) -> tuple[datetime, datetime] | None:
    """Start (inclusive) and end (exclusive) of the period, as times in ``local``'s zone.

    Local midnights are resolved in the zone, so a day across a DST change lasts 23 or 25
    hours. ``None`` for the lifetime period.
    """
    tz = local.tzinfo
    assert isinstance(tz, ZoneInfo), "period windows need a ZoneInfo time"
    day = local.date()
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


# The keys of the days evaluations ran on lately (a day's keys are the same all day long).
_period_key = lru_cache(maxsize=1024)(period_key)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _phrase(period: Period, key: str) -> str:
    if period is Period.LIFETIME:
        return "in total"
    this = {"day": "today", "week": "this week", "month": "this month", "year": "this year"}
    return f"{this[period.value]} ({key})"
