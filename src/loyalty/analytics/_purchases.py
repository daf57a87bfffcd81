"""Transactions collapsed to one row per customer and purchase day, sorted by customer and day.

Every model here counts purchase *days*: two orders on the same day are one purchase occasion
(as in the CDNOW summaries the models were published on), their amounts added together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from loyalty.analytics._arrays import FloatArray, IntArray, as_floats, same_length

DateLike = date | np.datetime64 | str


def day_number(value: DateLike) -> int:
    """Days since 1970-01-01 (calendar dates; time of day and time zone are the caller's)."""
    return int(np.asarray([value], dtype="datetime64[D]").astype(np.int64)[0])


def day_numbers(dates: npt.ArrayLike) -> IntArray:
    days = np.asarray(dates, dtype="datetime64[D]")
    if days.ndim != 1:
        raise ValueError(f"dates must be one-dimensional, got shape {days.shape}")
    if np.any(np.isnat(days)):
        raise ValueError("dates must not be missing")
    return days.astype(np.int64)


@dataclass(frozen=True)
class PurchaseDays:
    """``customer_ids`` are the distinct customers (sorted); the other arrays have one entry per
    purchase day, except ``first`` and ``count`` which have one per customer."""

    customer_ids: npt.NDArray[np.generic]
    customer: IntArray
    day: IntArray
    amount: FloatArray
    first: IntArray
    count: IntArray

    @property
    def last(self) -> IntArray:
        return self.first + self.count - 1


def purchase_days(
    customer_ids: npt.ArrayLike,
    dates: npt.ArrayLike,
    amounts: npt.ArrayLike | None,
    until: int,
) -> PurchaseDays:
    """Purchase days on or before day number ``until``."""
    ids = np.asarray(customer_ids)
    days = day_numbers(dates)
    money = np.zeros(len(days)) if amounts is None else as_floats(amounts, "amounts")
    same_length(customer_ids=ids, dates=days, amounts=money)
    keep = days <= until
    ids, days, money = ids[keep], days[keep], money[keep]
    distinct, customer = np.unique(ids, return_inverse=True)
    customer = customer.astype(np.int64).reshape(-1)
    order = np.lexsort((days, customer))
    customer, days, money = customer[order], days[order], money[order]
    new_day = np.ones(len(days), dtype=bool)
    new_day[1:] = (customer[1:] != customer[:-1]) | (days[1:] != days[:-1])
    starts = np.flatnonzero(new_day)
    amount = np.add.reduceat(money, starts) if len(starts) else np.zeros(0)
    day_customer = customer[starts]
    count = np.bincount(day_customer, minlength=len(distinct)).astype(np.int64)
    first = (np.cumsum(count) - count).astype(np.int64)
    return PurchaseDays(distinct, day_customer, days[starts], amount, first, count)
