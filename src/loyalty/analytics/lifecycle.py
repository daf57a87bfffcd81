"""Lifecycle stage of each customer: new, active, at risk, lapsed, won back.

From three facts per customer as of a day: days since the first purchase, days since the last
purchase, and the gap between the last two purchase days (none for one-time buyers). With
thresholds in days (``at_risk_after < lapsed_after``), the first rule that applies decides:

1. ``lapsed``   - silent for more than ``lapsed_after`` days;
2. ``at_risk``  - silent for more than ``at_risk_after`` days;
3. ``new``      - first purchase at most ``new_within`` days ago;
4. ``won_back`` - the last purchase ended a silence longer than ``lapsed_after`` days;
5. ``active``   - everyone else.

Thresholds are set by the programme, or derived from the shop's own rhythm by
``thresholds_from_intervals``: ``at_risk_after`` is the 80th and ``lapsed_after`` the 95th
percentile of the gaps between consecutive purchase days of the same customer (so a customer
is at risk once silent longer than 80% of the repeat purchases the shop has seen took), and a
customer stays ``new`` for ``at_risk_after`` days. Observed gaps are short-biased (long ones
have not finished yet), which errs on the side of flagging customers early.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from loyalty.analytics._arrays import IntArray, same_length
from loyalty.analytics._purchases import DateLike, day_number, purchase_days

#: ``gap_before_last_days`` of customers with a single purchase day.
NO_GAP = -1


class LifecycleStage(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"
    WON_BACK = "won_back"


#: Index of a stage in ``stage_codes`` arrays.
STAGES: tuple[LifecycleStage, ...] = tuple(LifecycleStage)


@dataclass(frozen=True)
class LifecycleThresholds:
    """Days of silence after which a customer is at risk / lapsed; days a customer is new."""

    new_within_days: int = 30
    at_risk_after_days: int = 90
    lapsed_after_days: int = 180

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_after_days < self.lapsed_after_days:
            raise ValueError("need 0 < at_risk_after_days < lapsed_after_days")
        if self.new_within_days < 0:
            raise ValueError("new_within_days must not be negative")


@dataclass(frozen=True)
class CustomerActivity:
    customer_id: npt.NDArray[np.generic]
    days_since_first: IntArray
    days_since_last: IntArray
    gap_before_last_days: IntArray  # NO_GAP for one-time buyers


def customer_activity(
    customer_ids: npt.ArrayLike, dates: npt.ArrayLike, as_of: DateLike
) -> CustomerActivity:
    """The three facts the stages are decided on, from purchases on or before ``as_of``."""
    today = day_number(as_of)
    days = purchase_days(customer_ids, dates, None, until=today)
    last = days.day[days.last]
    previous = days.day[np.maximum(days.last - 1, days.first)]  # = last for one-time buyers
    return CustomerActivity(
        customer_id=days.customer_ids,
        days_since_first=today - days.day[days.first],
        days_since_last=today - last,
        gap_before_last_days=np.where(days.count > 1, last - previous, NO_GAP),
    )


def thresholds_from_intervals(
    customer_ids: npt.ArrayLike,
    dates: npt.ArrayLike,
    as_of: DateLike,
    *,
    at_risk_quantile: float = 0.80,
    lapsed_quantile: float = 0.95,
    min_intervals: int = 30,
) -> LifecycleThresholds | None:
    """Thresholds from the gaps between consecutive purchase days; None when the shop has
    fewer than ``min_intervals`` such gaps to go on (use configured thresholds then)."""
    if not 0 < at_risk_quantile < lapsed_quantile < 1:
        raise ValueError("need 0 < at_risk_quantile < lapsed_quantile < 1")
    days = purchase_days(customer_ids, dates, None, until=day_number(as_of))
    same_customer = days.customer[1:] == days.customer[:-1]
    gaps = np.diff(days.day)[same_customer]
    if len(gaps) < max(min_intervals, 1):
        return None
    at_risk = max(1, math.ceil(float(np.quantile(gaps, at_risk_quantile))))
    lapsed = max(at_risk + 1, math.ceil(float(np.quantile(gaps, lapsed_quantile))))
    return LifecycleThresholds(
        new_within_days=at_risk, at_risk_after_days=at_risk, lapsed_after_days=lapsed
    )


def stage_codes(activity: CustomerActivity, thresholds: LifecycleThresholds) -> IntArray:
    """Index into ``STAGES`` of each customer's stage."""
    since_first = np.asarray(activity.days_since_first, dtype=np.int64)
    since_last = np.asarray(activity.days_since_last, dtype=np.int64)
    gap = np.asarray(activity.gap_before_last_days, dtype=np.int64)
    same_length(days_since_first=since_first, days_since_last=since_last, gap=gap)
    stage = np.select(
        [
            since_last > thresholds.lapsed_after_days,
            since_last > thresholds.at_risk_after_days,
            since_first <= thresholds.new_within_days,
            gap > thresholds.lapsed_after_days,
        ],
        [
            STAGES.index(LifecycleStage.LAPSED),
            STAGES.index(LifecycleStage.AT_RISK),
            STAGES.index(LifecycleStage.NEW),
            STAGES.index(LifecycleStage.WON_BACK),
        ],
        default=STAGES.index(LifecycleStage.ACTIVE),
    )
    return stage.astype(np.int64)


def lifecycle_stage(
    days_since_first: int,
    days_since_last: int,
    gap_before_last_days: int,
    thresholds: LifecycleThresholds,
) -> LifecycleStage:
    """The stage of one customer (``gap_before_last_days = NO_GAP`` for one purchase day)."""
    activity = CustomerActivity(
        customer_id=np.zeros(1),
        days_since_first=np.array([days_since_first]),
        days_since_last=np.array([days_since_last]),
        gap_before_last_days=np.array([gap_before_last_days]),
    )
    return STAGES[int(stage_codes(activity, thresholds)[0])]
