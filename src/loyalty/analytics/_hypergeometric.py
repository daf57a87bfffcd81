"""Gauss hypergeometric pieces the CLV models need, evaluated so that they stay finite.

SciPy's general ``hyp2f1`` returns NaN or infinity for some arguments these models reach (large
``c`` with ``z`` near 1, integer ``c - a - b``), so:

- ``log_tail_integral`` (Pareto/NBD) never calls it. The integral
  ``I = int_t^inf (alpha+u)^-p (beta+u)^-q du`` equals
  ``(L+t)^-m (S+t)^(1-e) / (m+e-1) * 2F1(1, m; m+e; z)`` with ``L, S`` the larger and smaller
  of alpha and beta, ``m, e`` their exponents and ``z = (L-S)/(L+t)``. That ``2F1(1, ...)`` has
  positive terms and Gauss's continued fraction evaluates it to machine precision in a few
  dozen steps. Only when ``z`` is within about 1e-4 of 1 *and* ``e`` is small does the
  fraction need thousands of steps; those rows use the incomplete beta function (``e < 1``) or
  adaptive quadrature (``e >= 1``) instead.
- ``hyp2f1`` (BG/NBD predictions) uses SciPy and falls back to the plain power series where
  SciPy gives up; the series converges quickly exactly where SciPy fails (large ``c``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special

from loyalty.analytics._arrays import BoolArray, FloatArray

_CF_STEPS = 2_000
_CF_TOLERANCE = 1e-15
_SERIES_TERMS = 200_000


def log_tail_integral(
    p: FloatArray, q: FloatArray, t: FloatArray, alpha: float, beta: float
) -> FloatArray:
    """log of ``int_t^inf (alpha+u)^-p (beta+u)^-q du`` for ``p, q > 0``, ``p + q > 1``."""
    if alpha >= beta:
        large, small, m, e = alpha, beta, p, q
    else:
        large, small, m, e = beta, alpha, q, p
    z = (large - small) / (large + t)
    log_f, converged = _log_hyp2f1_one(m, m + e, z)
    result = -m * np.log(large + t) + (1 - e) * np.log(small + t) - np.log(m + e - 1) + log_f
    if not converged.all():
        slow = ~converged
        result[slow] = _log_tail_near_one(m[slow], e[slow], t[slow], large, small)
    return result


def _log_hyp2f1_one(b: FloatArray, c: FloatArray, z: FloatArray) -> tuple[FloatArray, BoolArray]:
    """log 2F1(1, b; c; z) for ``b > 0``, ``c > 1``, ``0 <= z < 1`` by Gauss's continued
    fraction (modified Lentz), and which entries converged within ``_CF_STEPS``."""
    n = len(z)
    log_f = np.zeros(n)
    converged = np.zeros(n, dtype=bool)
    rows = np.arange(n)
    b_, c0, z_ = b.astype(np.float64), c - 1.0, z.astype(np.float64)
    value, big_c, small_d = np.ones(n), np.ones(n), np.zeros(n)
    for step in range(1, _CF_STEPS + 1):
        half = step // 2
        if step % 2:
            k = -(c0 + half) * (b_ + half) / ((c0 + 2 * half) * (c0 + 2 * half + 1))
        else:
            k = (b_ - c0 - half) * half / ((c0 + 2 * half - 1) * (c0 + 2 * half))
        term = k * z_
        small_d = 1.0 + term * small_d
        small_d[small_d == 0] = 1e-300
        big_c = 1.0 + term / big_c
        big_c[big_c == 0] = 1e-300
        small_d = 1.0 / small_d
        delta = big_c * small_d
        value = value * delta
        done = np.abs(delta - 1.0) < _CF_TOLERANCE
        if done.any():
            log_f[rows[done]] = -np.log(value[done])
            converged[rows[done]] = True
            keep = ~done
            rows, b_, c0, z_ = rows[keep], b_[keep], c0[keep], z_[keep]
            value, big_c, small_d = value[keep], big_c[keep], small_d[keep]
            if len(rows) == 0:
                break
    return log_f, converged


def _log_tail_near_one(
    m: FloatArray, e: FloatArray, t: FloatArray, large: float, small: float
) -> FloatArray:
    """The same integral through ``u = (S+v)/(L+v)``: ``(L-S)^-A int_u0^1 u^-e (1-u)^(A-1) du``
    with ``A = m+e-1`` and ``u0 = (S+t)/(L+t)`` close to 0."""
    a_ = m + e - 1
    u0 = (small + t) / (large + t)
    out = np.empty(len(m))
    for i in range(len(m)):
        out[i] = -a_[i] * math.log(large - small) + _log_beta_tail(e[i], a_[i], u0[i])
    return out


def _log_beta_tail(e: float, a_: float, u0: float) -> float:
    """log of ``int_u0^1 u^-e (1-u)^(a_-1) du``."""
    if e < 1:
        return float(special.betaln(1 - e, a_) + math.log(special.betaincc(1 - e, a_, u0)))

    # The integrand falls off like u^-e from u0: integrate over s = log(u / u0) instead.
    def integrand(s: float) -> float:
        u = u0 * math.exp(s)
        return 0.0 if u >= 1.0 else math.exp((1 - e) * s + (a_ - 1) * math.log1p(-u))

    if a_ >= 1:
        knee = -math.log(a_ * u0)
        span = -math.log(u0)
        points = [knee] if 0 < knee < span else None
        head = integrate.quad(integrand, 0.0, span, points=points, limit=200, full_output=1)[0]
        return (1 - e) * math.log(u0) + math.log(head)
    # (1-u)^(a_-1) is singular at u = 1: leave [1/2, 1] to the algebraic-weight rule.
    split = max(u0, 0.5)
    tail = integrate.quad(
        lambda u: u**-e, split, 1.0, weight="alg", wvar=(0.0, a_ - 1.0), full_output=1
    )[0]
    if u0 >= 0.5:
        return math.log(tail)
    head = integrate.quad(integrand, 0.0, math.log(0.5 / u0), limit=200, full_output=1)[0]
    return float(np.logaddexp((1 - e) * math.log(u0) + math.log(head), math.log(tail)))


def hyp2f1(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """2F1(a, b; c; z) for ``0 <= z < 1`` and ``c > 0``."""
    value = np.asarray(special.hyp2f1(a, b, c, z), dtype=np.float64)
    bad = ~np.isfinite(value)
    if bad.any():
        value[bad] = _hyp2f1_series(a[bad], b[bad], c[bad], z[bad])
    return value


def _hyp2f1_series(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    # Where even the series overflows (degenerate fits with huge a, b) the caller gets inf:
    # a value that says "no prediction", not a warning.
    with np.errstate(over="ignore", invalid="ignore"):
        return _series(a, b, c, z)


def _series(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    total = np.ones(len(z))
    term = np.ones(len(z))
    rows = np.arange(len(z))
    for n in range(_SERIES_TERMS):
        term = term * (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total[rows] += term
        done = (np.abs(term) <= 1e-17 * np.abs(total[rows])) | ~np.isfinite(term)
        if done.any():
            keep = ~done
            rows, term, a, b, c, z = rows[keep], term[keep], a[keep], b[keep], c[keep], z[keep]
            if len(rows) == 0:
                break
    return total
