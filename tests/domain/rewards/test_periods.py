"""Limit periods are calendar periods of the tenant's time zone, not of UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from loyalty.domain.rewards import Period, period_key, period_window

WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")


def test_keys_name_the_local_day_week_month_and_year() -> None:
    # given 23:30 UTC on 31 Dec 2026 is already 1 Jan 2027 in Warsaw
    now = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)

    assert period_key(Period.DAY, now, WARSAW) == "2027-01-01"
    assert period_key(Period.DAY, now, ZoneInfo("UTC")) == "2026-12-31"
    assert period_key(Period.WEEK, now, WARSAW) == "2026-W53"
    assert period_key(Period.MONTH, now, WARSAW) == "2027-01"
    assert period_key(Period.YEAR, now, WARSAW) == "2027"
    assert period_key(Period.LIFETIME, now, WARSAW) == "lifetime"


def test_week_starts_on_monday_local_time() -> None:
    sunday_late = datetime(2026, 3, 8, 23, 30, tzinfo=UTC)  # Monday 9 March, 00:30 in Warsaw

    assert period_key(Period.WEEK, sunday_late, WARSAW) == "2026-W11"
    assert period_key(Period.WEEK, sunday_late, NEW_YORK) == "2026-W10"


def test_windows_are_local_midnights_in_utc() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    assert period_window(Period.DAY, now, WARSAW) == (
        datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
    )
    assert period_window(Period.WEEK, now, WARSAW) == (
        datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 23, 0, tzinfo=UTC),
    )
    assert period_window(Period.YEAR, now, WARSAW) == (
        datetime(2025, 12, 31, 23, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
    )
    assert period_window(Period.LIFETIME, now, WARSAW) is None


def test_a_month_across_the_spring_dst_change_is_an_hour_short() -> None:
    start, end = period_window(Period.MONTH, datetime(2026, 3, 15, tzinfo=UTC), WARSAW) or ()

    assert start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)


def test_december_window_ends_on_new_year() -> None:
    window = period_window(Period.MONTH, datetime(2026, 12, 10, tzinfo=UTC), NEW_YORK)

    assert window == (
        datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
        datetime(2027, 1, 1, 5, 0, tzinfo=UTC),
    )


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        period_key(Period.DAY, datetime(2026, 3, 2, 12, 0), WARSAW)
