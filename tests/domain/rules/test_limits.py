"""Per-member period limits and rule budgets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty.domain.errors import InvalidRule
from loyalty.domain.rules import (
    Period,
    Status,
    Usage,
    UsageIncrement,
    UsageKey,
    period_key,
    period_window,
    usage_keys,
)

from .builders import WARSAW, evaluate, order_input, rule

FIFTY = {"kind": "fixed_points", "points": 50}


def limited(period: str, **limit: int) -> dict[str, object]:
    return {"per_member": [{"period": period, **limit}]}


@pytest.mark.parametrize(
    ("period", "key"),
    [
        (Period.DAY, "2026-01-14"),
        (Period.WEEK, "2026-W03"),
        (Period.MONTH, "2026-01"),
        (Period.YEAR, "2026"),
        (Period.LIFETIME, "lifetime"),
    ],
)
def test_times_limit_per_period(period: Period, key: str) -> None:
    # given the member already got this rule once in the period
    once = rule(effect=FIFTY, limits=limited(period.value, max_times=1))
    used = {UsageKey("r1", period, key): Usage(points=50, times=1)}

    # when
    first = evaluate([once], order_input())
    again = evaluate([once], order_input(usage=used))

    # then
    assert first.points == 50
    assert first.usage == (UsageIncrement(UsageKey("r1", period, key), 50),)
    assert again.points == 0
    assert again.outcomes[0].status is Status.LIMIT_REACHED
    assert "applied 1 of 1 times" in again.outcomes[0].reason


def test_usage_of_another_period_does_not_count() -> None:
    once = rule(effect=FIFTY, limits=limited("day", max_times=1))
    yesterday = {UsageKey("r1", Period.DAY, "2026-01-13"): Usage(50, 1)}

    result = evaluate([once], order_input(usage=yesterday))

    assert result.points == 50


def test_points_limit_caps_what_is_left() -> None:
    capped = rule(effect=FIFTY, limits=limited("month", max_points=100))
    used = {UsageKey("r1", Period.MONTH, "2026-01"): Usage(points=90, times=3)}

    result = evaluate([capped], order_input(usage=used))

    assert result.points == 10
    assert (
        "capped at 10 by the limit of 100 points this month (2026-01)" in result.outcomes[0].reason
    )


def test_points_limit_caps_per_currency_points() -> None:
    capped = rule(effect={"kind": "points_per_currency"}, limits=limited("year", max_points=100))

    result = evaluate([capped], order_input())

    assert result.points == 100  # 140 earned, capped


def test_points_limit_used_up_refuses_the_rule() -> None:
    capped = rule(effect=FIFTY, limits=limited("lifetime", max_points=100))
    used = {UsageKey("r1", Period.LIFETIME, "lifetime"): Usage(points=100, times=2)}

    outcome = evaluate([capped], order_input(usage=used)).outcomes[0]

    assert outcome.status is Status.LIMIT_REACHED
    assert "100 of 100 points in total" in outcome.reason


def test_the_tightest_of_several_limits_wins() -> None:
    limits = {
        "per_member": [
            {"period": "day", "max_points": 40},
            {"period": "week", "max_points": 100},
        ]
    }
    used = {UsageKey("r1", Period.WEEK, "2026-W03"): Usage(points=75, times=2)}

    result = evaluate([rule(effect=FIFTY, limits=limits)], order_input(usage=used))

    assert result.points == 25
    assert {increment.key.period for increment in result.usage} == {Period.DAY, Period.WEEK}


def test_budget_caps_and_then_exhausts() -> None:
    budgeted = rule(effect=FIFTY, limits={"budget_points": 1000})

    fresh = evaluate([budgeted], order_input())
    nearly = evaluate([budgeted], order_input(budgets_left={"r1": 30}))
    spent = evaluate([budgeted], order_input(budgets_left={"r1": 0}))

    assert (fresh.points, fresh.budgets_spent) == (50, {"r1": 50})
    assert (nearly.points, nearly.budgets_spent) == (30, {"r1": 30})
    assert spent.points == 0
    assert spent.outcomes[0].status is Status.BUDGET_EXHAUSTED


def test_limits_count_per_rule_id_across_versions() -> None:
    once = rule(effect=FIFTY, limits=limited("day", max_times=1)).revised(name="edited")
    used = {UsageKey("r1", Period.DAY, "2026-01-14"): Usage(50, 1)}

    outcome = evaluate([once], order_input(usage=used)).outcomes[0]

    assert outcome.version == 2
    assert outcome.status is Status.LIMIT_REACHED


def test_day_is_the_tenant_local_day() -> None:
    # given 23:30 UTC on 14 January is 00:30 on 15 January in Warsaw
    late = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)
    once = rule(effect=FIFTY, limits=limited("day", max_times=1))

    keys = usage_keys([once], "order.paid", late, WARSAW)

    assert keys == (UsageKey("r1", Period.DAY, "2026-01-15"),)


def test_month_changes_at_local_midnight_at_the_end_of_the_month() -> None:
    monthly = rule(effect=FIFTY, limits=limited("month", max_times=1))
    before = datetime(2026, 1, 31, 22, 59, tzinfo=UTC)  # 23:59 on 31 January in Warsaw
    after = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)  # 00:00 on 1 February

    assert usage_keys([monthly], "order.paid", before, WARSAW)[0].key == "2026-01"
    assert usage_keys([monthly], "order.paid", after, WARSAW)[0].key == "2026-02"


def test_iso_week_key_at_the_turn_of_the_year() -> None:
    assert period_key(Period.WEEK, datetime(2027, 1, 1)) == "2026-W53"
    assert period_key(Period.WEEK, datetime(2027, 1, 4)) == "2027-W01"


def test_period_window_spans_dst_and_month_ends() -> None:
    dst_day = datetime(2026, 3, 29, 12, 0, tzinfo=WARSAW)

    day = period_window(Period.DAY, dst_day)
    february = period_window(Period.MONTH, datetime(2028, 2, 10, tzinfo=WARSAW))
    december = period_window(Period.MONTH, datetime(2026, 12, 31, 23, 0, tzinfo=WARSAW))

    assert day is not None
    assert (day[1].astimezone(UTC) - day[0].astimezone(UTC)).total_seconds() == 23 * 3600
    assert february is not None and february[1] == datetime(2028, 3, 1, tzinfo=WARSAW)
    assert december is not None and december[1] == datetime(2027, 1, 1, tzinfo=WARSAW)
    assert period_window(Period.LIFETIME, dst_day) is None


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"per_member": [{"period": "fortnight", "max_times": 1}]}, "limits.per_member[0].period"),
        ({"per_member": [{"period": "day"}]}, "limits.per_member[0]"),
        ({"per_member": [{"period": "day", "max_points": 0}]}, "limits.per_member[0].max_points"),
        (
            {"per_member": [{"period": "day", "max_times": 1}, {"period": "day", "max_times": 2}]},
            "limits.per_member[1]",
        ),
        ({"budget_points": 0}, "limits.budget_points"),
        ({"budget": 10}, "limits.budget"),
    ],
)
def test_malformed_limits_name_the_field(limits: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRule) as error:
        rule(effect=FIFTY, limits=limits)

    assert error.value.field == field
