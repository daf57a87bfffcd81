"""Windows and metrics: what counts towards a tier at a given moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty.domain.errors import CurrencyMismatch, ValidationFailed
from loyalty.domain.money import Money
from loyalty.domain.tiers.qualification import Contribution, qualify
from tests.domain.tiers.builders import WARSAW, at, ladder

D = Decimal


def test_points_metric_is_earned_minus_reversed() -> None:
    tiers = ladder()
    facts = [
        Contribution.points_earned(at(2026, 1, 5), 400),
        Contribution.points_earned(at(2026, 1, 6), 200),
        Contribution.points_reversed(at(2026, 1, 7), 150),
    ]

    result = qualify(tiers, facts, at(2026, 2, 1), WARSAW)

    assert result.value == 450
    assert result.tier == "silver"


def test_amount_metric_is_spend_net_of_refunds() -> None:
    tiers = ladder("amount_spent", currency="PLN", thresholds=("100", "500.00", "1000"))
    facts = [
        Contribution.order_paid(at(2026, 1, 5), Money(D("600.00"), "PLN")),
        Contribution.order_refunded(at(2026, 1, 6), Money(D("150.50"), "PLN")),
    ]

    result = qualify(tiers, facts, at(2026, 2, 1), WARSAW)

    assert result.value == D("449.50")
    assert result.tier == "silver"


def test_spend_in_another_currency_is_refused() -> None:
    tiers = ladder("amount_spent", currency="PLN", thresholds=("100",))
    facts = [Contribution.order_paid(at(2026, 1, 5), Money(D("600.00"), "EUR"))]

    with pytest.raises(CurrencyMismatch):
        qualify(tiers, facts, at(2026, 2, 1), WARSAW)


def test_orders_metric_counts_paid_minus_cancelled_and_refunds_keep_the_order() -> None:
    tiers = ladder("orders", thresholds=(2, 5, 10))
    pln = Money(D("10"), "PLN")
    facts = [
        Contribution.order_paid(at(2026, 1, 1), pln),
        Contribution.order_paid(at(2026, 1, 2), pln),
        Contribution.order_paid(at(2026, 1, 3), pln),
        Contribution.order_refunded(at(2026, 1, 4), pln),
        Contribution.order_cancelled(at(2026, 1, 5)),
    ]

    assert qualify(tiers, facts, at(2026, 1, 6), WARSAW).value == 2


def test_metric_is_never_below_zero() -> None:
    facts = [Contribution.points_reversed(at(2026, 1, 7), 150)]

    assert qualify(ladder(), facts, at(2026, 2, 1), WARSAW).value == 0


def test_rolling_window_counts_the_last_n_days_up_to_now() -> None:
    tiers = ladder(window={"kind": "rolling_days", "days": 30})
    now = at(2026, 6, 30)
    facts = [
        Contribution.points_earned(now - timedelta(days=30), 1000),  # just outside
        Contribution.points_earned(now - timedelta(days=30) + timedelta(seconds=1), 100),
        Contribution.points_earned(now, 50),  # at now counts
        Contribution.points_earned(now + timedelta(seconds=1), 5000),  # the future does not
    ]

    assert qualify(tiers, facts, now, WARSAW).value == 150


def test_rolling_window_steps_calendar_days_across_dst() -> None:
    # given: Warsaw moves clocks forward on 29 March 2026, so "1 day ago" is 23 hours ago
    tiers = ladder(window={"kind": "rolling_days", "days": 1})
    now = at(2026, 3, 29, 12).astimezone(UTC)
    inside = now - timedelta(hours=23) + timedelta(minutes=30)
    outside = now - timedelta(hours=23) - timedelta(minutes=30)
    facts = [Contribution.points_earned(inside, 100), Contribution.points_earned(outside, 1000)]

    # when
    result = qualify(tiers, facts, now, WARSAW)

    # then
    assert result.value == 100
    assert result.period.start == datetime(2026, 3, 28, 11, 0, 0, 1, tzinfo=UTC)  # (now-1d, now]


def test_calendar_year_starts_at_local_new_year() -> None:
    # given: 23:30 UTC on 31 December is already 2027 in Warsaw
    tiers = ladder(window={"kind": "calendar_year"})
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    facts = [
        Contribution.points_earned(datetime(2026, 12, 31, 22, 59, tzinfo=UTC), 700),
        Contribution.points_earned(new_year, 120),
    ]

    # then
    assert qualify(tiers, facts, new_year, WARSAW).value == 120
    assert qualify(tiers, facts, datetime(2026, 12, 31, 22, 59, tzinfo=UTC), WARSAW).value == 700


def test_lifetime_counts_everything() -> None:
    facts = [
        Contribution.points_earned(at(2010, 1, 1), 600),
        Contribution.points_earned(at(2026, 1, 1), 600),
    ]

    result = qualify(ladder(), facts, at(2026, 5, 1), WARSAW)

    assert result.value == 1200 and result.tier == "platinum"
    assert result.period.start is None


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        Contribution.points_earned(datetime(2026, 1, 1), 5)
