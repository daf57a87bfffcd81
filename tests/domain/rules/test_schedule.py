"""Schedules in the tenant's time zone: dates, days of the week, hours, DST and month ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty.domain.errors import InvalidRule
from loyalty.domain.rules import Status

from .builders import evaluate, order_input, rule

FIFTY = {"kind": "fixed_points", "points": 50}


def status_at(moment: datetime, schedule: dict[str, object]) -> Status:
    return (
        evaluate([rule(effect=FIFTY, schedule=schedule)], order_input(now=moment))
        .outcomes[0]
        .status
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_start_is_inclusive_and_end_exclusive_in_local_time() -> None:
    # given a campaign for January, written as local dates
    january = {"starts_at": "2026-01-01", "ends_at": "2026-02-01"}

    # then it starts and ends at Warsaw midnight (UTC+1 in winter)
    assert status_at(utc(2025, 12, 31, 22, 59), january) is Status.OUTSIDE_SCHEDULE
    assert status_at(utc(2025, 12, 31, 23, 0), january) is Status.APPLIED
    assert status_at(utc(2026, 1, 31, 22, 59), january) is Status.APPLIED
    assert status_at(utc(2026, 1, 31, 23, 0), january) is Status.OUTSIDE_SCHEDULE


def test_start_with_an_offset_is_an_exact_instant() -> None:
    schedule = {"starts_at": "2026-01-14T12:00:00+00:00"}

    assert status_at(utc(2026, 1, 14, 11, 59), schedule) is Status.OUTSIDE_SCHEDULE
    assert status_at(utc(2026, 1, 14, 12, 0), schedule) is Status.APPLIED


def test_reasons_say_why_a_rule_is_closed() -> None:
    schedule = {"ends_at": "2026-01-01"}
    outcome = evaluate([rule(effect=FIFTY, schedule=schedule)], order_input()).outcomes[0]

    assert outcome.reason.startswith("ended: ended 2026-01-01 00:00")


def test_weekend_only_uses_the_local_day() -> None:
    # given a "double points weekend": Saturday and Sunday in Warsaw
    weekend = {"days_of_week": ["sat", "sun"]}

    # Friday 23:30 UTC is already Saturday 00:30 in Warsaw
    assert status_at(utc(2026, 1, 16, 22, 59), weekend) is Status.OUTSIDE_SCHEDULE
    assert status_at(utc(2026, 1, 16, 23, 30), weekend) is Status.APPLIED
    assert status_at(utc(2026, 1, 18, 22, 59), weekend) is Status.APPLIED
    assert status_at(utc(2026, 1, 18, 23, 0), weekend) is Status.OUTSIDE_SCHEDULE


def test_days_accept_iso_numbers() -> None:
    assert status_at(utc(2026, 1, 14, 11, 0), {"days_of_week": [3]}) is Status.APPLIED  # Wed
    assert status_at(utc(2026, 1, 14, 11, 0), {"days_of_week": [4]}) is Status.OUTSIDE_SCHEDULE


def test_happy_hours_follow_the_local_clock_across_the_dst_change() -> None:
    # given 09:00-10:00 local; Warsaw moves from UTC+1 to UTC+2 on 29 March 2026
    morning = {"hours": [{"from": "09:00", "to": "10:00"}]}

    # the same UTC time is 09:30 the day before and 10:30 on the change day
    assert status_at(utc(2026, 3, 28, 8, 30), morning) is Status.APPLIED
    assert status_at(utc(2026, 3, 29, 8, 30), morning) is Status.OUTSIDE_SCHEDULE
    assert status_at(utc(2026, 3, 29, 7, 30), morning) is Status.APPLIED


def test_the_skipped_hour_of_the_dst_change_never_happens() -> None:
    # 02:00-03:00 does not exist on 29 March 2026 in Warsaw: 00:59 UTC is 01:59, 01:00 is 03:00
    night = {"hours": [{"from": "02:00", "to": "03:00"}]}

    assert status_at(utc(2026, 3, 29, 0, 59), night) is Status.OUTSIDE_SCHEDULE
    assert status_at(utc(2026, 3, 29, 1, 0), night) is Status.OUTSIDE_SCHEDULE


def test_the_repeated_hour_in_autumn_is_inside_both_times() -> None:
    # 02:30 happens twice on 25 October 2026: at 00:30 UTC (CEST) and 01:30 UTC (CET)
    night = {"hours": [{"from": "02:00", "to": "03:00"}]}

    assert status_at(utc(2026, 10, 25, 0, 30), night) is Status.APPLIED
    assert status_at(utc(2026, 10, 25, 1, 30), night) is Status.APPLIED
    assert status_at(utc(2026, 10, 25, 2, 30), night) is Status.OUTSIDE_SCHEDULE


def test_hours_wrap_past_midnight_and_24_00_is_the_end_of_the_day() -> None:
    late = {"hours": [{"from": "22:00", "to": "02:00"}]}
    evening = {"hours": [{"from": "18:00", "to": "24:00"}]}

    assert status_at(utc(2026, 1, 14, 23, 30), late) is Status.APPLIED  # 00:30 local
    assert status_at(utc(2026, 1, 14, 20, 0), late) is Status.OUTSIDE_SCHEDULE  # 21:00 local
    assert status_at(utc(2026, 1, 14, 22, 59), evening) is Status.APPLIED  # 23:59 local
    assert status_at(utc(2026, 1, 14, 16, 59), evening) is Status.OUTSIDE_SCHEDULE


def test_end_of_month_campaign_on_the_last_day_of_february() -> None:
    last_day = {"starts_at": "2028-02-29", "ends_at": "2028-03-01"}

    assert status_at(utc(2028, 2, 28, 23, 0), last_day) is Status.APPLIED
    assert status_at(utc(2028, 2, 29, 22, 59), last_day) is Status.APPLIED
    assert status_at(utc(2028, 2, 29, 23, 0), last_day) is Status.OUTSIDE_SCHEDULE


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"days_of_week": ["funday"]}, "schedule.days_of_week[0]"),
        ({"days_of_week": [8]}, "schedule.days_of_week[0]"),
        ({"hours": [{"from": "25:00", "to": "26:00"}]}, "schedule.hours[0].from"),
        ({"hours": [{"from": "10:00", "to": "10:00"}]}, "schedule.hours[0]"),
        ({"starts_at": "soon"}, "schedule.starts_at"),
        ({"starts_at": "2026-02-01", "ends_at": "2026-01-01"}, "schedule.ends_at"),
        ({"weekdays": ["mon"]}, "schedule.weekdays"),
    ],
)
def test_malformed_schedules_name_the_field(schedule: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRule) as error:
        rule(effect=FIFTY, schedule=schedule)

    assert error.value.field == field
