"""The special functions against values computed with mpmath at 40 digits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from loyalty.analytics._hypergeometric import hyp2f1, log_tail_integral

# (p, q, t, alpha, beta): log of int_t^inf (alpha+u)^-p (beta+u)^-q du
TAIL_INTEGRALS = {
    (1.553, 0.606, 38.86, 10.578, 11.669): -4.6756099340952151,
    (2.553, 1.606, 30.43, 10.578, 11.669): -12.914125373908928,
    (31.55, 0.6, 0.0, 1e8, 1.0): -574.38200359913738,
    (30.5, 1.6, 39.0, 1e8, 1.0): -563.53573863407402,
    (0.55, 1.6, 0.0, 1e8, 1.0): -9.6205690682502245,
    (0.3, 30, 0.0, 1.0, 1e8): -541.82584350023629,
    (0.05, 1.05, 0.7, 1.0, 1e8): 0.46846644173659463,
    (5000.2, 1.7, 0.0, 1e12, 1e-3): -138155.43968026342,
    (2.5, 3.0000001, 0.7, 1e4, 0.5): -24.08411541968239,
    (500.2, 1.0, 39.0, 3.0, 3.0): -1875.7973510837843,
}


@pytest.mark.parametrize(("case", "expected"), TAIL_INTEGRALS.items())
def test_tail_integral_matches_arbitrary_precision(
    case: tuple[float, float, float, float, float], expected: float
) -> None:
    p, q, t, alpha, beta = case
    value = log_tail_integral(np.array([p]), np.array([q]), np.array([t]), alpha, beta)[0]
    assert value == pytest.approx(expected, rel=1e-11, abs=1e-11)


def test_tail_integral_vectorised_over_mixed_difficulty() -> None:
    cases = list(TAIL_INTEGRALS)
    for alpha, beta in {(c[3], c[4]) for c in cases}:
        rows = [c for c in cases if (c[3], c[4]) == (alpha, beta)]
        p, q, t = (np.array([row[i] for row in rows]) for i in range(3))
        values = log_tail_integral(p, q, t, alpha, beta)
        assert values == pytest.approx([TAIL_INTEGRALS[row] for row in rows], rel=1e-11)


@pytest.mark.parametrize(
    ("a", "b", "c", "z", "expected"),
    [
        # SciPy returns NaN for these two; the series takes over.
        (0.5, 2.0, 502.5, 0.99, 1.0019789227628618),
        (0.5, 2.0, 5002.5, 0.9999, 1.0001999699939991),
        (1.976, -0.207, 4.219, 0.5, 0.94464527598318984),
    ],
)
def test_hyp2f1_where_scipy_gives_up(
    a: float, b: float, c: float, z: float, expected: float
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = hyp2f1(np.array([a]), np.array([b]), np.array([c]), np.array([z]))[0]
    assert value == pytest.approx(expected, rel=1e-12)
