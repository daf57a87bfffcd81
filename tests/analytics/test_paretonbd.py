from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from loyalty.analytics.bgnbd import fit_bgnbd
from loyalty.analytics.paretonbd import ParetoNbd, fit_pareto_nbd
from tests.analytics.cdnow import Summary

MODEL = ParetoNbd(r=0.55, alpha=10.6, s=0.6, beta=11.7)


def _direct_log_likelihood(model: ParetoNbd, x: int, t_x: float, T: float) -> float:
    """The textbook form: alive at T, or died at some tau in (t_x, T], by quadrature."""
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta
    front = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s
    died = integrate.quad(
        lambda tau: s * (alpha + tau) ** -(r + x) * (beta + tau) ** -(s + 1),
        t_x,
        T,
        epsabs=0,
        epsrel=1e-13,
        limit=200,
    )[0]
    return front + math.log(alive + died)


@pytest.fixture(scope="module")
def cdnow_fits(cdnow_summary: Summary) -> tuple[ParetoNbd, float]:
    fit = fit_pareto_nbd(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary.T)
    assert fit.converged, fit.message
    return fit.model, fit.log_likelihood


@pytest.mark.parametrize(
    ("model", "x", "t_x", "T"),
    [
        (MODEL, 0, 0.0, 38.86),
        (MODEL, 2, 30.43, 38.86),
        (MODEL, 29, 38.0, 38.86),
        (ParetoNbd(r=2.0, alpha=0.5, s=3.0, beta=80.0), 4, 5.0, 60.0),  # alpha < beta
        (ParetoNbd(r=0.3, alpha=500.0, s=1.0, beta=0.2), 1, 1.0, 9.0),  # alpha >> beta
    ],
)
def test_log_likelihood_matches_the_textbook_integral(
    model: ParetoNbd, x: int, t_x: float, T: float
) -> None:
    assert model.log_likelihood([x], [t_x], [T]) == pytest.approx(
        _direct_log_likelihood(model, x, t_x, T), rel=1e-10
    )


def test_cdnow_fit_is_sane(cdnow_fits: tuple[ParetoNbd, float], cdnow_summary: Summary) -> None:
    # given
    model, log_likelihood = cdnow_fits
    data = (cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary.T)
    # then: finite, better than a poor start, and close to the estimates Fader & Hardie
    # report for this sample (r 0.55, alpha 10.58, s 0.61, beta 11.67, LL about -9595)
    assert math.isfinite(log_likelihood)
    assert log_likelihood > ParetoNbd(r=1.0, alpha=1.0, s=1.0, beta=1.0).log_likelihood(*data)
    assert log_likelihood == pytest.approx(model.log_likelihood(*data))
    assert log_likelihood == pytest.approx(-9595.0, abs=0.5)
    assert (model.r, model.alpha, model.s, model.beta) == pytest.approx(
        (0.553, 10.578, 0.606, 11.669), rel=1e-2
    )


def test_cdnow_predictions_are_close_to_bgnbd(
    cdnow_fits: tuple[ParetoNbd, float], cdnow_summary: Summary
) -> None:
    # given
    model, _ = cdnow_fits
    data = (cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary.T)
    bgnbd = fit_bgnbd(*data).model
    # when: the 39 holdout weeks
    pareto_39 = model.expected_purchases(39.0, *data)
    bgnbd_39 = bgnbd.expected_purchases(39.0, *data)
    # then
    assert pareto_39.sum() == pytest.approx(bgnbd_39.sum(), rel=0.03)
    assert np.corrcoef(pareto_39, bgnbd_39)[0, 1] > 0.95
    assert model.expected_purchases_new_customer(39.0) == pytest.approx(
        bgnbd.expected_purchases_new_customer(39.0), rel=0.05
    )


def test_probability_alive_and_expected_purchases() -> None:
    # given
    frequency, recency, T = [0, 3, 3, 3], [0.0, 10.0, 10.0, 10.0], [20.0, 10.0, 20.0, 40.0]
    # when
    alive = MODEL.probability_alive(frequency, recency, T)
    expected = MODEL.expected_purchases(39.0, frequency, recency, T)
    # then
    assert alive[1] == pytest.approx(1.0)  # just bought: certainly alive
    assert alive[1] > alive[2] > alive[3] > 0
    assert alive[0] < 1  # unlike BG/NBD, one-time buyers can be gone
    assert np.all(expected > 0) and expected[1] > expected[2] > expected[3]


def test_s_equal_to_one_needs_no_special_case() -> None:
    at_one = ParetoNbd(r=0.5, alpha=10.0, s=1.0, beta=10.0)
    near = ParetoNbd(r=0.5, alpha=10.0, s=1.0 + 1e-7, beta=10.0)
    assert at_one.expected_purchases(52.0, [2], [5.0], [30.0]) == pytest.approx(
        near.expected_purchases(52.0, [2], [5.0], [30.0]), rel=1e-6
    )


def test_extreme_parameters_stay_finite_and_silent() -> None:
    # alpha / beta = 1e10 puts the hypergeometric argument within 1e-10 of 1
    model = ParetoNbd(r=0.4, alpha=1e9, s=1.6, beta=0.1)
    frequency, recency, T = [0, 1, 60], [0.0, 0.5, 100.0], [3.0, 200.0, 365.0]
    assert math.isfinite(model.log_likelihood(frequency, recency, T))
    assert np.all(np.isfinite(model.expected_purchases(52.0, frequency, recency, T)))
    alive = model.probability_alive(frequency, recency, T)
    assert np.all((alive >= 0) & (alive <= 1))


def test_fit_needs_repeat_buyers() -> None:
    with pytest.raises(ValueError, match="repeat buyers"):
        fit_pareto_nbd([0, 0], [0.0, 0.0], [3.0, 4.0])
