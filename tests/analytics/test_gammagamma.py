from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import optimize

from loyalty.analytics.gammagamma import (
    GammaGamma,
    _Data,
    _mean_negative_log_likelihood,
    fit_gamma_gamma,
)
from loyalty.analytics.summary import summarise_transactions
from tests.analytics.cdnow import Transactions

PUBLISHED = GammaGamma(p=6.25, q=3.74, gamma=15.44)  # Fader & Hardie, 946 CDNOW repeat buyers


def test_fit_reproduces_the_published_cdnow_estimates(cdnow_sample: Transactions) -> None:
    # given: mean value of each customer's repeat purchase days in weeks 1-39
    summary = summarise_transactions(
        cdnow_sample.customer_id, cdnow_sample.date, cdnow_sample.amount, "1997-09-30"
    )
    repeat = summary.repeat_buyers
    # when
    fit = fit_gamma_gamma(summary.frequency[repeat], summary.monetary[repeat])
    # then: published to two decimals
    assert fit.converged
    assert fit.customers == 946
    assert fit.model.p == pytest.approx(PUBLISHED.p, abs=0.006)
    assert fit.model.q == pytest.approx(PUBLISHED.q, abs=0.006)
    assert fit.model.gamma == pytest.approx(PUBLISHED.gamma, abs=0.006)


def test_expected_average_value_by_hand() -> None:
    # given p = 2, q = 3, gamma = 10: population mean p gamma / (q - 1) = 10
    model = GammaGamma(p=2.0, q=3.0, gamma=10.0)
    # when
    values = model.expected_average_value([0, 4, 1000], [55.0, 20.0, 20.0])
    # then: p (gamma + x m) / (p x + q - 1)
    assert model.population_mean == 10.0
    assert values[0] == 10.0  # no repeat purchases: the population mean, m ignored
    assert values[1] == pytest.approx(2 * (10 + 80) / (8 + 2))
    assert values[2] == pytest.approx(20.0, rel=1e-3)  # many purchases: their own mean


def test_log_likelihood_of_one_customer_by_hand() -> None:
    # Fader & Hardie (2013) eq. 3 for x = 3, m_x = 12
    p, q, gamma, x, m = 2.0, 3.0, 10.0, 3, 12.0
    expected = (
        math.lgamma(p * x + q)
        - math.lgamma(p * x)
        - math.lgamma(q)
        + q * math.log(gamma)
        + (p * x - 1) * math.log(m)
        + p * x * math.log(x)
        - (p * x + q) * math.log(gamma + m * x)
    )
    assert GammaGamma(p, q, gamma).log_likelihood([x], [m]) == pytest.approx(expected)


def test_weights_and_gradient() -> None:
    # given
    model = GammaGamma(p=2.0, q=3.0, gamma=10.0)
    assert model.log_likelihood([1, 2], [5.0, 7.0], weights=[2, 1]) == pytest.approx(
        model.log_likelihood([1, 1, 2], [5.0, 5.0, 7.0])
    )
    rng = np.random.default_rng(5)
    data = _Data.of(rng.integers(1, 9, 200), rng.gamma(3.0, 10.0, 200), None)
    theta = np.log([3.0, 4.0, 12.0])
    # when
    _, gradient = _mean_negative_log_likelihood(theta, data)

    def objective(th: npt.NDArray[np.float64]) -> float:
        return _mean_negative_log_likelihood(th, data)[0]

    numeric = optimize.approx_fprime(theta, objective)
    # then
    assert gradient == pytest.approx(numeric, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize(("frequency", "monetary"), [([0, 2], [0.0, 5.0]), ([1, 2], [-3.0, 5.0])])
def test_fit_refuses_customers_without_repeat_spend(
    frequency: list[int], monetary: list[float]
) -> None:
    with pytest.raises(ValueError, match="repeat buyers"):
        fit_gamma_gamma(frequency, monetary)
