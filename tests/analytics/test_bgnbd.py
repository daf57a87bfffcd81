from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import integrate, optimize

from loyalty.analytics.bgnbd import BgNbd, _Data, _mean_negative_log_likelihood, fit_bgnbd
from loyalty.analytics.grouping import group_customers
from tests.analytics.cdnow import Summary

PUBLISHED = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)  # Fader, Hardie & Lee (2005)
MODEL = BgNbd(r=0.5, alpha=6.0, a=1.3, b=3.0)


def test_fit_reproduces_the_published_cdnow_estimates(cdnow_summary: Summary) -> None:
    # when
    fit = fit_bgnbd(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary.T)
    # then: published to three decimals
    assert fit.converged
    assert fit.customers == 2357
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit.model, name) == pytest.approx(getattr(PUBLISHED, name), abs=6e-4)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)


def test_log_likelihood_at_the_published_estimates(cdnow_summary: Summary) -> None:
    ll = PUBLISHED.log_likelihood(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary.T)
    assert ll == pytest.approx(-9582.4, abs=0.05)


def test_weights_count_a_row_as_that_many_customers() -> None:
    # given
    frequency, recency, T = [0, 2, 5], [0.0, 3.0, 9.5], [10.0, 12.0, 10.0]
    # when
    weighted = MODEL.log_likelihood(frequency, recency, T, weights=[3, 1, 2])
    repeated = MODEL.log_likelihood(
        [0, 0, 0, 2, 5, 5], [0, 0, 0, 3, 9.5, 9.5], [10] * 3 + [12, 10, 10]
    )
    # then
    assert weighted == pytest.approx(repeated, rel=1e-12)


def test_log_likelihood_of_one_customer_by_hand() -> None:
    # given: x = 2, t_x = 3, T = 10, straight from FHL (2005) eq. 6
    r, alpha, a, b = MODEL.r, MODEL.alpha, MODEL.a, MODEL.b
    common = math.gamma(r + 2) * alpha**r / math.gamma(r)
    alive = math.gamma(a + b) * math.gamma(b + 2) / (math.gamma(b) * math.gamma(a + b + 2))
    dead = a * math.gamma(a + b) * math.gamma(b + 1) / (math.gamma(b) * math.gamma(a + b + 2))
    expected = math.log(common * (alive / (alpha + 10) ** (r + 2) + dead / (alpha + 3) ** (r + 2)))
    # when / then
    assert MODEL.log_likelihood([2], [3.0], [10.0]) == pytest.approx(expected, rel=1e-12)


def test_analytic_gradient_matches_finite_differences() -> None:
    # given
    rng = np.random.default_rng(3)
    T = rng.uniform(1, 50, 300)
    frequency = rng.integers(0, 8, 300).astype(float)
    recency = np.where(frequency > 0, rng.uniform(0, 1, 300) * T, 0.0)
    data = _Data.of(group_customers(frequency, recency, T))
    theta = np.log([0.4, 7.0, 0.9, 2.5])
    # when
    _, gradient = _mean_negative_log_likelihood(theta, data)

    def objective(th: npt.NDArray[np.float64]) -> float:
        return _mean_negative_log_likelihood(th, data)[0]

    numeric = optimize.approx_fprime(theta, objective)
    # then
    assert gradient == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_expected_purchases_agree_with_direct_integration_over_dropout() -> None:
    # given: E[Y(t)] = P(alive) * E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p],
    # p ~ Beta(a, b+x), computed here by quadrature instead of the hypergeometric closed form
    r, alpha, a, b = MODEL.r, MODEL.alpha, MODEL.a, MODEL.b
    t = 26.0
    histories = [(0, 0.0, 5.0), (2, 3.0, 10.0), (7, 30.0, 31.0), (40, 20.0, 60.0)]
    for x, t_x, T in histories:

        def integrand(p: float, x: int = x, T: float = T) -> float:
            growth = 1 - ((alpha + T) / (alpha + T + p * t)) ** (r + x)
            return float(growth / p * p ** (a - 1) * (1 - p) ** (b + x - 1))

        direct = integrate.quad(integrand, 0, 1)[0] / math.exp(
            math.lgamma(a) + math.lgamma(b + x) - math.lgamma(a + b + x)
        )
        alive = MODEL.probability_alive([x], [t_x], [T])[0]
        # when
        expected = MODEL.expected_purchases(t, [x], [t_x], [T])[0]
        # then
        assert expected == pytest.approx(alive * direct, rel=1e-9)


def test_new_customer_expectation_by_direct_integration() -> None:
    # E[X(t)] = E_p[(1 - (alpha / (alpha + p t))^r) / p], p ~ Beta(a, b)
    r, alpha, a, b, t = MODEL.r, MODEL.alpha, MODEL.a, MODEL.b, 52.0
    direct = integrate.quad(
        lambda p: (1 - (alpha / (alpha + p * t)) ** r) / p * p ** (a - 1) * (1 - p) ** (b - 1), 0, 1
    )[0] / math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    assert MODEL.expected_purchases_new_customer(t) == pytest.approx(direct, rel=1e-9)


def test_probability_alive() -> None:
    alive = MODEL.probability_alive([0, 3, 3, 3], [0.0, 10.0, 10.0, 10.0], [20.0, 10.0, 20.0, 40.0])
    assert alive[0] == 1.0  # BG/NBD: nobody drops out before a repeat purchase
    assert alive[1] == pytest.approx(1 / (1 + MODEL.a / (MODEL.b + 2)))  # just bought
    assert alive[1] > alive[2] > alive[3] > 0  # the longer the silence, the less likely alive


def test_extreme_histories_stay_finite_and_silent() -> None:
    # 5,000 repeat purchases, ages far beyond the fit, a horizon of 100 years: no warnings
    # (pytest turns them into errors) and finite answers
    frequency, recency, T = [5000, 0, 3000], [9000.0, 0.0, 10.0], [9100.0, 1e6, 20000.0]
    assert np.all(np.isfinite(MODEL.expected_purchases(5200.0, frequency, recency, T)))
    alive = MODEL.probability_alive(frequency, recency, T)
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[2] == 0.0
    assert math.isfinite(MODEL.log_likelihood(frequency, recency, T))


def test_a_equal_to_one_is_handled() -> None:
    model = BgNbd(r=1.0, alpha=1.0, a=1.0, b=1.0)
    near = BgNbd(r=1.0, alpha=1.0, a=1.0 + 1e-5, b=1.0)
    assert model.expected_purchases(10.0, [2], [3.0], [5.0]) == pytest.approx(
        near.expected_purchases(10.0, [2], [3.0], [5.0]), rel=1e-4
    )


def test_fit_needs_repeat_buyers() -> None:
    with pytest.raises(ValueError, match="repeat buyers"):
        fit_bgnbd([0, 0], [0.0, 0.0], [3.0, 4.0])
