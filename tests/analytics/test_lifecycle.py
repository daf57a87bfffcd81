from __future__ import annotations

import numpy as np
import pytest

from loyalty.analytics.lifecycle import (
    NO_GAP,
    STAGES,
    LifecycleStage,
    LifecycleThresholds,
    customer_activity,
    lifecycle_stage,
    stage_codes,
    thresholds_from_intervals,
)
from tests.analytics.cdnow import Transactions

THRESHOLDS = LifecycleThresholds(new_within_days=30, at_risk_after_days=90, lapsed_after_days=180)


@pytest.mark.parametrize(
    ("since_first", "since_last", "gap", "stage"),
    [
        (10, 10, NO_GAP, LifecycleStage.NEW),
        (30, 2, 28, LifecycleStage.NEW),
        (31, 31, NO_GAP, LifecycleStage.ACTIVE),
        (200, 10, 20, LifecycleStage.ACTIVE),
        (200, 90, 20, LifecycleStage.ACTIVE),  # thresholds are "more than"
        (200, 91, 20, LifecycleStage.AT_RISK),
        (400, 180, NO_GAP, LifecycleStage.AT_RISK),
        (400, 181, 20, LifecycleStage.LAPSED),
        (400, 10, 181, LifecycleStage.WON_BACK),
        (400, 10, 180, LifecycleStage.ACTIVE),
        (400, 100, 250, LifecycleStage.AT_RISK),  # won back, then silent again
    ],
)
def test_stage_rules(since_first: int, since_last: int, gap: int, stage: LifecycleStage) -> None:
    assert lifecycle_stage(since_first, since_last, gap, THRESHOLDS) is stage


def test_activity_and_stages_from_transactions() -> None:
    # given
    ids = ["new", "steady", "steady", "steady", "gone", "back", "back", "back"]
    dates = [
        "2024-06-20",
        "2024-01-05",
        "2024-04-01",
        "2024-06-01",
        "2023-10-01",
        "2023-01-01",
        "2023-03-01",
        "2024-06-15",
    ]
    # when
    activity = customer_activity(ids, dates, "2024-06-30")
    stages = [STAGES[c] for c in stage_codes(activity, THRESHOLDS)]
    # then
    assert activity.customer_id.tolist() == ["back", "gone", "new", "steady"]
    assert activity.days_since_first.tolist() == [546, 273, 10, 177]
    assert activity.days_since_last.tolist() == [15, 273, 10, 29]
    assert activity.gap_before_last_days.tolist() == [472, NO_GAP, NO_GAP, 61]
    assert stages == [
        LifecycleStage.WON_BACK,
        LifecycleStage.LAPSED,
        LifecycleStage.NEW,
        LifecycleStage.ACTIVE,
    ]


def test_thresholds_from_the_shops_own_intervals() -> None:
    # given: one customer buying with gaps of 1, 2, ..., 10 days, plus a one-time buyer
    days = np.cumsum([0, *range(1, 11)])
    dates = np.datetime64("2024-01-01") + days
    ids = ["a"] * len(dates)
    # when
    thresholds = thresholds_from_intervals(
        [*ids, "b"], [*dates, dates[0]], "2024-12-31", min_intervals=5
    )
    # then: 80th percentile of 1..10 is 8.2 -> 9 days, 95th is 9.55 -> 10 days
    assert thresholds == LifecycleThresholds(
        new_within_days=9, at_risk_after_days=9, lapsed_after_days=10
    )


def test_too_few_intervals_give_no_thresholds() -> None:
    assert thresholds_from_intervals(["a", "a"], ["2024-01-01", "2024-01-09"], "2024-02-01") is None


def test_inconsistent_thresholds_are_refused() -> None:
    with pytest.raises(ValueError):
        LifecycleThresholds(at_risk_after_days=100, lapsed_after_days=100)


def test_cdnow_master_stages(cdnow_master: Transactions) -> None:
    # given: the shop's own rhythm
    thresholds = thresholds_from_intervals(
        cdnow_master.customer_id, cdnow_master.date, "1998-06-30"
    )
    assert thresholds is not None
    # when
    activity = customer_activity(cdnow_master.customer_id, cdnow_master.date, "1998-06-30")
    codes = stage_codes(activity, thresholds)
    # then: the 1997 Q1 cohort 15 months on has no new customers and is mostly lapsed
    counts = dict(zip(STAGES, np.bincount(codes, minlength=len(STAGES)), strict=True))
    assert sum(counts.values()) == 23_570
    assert counts[LifecycleStage.NEW] == 0
    assert counts[LifecycleStage.LAPSED] > counts[LifecycleStage.ACTIVE] > 0
    assert counts[LifecycleStage.WON_BACK] > 0
