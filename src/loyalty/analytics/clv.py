"""Customer lifetime value over a horizon: expected purchases x expected value, discounted.

``CLV = margin * E[M] * sum_{i=1..months} (E[Y(i)] - E[Y(i-1)]) / (1 + d)^(i/12)``

with ``E[Y(i)]`` the purchases a transaction model (BG/NBD or Pareto/NBD) expects in the next
``i`` months, ``E[M]`` the Gamma-Gamma expected value per purchase, ``d`` the annual discount
rate (applied monthly) and ``margin`` the share of revenue that is profit (1 = revenue CLV).
A month is 365.25 / 12 days. Customers with identical histories are computed once.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from loyalty.analytics._arrays import FloatArray, as_floats, same_length
from loyalty.analytics.gammagamma import GammaGamma
from loyalty.analytics.grouping import distinct_histories
from loyalty.analytics.summary import TimeUnit

DAYS_PER_MONTH = 365.25 / 12


class PurchaseModel(Protocol):
    """What CLV needs from a transaction model (``BgNbd`` and ``ParetoNbd`` both fit)."""

    def expected_purchases(
        self, t: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray: ...

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray: ...


def expected_purchases(
    model: PurchaseModel,
    t: float,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatArray:
    """``model.expected_purchases`` computed once per distinct history (fast for millions of
    customers summarised at day resolution)."""
    groups, index = distinct_histories(frequency, recency, T)
    return model.expected_purchases(t, groups.frequency, groups.recency, groups.T)[index]


def probability_alive(
    model: PurchaseModel, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """``model.probability_alive`` computed once per distinct history."""
    groups, index = distinct_histories(frequency, recency, T)
    return model.probability_alive(groups.frequency, groups.recency, groups.T)[index]


def customer_lifetime_value(
    purchases: PurchaseModel,
    spend: GammaGamma,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    monetary: npt.ArrayLike,
    *,
    unit: TimeUnit,
    months: int = 12,
    annual_discount_rate: float = 0.10,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted value of each customer's purchases in the next ``months`` months; ``unit`` is
    the time unit the summary (and so the fitted ``purchases`` model) is in."""
    if months < 0 or annual_discount_rate <= -1:
        raise ValueError("months must be >= 0 and the discount rate > -100%")
    m = as_floats(monetary, "monetary")
    groups, index = distinct_histories(frequency, recency, T)
    same_length(monetary=m, T=index)
    periods_per_month = DAYS_PER_MONTH / unit.days
    purchases_by_month = np.zeros(len(groups.T))
    earlier = np.zeros(len(groups.T))
    for month in range(1, months + 1):
        cumulative = purchases.expected_purchases(
            month * periods_per_month, groups.frequency, groups.recency, groups.T
        )
        purchases_by_month += (cumulative - earlier) / (1 + annual_discount_rate) ** (month / 12)
        earlier = cumulative
    value = spend.expected_average_value(groups.frequency[index], m)
    return margin * value * purchases_by_month[index]
