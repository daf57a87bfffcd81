from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from loyalty.analytics.bgnbd import fit_bgnbd
from loyalty.analytics.clv import (
    DAYS_PER_MONTH,
    customer_lifetime_value,
    expected_purchases,
    probability_alive,
)
from loyalty.analytics.gammagamma import GammaGamma, fit_gamma_gamma
from loyalty.analytics.paretonbd import ParetoNbd
from loyalty.analytics.summary import TimeUnit, summarise_transactions
from tests.analytics.cdnow import Transactions

SPEND = GammaGamma(p=2.0, q=3.0, gamma=10.0)  # population mean 10


class SteadyBuyers:
    """Every customer buys ``rate`` times per period, forever."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def expected_purchases(
        self, t: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        return np.full(len(np.asarray(T)), self.rate * t)

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        return np.ones(len(np.asarray(T)))


def test_clv_by_hand() -> None:
    # given: 0.5 purchases a week, one customer without repeat purchases (E[M] = 10)
    model, weeks_per_month = SteadyBuyers(0.5), DAYS_PER_MONTH / 7
    per_month = 0.5 * weeks_per_month * 10
    # when
    undiscounted = customer_lifetime_value(
        model, SPEND, [0], [0.0], [4.0], [0.0], unit=TimeUnit.WEEKS, annual_discount_rate=0.0
    )
    discounted = customer_lifetime_value(
        model, SPEND, [0], [0.0], [4.0], [0.0], unit=TimeUnit.WEEKS, months=2, margin=0.3
    )
    # then
    assert undiscounted[0] == pytest.approx(12 * per_month)
    assert discounted[0] == pytest.approx(0.3 * per_month * (1.1 ** (-1 / 12) + 1.1 ** (-2 / 12)))


def test_clv_in_days_equals_clv_in_weeks() -> None:
    weekly = customer_lifetime_value(
        SteadyBuyers(0.7), SPEND, [2], [1.0], [4.0], [30.0], unit=TimeUnit.WEEKS
    )
    daily = customer_lifetime_value(
        SteadyBuyers(0.1), SPEND, [2], [7.0], [28.0], [30.0], unit=TimeUnit.DAYS
    )
    assert weekly == pytest.approx(daily)


def test_grouped_helpers_equal_the_model_methods() -> None:
    # given
    model = ParetoNbd(r=0.55, alpha=10.6, s=0.6, beta=11.7)
    frequency, recency, T = [0, 2, 0, 2, 5], [0.0, 3.0, 0.0, 3.0, 9.0], [9.0, 9.0, 9.0, 9.0, 12.0]
    # when / then
    assert expected_purchases(model, 39.0, frequency, recency, T) == pytest.approx(
        model.expected_purchases(39.0, frequency, recency, T)
    )
    assert probability_alive(model, frequency, recency, T) == pytest.approx(
        model.probability_alive(frequency, recency, T)
    )


def test_cdnow_clv(cdnow_sample: Transactions) -> None:
    # given
    summary = summarise_transactions(
        cdnow_sample.customer_id, cdnow_sample.date, cdnow_sample.amount, "1997-09-30"
    )
    data = (summary.frequency, summary.recency, summary.T)
    purchases = fit_bgnbd(*data).model
    repeat = summary.repeat_buyers
    spend = fit_gamma_gamma(summary.frequency[repeat], summary.monetary[repeat]).model
    # when
    clv = customer_lifetime_value(purchases, spend, *data, summary.monetary, unit=summary.unit)
    # then
    assert np.all(np.isfinite(clv)) and np.all(clv > 0)
    assert clv[repeat].mean() > 3 * clv[~repeat].mean()
    # customer 1 (x = 2, t_x = 30.43, T = 38.86, m = 22.35) month by month
    months = np.arange(13) * DAYS_PER_MONTH / 7
    cumulative = [
        purchases.expected_purchases(t, [2], [data[1][0]], [data[2][0]])[0] for t in months
    ]
    value = spend.expected_average_value([2], [summary.monetary[0]])[0]
    by_hand = sum(
        value * (cumulative[i] - cumulative[i - 1]) / 1.1 ** (i / 12) for i in range(1, 13)
    )
    assert clv[0] == pytest.approx(by_hand)
    undiscounted = customer_lifetime_value(
        purchases, spend, *data, summary.monetary, unit=summary.unit, annual_discount_rate=0.0
    )
    assert np.all(undiscounted > clv)
