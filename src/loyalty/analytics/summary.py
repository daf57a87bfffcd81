"""From transactions to the (frequency, recency, T, monetary) summary the CLV models read.

For a calibration period ending on ``calibration_end`` (inclusive), per customer:

- ``frequency``: repeat purchase days, i.e. distinct purchase days minus one (same-day orders
  are one purchase occasion);
- ``recency``: time from the first to the last purchase day;
- ``T``: time from the first purchase day to ``calibration_end``;
- ``monetary``: mean amount of the *repeat* purchase days (the first purchase is left out, as
  the Gamma-Gamma model expects), 0 for customers without repeat purchases.

Times are in days or weeks (days / 7). Customers whose first purchase falls after
``calibration_end`` are not in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from loyalty.analytics._arrays import FloatArray, IntArray
from loyalty.analytics._purchases import DateLike, day_number, day_numbers, purchase_days


class TimeUnit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"

    @property
    def days(self) -> float:
        return 7.0 if self is TimeUnit.WEEKS else 1.0


@dataclass(frozen=True)
class CustomerSummary:
    customer_id: npt.NDArray[np.generic]
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary: FloatArray
    unit: TimeUnit

    @property
    def repeat_buyers(self) -> npt.NDArray[np.bool_]:
        return self.frequency > 0


def summarise_transactions(
    customer_ids: npt.ArrayLike,
    dates: npt.ArrayLike,
    amounts: npt.ArrayLike,
    calibration_end: DateLike,
    unit: TimeUnit = TimeUnit.WEEKS,
) -> CustomerSummary:
    """Summarise transactions (one row per order) up to and including ``calibration_end``."""
    end = day_number(calibration_end)
    days = purchase_days(customer_ids, dates, amounts, until=end)
    first_day = days.day[days.first]
    last_day = days.day[days.last]
    frequency = (days.count - 1).astype(np.float64)
    total = np.bincount(days.customer, weights=days.amount, minlength=len(days.count))
    repeat_total = total - days.amount[days.first]
    monetary = np.divide(repeat_total, frequency, out=np.zeros(len(frequency)), where=frequency > 0)
    return CustomerSummary(
        customer_id=days.customer_ids,
        frequency=frequency,
        recency=(last_day - first_day) / unit.days,
        T=(end - first_day) / unit.days,
        monetary=monetary,
        unit=unit,
    )


def holdout_purchases(
    summary: CustomerSummary,
    customer_ids: npt.ArrayLike,
    dates: npt.ArrayLike,
    calibration_end: DateLike,
    holdout_end: DateLike,
) -> IntArray:
    """Purchase days in (``calibration_end``, ``holdout_end``] of each summarised customer,
    to check a model's predictions against what happened."""
    ids = np.asarray(customer_ids)
    days = day_numbers(dates)
    start, end = day_number(calibration_end), day_number(holdout_end)
    inside = (days > start) & (days <= end)
    later = purchase_days(ids[inside], days[inside].astype("datetime64[D]"), None, until=end)
    counts = np.zeros(len(summary.customer_id), dtype=np.int64)
    if len(summary.customer_id) == 0 or len(later.customer_ids) == 0:
        return counts
    position = np.searchsorted(summary.customer_id, later.customer_ids)
    position = np.minimum(position, len(summary.customer_id) - 1)
    known = summary.customer_id[position] == later.customer_ids
    counts[position[known]] = later.count[known]
    return counts
