"""Programme settings: money -> points, the return window, lot expiry and validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from loyalty.domain.errors import ErrorCode, InvalidSettings, UnknownCurrency
from loyalty.domain.program import Clawback, ExpiryKind, ExpiryPolicy, Program, Rounding

WARSAW = ZoneInfo("Europe/Warsaw")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)  # type: ignore[misc]


# --- points_for -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "rate", "rounding", "points"),
    [
        ("26.50", "1", Rounding.FLOOR, 26),
        ("26.50", "1", Rounding.HALF_UP, 27),
        ("26.50", "1", Rounding.CEILING, 27),
        ("26.49", "1", Rounding.FLOOR, 26),
        ("26.49", "1", Rounding.HALF_UP, 26),
        ("26.49", "1", Rounding.CEILING, 27),
        ("26.00", "1", Rounding.FLOOR, 26),
        ("26.00", "1", Rounding.HALF_UP, 26),
        ("26.00", "1", Rounding.CEILING, 26),
        ("99.99", "0.1", Rounding.FLOOR, 9),
        ("99.99", "0.1", Rounding.HALF_UP, 10),
        ("99.99", "0.1", Rounding.CEILING, 10),
        ("1.09", "2.5", Rounding.FLOOR, 2),  # 2.725
        ("1.09", "2.5", Rounding.HALF_UP, 3),
        ("1.09", "2.5", Rounding.CEILING, 3),
        ("0.01", "1", Rounding.CEILING, 1),
        ("0.01", "1", Rounding.HALF_UP, 0),
        ("123.45", "10", Rounding.FLOOR, 1234),
        ("123.45", "10", Rounding.HALF_UP, 1235),  # 1234.5 rounds half up
    ],
)
def test_points_for_applies_the_rate_then_one_rounding(
    base: str, rate: str, rounding: Rounding, points: int
) -> None:
    # given a programme with a rate and a rounding mode
    program = Program("PLN", points_per_unit=Decimal(rate), rounding=rounding)
    # when a base is converted
    earned = program.points_for(Decimal(base))
    # then the rate is applied and the product rounded once by the mode
    assert earned == points
    assert isinstance(earned, int)


def test_rate_and_rounding_apply_once_to_the_whole_base_not_per_line() -> None:
    # given 2.5 points per unit, half up, and two lines of 0.99 and 0.10
    program = Program("PLN", points_per_unit=Decimal("2.5"), rounding=Rounding.HALF_UP)
    lines = [Decimal("0.99"), Decimal("0.10")]
    # when the whole base is converted
    whole = program.points_for(sum(lines, Decimal(0)))
    # then 1.09 x 2.5 = 2.725 -> 3, where rounding per line would give 2 + 0
    assert whole == 3
    assert sum(program.points_for(line) for line in lines) == 2


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("base", ["0", "-0.01", "-100"])
def test_a_base_of_zero_or_less_earns_nothing(rounding: Rounding, base: str) -> None:
    # given any rounding mode, even ceiling
    program = Program("PLN", rounding=rounding)
    # when / then
    assert program.points_for(Decimal(base)) == 0


@pytest.mark.parametrize("rounding", list(Rounding))
def test_a_rate_of_zero_earns_nothing(rounding: Rounding) -> None:
    # given a programme that gives no points per unit
    program = Program("PLN", points_per_unit=Decimal(0), rounding=rounding)
    # when / then
    assert program.points_for(Decimal("1000.01")) == 0


# --- available_at ---------------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, 1, 14, 365])
def test_points_become_available_when_the_return_window_closes(days: int) -> None:
    # given a return window of ``days``
    program = Program("PLN", pending_days=days)
    earned = utc(2026, 3, 2, 12, 0)
    # when / then points unlock exactly that many days later (0 = at once)
    assert program.available_at(earned) == earned + timedelta(days=days)


# --- lot expiry -----------------------------------------------------------------------------


def test_days_after_earn_counts_whole_days_from_availability() -> None:
    # given lots that expire 30 days after they become available
    policy = ExpiryPolicy(ExpiryKind.DAYS_AFTER_EARN, days=30)
    available = utc(2026, 1, 10, 8, 30)
    # when / then
    assert policy.lot_expires_at(available, WARSAW) == utc(2026, 2, 9, 8, 30)


def test_days_after_earn_is_a_duration_across_a_dst_change() -> None:
    # given a lot that becomes available before the spring DST change in Warsaw (29 March 2026)
    policy = ExpiryPolicy(ExpiryKind.DAYS_AFTER_EARN, days=30)
    available = utc(2026, 3, 20, 12, 0)  # 13:00 CET
    # when
    expires = policy.lot_expires_at(available, WARSAW)
    # then it expires 30 x 24 hours later, which is 14:00 CEST local time
    assert expires == utc(2026, 4, 19, 12, 0)
    assert expires is not None
    assert expires - available == timedelta(days=30)
    assert expires.astimezone(WARSAW).hour == 14


@pytest.mark.parametrize(
    ("available", "months", "expires"),
    [
        # the end of the same month (months=0), at local midnight CET (UTC+1)
        (utc(2026, 1, 15, 10, 0), 0, local(2026, 2, 1)),
        # 31 January + 1 month is the end of February (not 3 March)
        (utc(2026, 1, 31, 12, 0), 1, local(2026, 3, 1)),
        # ... and of 29 February in a leap year
        (utc(2028, 1, 31, 12, 0), 1, local(2028, 3, 1)),
        # 31 March + 1 month = end of April (30 days)
        (utc(2026, 3, 31, 10, 0), 1, local(2026, 5, 1)),
        # December rolls over into January of the next year
        (utc(2026, 12, 10, 12, 0), 0, local(2027, 1, 1)),
        (utc(2026, 12, 31, 12, 0), 1, local(2027, 2, 1)),
        (utc(2026, 11, 30, 12, 0), 1, local(2027, 1, 1)),
        (utc(2026, 11, 30, 12, 0), 13, local(2028, 1, 1)),
        (utc(2026, 6, 15, 12, 0), 24, local(2028, 7, 1)),
    ],
)
def test_end_of_month_after_is_the_first_instant_after_that_local_month(
    available: datetime, months: int, expires: datetime
) -> None:
    # given lots that expire at the end of the month ``months`` after they became available
    policy = ExpiryPolicy(ExpiryKind.END_OF_MONTH_AFTER, months=months)
    # when
    result = policy.lot_expires_at(available, WARSAW)
    # then it is local midnight on the 1st of the following month
    assert result == expires
    assert result is not None
    assert result.astimezone(WARSAW).replace(tzinfo=None) == expires.replace(tzinfo=None)


def test_end_of_month_is_taken_in_the_tenant_time_zone_not_utc() -> None:
    # given a lot available at 23:30 UTC on 31 January, which is already 1 February in Warsaw
    policy = ExpiryPolicy(ExpiryKind.END_OF_MONTH_AFTER, months=0)
    available = utc(2026, 1, 31, 23, 30)
    # when
    expires = policy.lot_expires_at(available, WARSAW)
    # then it belongs to February: it expires at the end of February local time
    assert expires == local(2026, 3, 1)
    assert expires == utc(2026, 2, 28, 23, 0)
    # while in UTC the same instant would still be January
    assert policy.lot_expires_at(available, ZoneInfo("UTC")) == utc(2026, 2, 1)


def test_end_of_month_across_the_spring_dst_change_uses_summer_time() -> None:
    # given a lot available in March 2026, before Warsaw moves to CEST on 29 March
    policy = ExpiryPolicy(ExpiryKind.END_OF_MONTH_AFTER, months=0)
    # when
    expires = policy.lot_expires_at(utc(2026, 3, 10, 12, 0), WARSAW)
    # then the month ends at local midnight on 1 April, which is UTC+2 by then
    assert expires == utc(2026, 3, 31, 22, 0)
    assert expires is not None
    assert expires.astimezone(WARSAW).utcoffset() == timedelta(hours=2)


def test_end_of_month_across_the_autumn_dst_change_uses_winter_time() -> None:
    # given a lot available in October 2026, before Warsaw returns to CET on 25 October
    policy = ExpiryPolicy(ExpiryKind.END_OF_MONTH_AFTER, months=0)
    # when
    expires = policy.lot_expires_at(utc(2026, 10, 10, 12, 0), WARSAW)
    # then the month ends at local midnight on 1 November, which is UTC+1 again
    assert expires == utc(2026, 10, 31, 23, 0)
    assert expires is not None
    assert expires.astimezone(WARSAW).utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(
    ("available", "months", "expires"),
    [
        (utc(2026, 6, 15, 12, 0), 0, local(2027, 1, 1)),
        (utc(2026, 6, 15, 12, 0), 6, local(2027, 1, 1)),  # 15 December: same year
        (utc(2026, 6, 15, 12, 0), 7, local(2028, 1, 1)),  # 15 January: next year
        (utc(2026, 6, 15, 12, 0), 12, local(2028, 1, 1)),
        (utc(2026, 1, 1, 0, 0), 0, local(2027, 1, 1)),
        # 23:30 UTC on 31 December is already the new year in Warsaw
        (utc(2026, 12, 31, 23, 30), 0, local(2028, 1, 1)),
        (utc(2026, 12, 31, 22, 30), 0, local(2027, 1, 1)),
    ],
)
def test_end_of_year_after_is_local_new_year_after_shifting_by_months(
    available: datetime, months: int, expires: datetime
) -> None:
    # given lots that expire at the end of the year ``months`` after they became available
    policy = ExpiryPolicy(ExpiryKind.END_OF_YEAR_AFTER, months=months)
    # when / then
    assert policy.lot_expires_at(available, WARSAW) == expires


@pytest.mark.parametrize(
    "policy",
    [ExpiryPolicy(), ExpiryPolicy(ExpiryKind.NEVER), ExpiryPolicy(ExpiryKind.INACTIVITY, days=90)],
)
def test_never_and_inactivity_give_lots_no_expiry_date(policy: ExpiryPolicy) -> None:
    # given a policy that never expires lots, or one that expires whole members when idle
    # when / then lots get no date of their own
    assert policy.lot_expires_at(utc(2026, 3, 2, 12, 0), WARSAW) is None


def test_inactivity_expires_members_idle_for_the_set_number_of_days() -> None:
    # given points that expire after 90 days without activity
    policy = ExpiryPolicy(ExpiryKind.INACTIVITY, days=90)
    now = utc(2026, 6, 1, 3, 0)
    # when the nightly job asks which members are idle
    cutoff = policy.idle_cutoff(now)
    # then every member whose last activity is at or before 90 days ago loses their points
    assert cutoff == now - timedelta(days=90)
    assert cutoff == utc(2026, 3, 3, 3, 0)


@pytest.mark.parametrize(
    "policy",
    [
        ExpiryPolicy(),
        ExpiryPolicy(ExpiryKind.DAYS_AFTER_EARN, days=30),
        ExpiryPolicy(ExpiryKind.END_OF_MONTH_AFTER, months=1),
        ExpiryPolicy(ExpiryKind.END_OF_YEAR_AFTER, months=0),
    ],
)
def test_only_the_inactivity_policy_expires_idle_members(policy: ExpiryPolicy) -> None:
    # given a policy that expires lots by date, or never
    # when / then idleness costs nothing
    assert policy.idle_cutoff(utc(2026, 6, 1, 3, 0)) is None


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "days", "months", "field"),
    [
        (ExpiryKind.DAYS_AFTER_EARN, None, None, "expiry.days"),
        (ExpiryKind.DAYS_AFTER_EARN, 0, None, "expiry.days"),
        (ExpiryKind.INACTIVITY, None, None, "expiry.days"),
        (ExpiryKind.INACTIVITY, -5, None, "expiry.days"),
        (ExpiryKind.END_OF_MONTH_AFTER, None, None, "expiry.months"),
        (ExpiryKind.END_OF_MONTH_AFTER, None, -1, "expiry.months"),
        (ExpiryKind.END_OF_YEAR_AFTER, None, None, "expiry.months"),
        (ExpiryKind.END_OF_YEAR_AFTER, 30, -1, "expiry.months"),
    ],
)
def test_expiry_policy_needs_its_parameter(
    kind: ExpiryKind, days: int | None, months: int | None, field: str
) -> None:
    # given / when / then
    with pytest.raises(InvalidSettings) as caught:
        ExpiryPolicy(kind, days=days, months=months)
    assert caught.value.field == field
    assert caught.value.code is ErrorCode.INVALID_SETTINGS


@pytest.mark.parametrize(
    "policy",
    [
        ExpiryPolicy(ExpiryKind.DAYS_AFTER_EARN, days=1),
        ExpiryPolicy(ExpiryKind.INACTIVITY, days=1),
        ExpiryPolicy(ExpiryKind.END_OF_MONTH_AFTER, months=0),
        ExpiryPolicy(ExpiryKind.END_OF_YEAR_AFTER, months=0),
    ],
)
def test_expiry_policy_accepts_the_smallest_valid_parameter(policy: ExpiryPolicy) -> None:
    # given / when / then it was built without error
    assert policy.kind in ExpiryKind


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"points_per_unit": Decimal("-0.01")}, "points_per_unit"),
        ({"pending_days": -1}, "pending_days"),
        ({"pending_days": 366}, "pending_days"),
        ({"expiring_soon_days": 0}, "expiring_soon_days"),
        ({"expiring_soon_days": 366}, "expiring_soon_days"),
    ],
)
def test_program_refuses_out_of_range_settings(settings: dict[str, Any], field: str) -> None:
    # given / when / then
    with pytest.raises(InvalidSettings) as caught:
        Program("PLN", **settings)
    assert caught.value.field == field


@pytest.mark.parametrize("settings", [{"pending_days": 0}, {"pending_days": 365}])
def test_program_accepts_the_bounds_of_the_return_window(settings: dict[str, Any]) -> None:
    # given / when / then
    assert Program("PLN", **settings).pending_days == settings["pending_days"]


def test_program_refuses_an_unknown_currency() -> None:
    # given / when / then
    with pytest.raises(UnknownCurrency):
        Program("XXX")


def test_program_defaults() -> None:
    # given a programme built from a currency only
    program = Program.from_dict({"currency": "PLN"})
    # then it has the documented defaults
    assert program == Program(
        "PLN",
        points_per_unit=Decimal(1),
        rounding=Rounding.FLOOR,
        exclude_shipping=True,
        exclude_tax=True,
        pending_days=14,
        expiry=ExpiryPolicy(ExpiryKind.NEVER),
        clawback=Clawback.NEGATIVE_BALANCE,
        transfers_enabled=False,
        expiring_soon_days=30,
    )


def test_program_round_trips_through_its_dict() -> None:
    # given a programme with every setting away from its default
    program = Program(
        "EUR",
        points_per_unit=Decimal("2.5"),
        rounding=Rounding.CEILING,
        exclude_shipping=False,
        exclude_tax=False,
        pending_days=0,
        expiry=ExpiryPolicy(ExpiryKind.END_OF_MONTH_AFTER, months=3),
        clawback=Clawback.OTHER_POINTS,
        transfers_enabled=True,
        expiring_soon_days=7,
    )
    # when
    data = program.to_dict()
    # then it survives the trip and the dict is JSON-friendly
    assert Program.from_dict(data) == program
    assert data["points_per_unit"] == "2.5"
    assert data["expiry"] == {"kind": "end_of_month_after", "days": None, "months": 3}


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"currency": "PLN", "rounding": "up"},
        {"currency": "PLN", "clawback": "forgive"},
        {"currency": "PLN", "expiry": {"kind": "sometimes"}},
        {"currency": "PLN", "pending_days": "two weeks"},
        {"currency": "PLN", "points_per_unit": "lots"},
        {"currency": "PLN", "expiry": {"kind": "days_after_earn"}},
        {"currency": "PLN", "expiry": {"kind": "end_of_year_after", "months": -1}},
    ],
)
def test_malformed_settings_are_invalid_settings(data: dict[str, Any]) -> None:
    # given settings that do not describe a programme
    # when / then they are refused with the one settings error, never a raw parse error
    with pytest.raises(InvalidSettings) as caught:
        Program.from_dict(data)
    assert caught.value.code is ErrorCode.INVALID_SETTINGS


def test_updated_validates_the_changed_programme() -> None:
    # given a programme
    program = Program("PLN")
    # when a setting changes
    changed = program.updated(pending_days=0, clawback=Clawback.WRITE_OFF)
    # then a new value is returned and the old one is untouched
    assert (changed.pending_days, changed.clawback) == (0, Clawback.WRITE_OFF)
    assert program.pending_days == 14
    # and an invalid change is refused
    with pytest.raises(InvalidSettings):
        program.updated(pending_days=400)
