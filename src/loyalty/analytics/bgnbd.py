"""BG/NBD: the beta-geometric / negative binomial model of repeat purchasing.

Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2).
While alive a customer buys at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each repeat
purchase they drop out with probability ``p ~ Beta(a, b)``. A customer is summarised by
``frequency`` x (repeat purchases), ``recency`` t_x (time of the last one, from the first
purchase) and ``T`` (time from the first purchase to the end of the calibration period), all
in one time unit (days or weeks), and ``alpha`` is in that unit too.

Everything is computed in log space with ``gammaln``/``betaln``; the two terms of the
likelihood are combined with ``logaddexp``, so no customer history overflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from loyalty.analytics._arrays import FloatArray, IntArray, as_floats, check_summary, dot
from loyalty.analytics._hypergeometric import hyp2f1
from loyalty.analytics.grouping import CustomerGroups, group_customers
from loyalty.analytics.mle import ModelFit, maximise_with_gradient


@dataclass(frozen=True)
class BgNbd:
    """BG/NBD parameters: purchase rate ``Gamma(r, alpha)``, dropout ``Beta(a, b)``."""

    r: float
    alpha: float
    a: float
    b: float

    def log_likelihood(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> float:
        """Total log-likelihood of the customers (each row counted ``weights`` times)."""
        data = _Data.of(group_customers(frequency, recency, T, weights))
        value, _ = _mean_negative_log_likelihood(np.log(self._vector()), data)
        return -value * data.total

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """P(still active at T | history). Customers without repeat purchases count as alive."""
        x, t_x, age = _summary(frequency, recency, T)
        return special.expit(-self._log_odds_dead(x, t_x, age))

    def expected_purchases(
        self, t: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """E[number of purchases in (T, T + t] | history] (FHL 2005, eq. 10)."""
        x, t_x, age = _summary(frequency, recency, T)
        alive = special.expit(-self._log_odds_dead(x, t_x, age))
        return alive * self._purchases_while_alive(t, x, age)

    def expected_purchases_new_customer(self, t: float) -> float:
        """E[repeat purchases in the first t periods] of a customer just acquired."""
        zero = np.zeros(1)
        return float(self._purchases_while_alive(t, zero, zero)[0])

    def _log_odds_dead(self, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
        repeat = x > 0
        log_odds = np.full(len(x), -np.inf)
        xr = x[repeat]
        log_odds[repeat] = (
            np.log(self.a)
            - np.log(self.b + xr - 1)
            + (self.r + xr) * (np.log(self.alpha + age[repeat]) - np.log(self.alpha + t_x[repeat]))
        )
        return log_odds

    def _purchases_while_alive(self, t: float, x: FloatArray, age: FloatArray) -> FloatArray:
        # FHL's 2F1(r+x, b+x; a+b+x-1; z) after Euler's transformation: the prefactor
        # ((alpha+T)/(alpha+T+t))^(r+x) cancels and the parameters no longer grow with x.
        r, alpha, b = self.r, self.alpha, self.b
        a = self.a if abs(self.a - 1.0) > 1e-7 else 1.0 + 1e-7  # removable singularity at a = 1
        if t <= 0:
            return np.zeros(len(x))
        z = np.full(len(x), t) / (alpha + age + t)
        c = a + b + x - 1
        f = hyp2f1(np.full(len(x), a + b - 1 - r), np.full(len(x), a - 1), c, z)
        return c / (a - 1) * -np.expm1((a - 1) * np.log1p(-z) + np.log(f))

    def _vector(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b])


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> ModelFit[BgNbd]:
    """Maximum-likelihood BG/NBD on a customer summary (rows may carry ``weights``)."""
    groups = group_customers(frequency, recency, T, weights)
    data = _Data.of(groups)
    if not np.any((groups.frequency > 0) & (groups.weight > 0)):
        raise ValueError("cannot fit BG/NBD without repeat buyers: dropout is not identified")
    mean_t = float(np.average(groups.T, weights=groups.weight)) or 1.0
    optimum = maximise_with_gradient(
        lambda theta: _mean_negative_log_likelihood(theta, data), [1.0, mean_t, 1.0, 1.0]
    )
    r, alpha, a, b = (float(v) for v in optimum.parameters)
    return ModelFit(
        model=BgNbd(r=r, alpha=alpha, a=a, b=b),
        log_likelihood=optimum.mean_log_likelihood * data.total,
        customers=data.total,
        evaluations=optimum.evaluations,
        converged=optimum.converged,
        message=optimum.message,
    )


@dataclass(frozen=True)
class _Data:
    """Grouped customers, with the distinct frequencies factored out: the gamma and digamma
    terms depend on x alone and are evaluated once per distinct x."""

    x_values: FloatArray
    x_index: IntArray
    x_weight: FloatArray
    t_x: FloatArray
    T: FloatArray
    weight: FloatArray
    total: float

    @classmethod
    def of(cls, groups: CustomerGroups) -> _Data:
        x_values, x_index = np.unique(groups.frequency, return_inverse=True)
        x_weight = np.bincount(x_index, weights=groups.weight, minlength=len(x_values)).astype(
            np.float64
        )
        return cls(
            x_values=x_values,
            x_index=x_index.astype(np.int64),
            x_weight=x_weight,
            t_x=groups.recency,
            T=groups.T,
            weight=groups.weight,
            total=groups.customers,
        )


def _mean_negative_log_likelihood(theta: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood per customer and its gradient in log-parameters."""
    r, alpha, a, b = np.exp(theta)
    xs, idx = d.x_values, d.x_index
    repeat = xs > 0
    x_less_one = np.where(repeat, xs - 1, 0.0)
    beta_ab = special.betaln(a, b)
    # Per distinct frequency.
    log_gamma = special.gammaln(r + xs) - special.gammaln(r)
    log_beta_1 = special.betaln(a, b + xs) - beta_ab
    log_beta_2 = np.where(repeat, special.betaln(a + 1, b + x_less_one) - beta_ab, -np.inf)
    # Per group of customers: alive at T (d1) or dropped out right after t_x (d2).
    rx = r + xs[idx]
    log_at_T = np.log(alpha + d.T)
    log_at_tx = np.log(alpha + d.t_x)
    d1 = log_beta_1[idx] - rx * log_at_T
    d2 = log_beta_2[idx] - rx * log_at_tx
    both = np.logaddexp(d1, d2)
    w1 = np.exp(d1 - both) * d.weight
    w2 = np.exp(d2 - both) * d.weight
    total = d.total
    ll = dot(d.x_weight, log_gamma) + total * r * np.log(alpha) + dot(d.weight, both)
    # Gradient with respect to the natural parameters.
    psi_ab = special.digamma(a + b)
    psi_abx = special.digamma(a + b + xs)
    w1_by_x = np.bincount(idx, weights=w1, minlength=len(xs)).astype(np.float64)
    w2_by_x = np.bincount(idx, weights=w2, minlength=len(xs)).astype(np.float64)
    psi_bx1 = np.where(repeat, special.digamma(b + x_less_one), 0.0)
    d_r = (
        dot(d.x_weight, special.digamma(r + xs) - special.digamma(r))
        + total * np.log(alpha)
        - dot(w1, log_at_T)
        - dot(w2, log_at_tx)
    )
    d_alpha = (
        total * r / alpha - dot(w1 * rx, 1 / (alpha + d.T)) - dot(w2 * rx, 1 / (alpha + d.t_x))
    )
    d_a = dot(d.x_weight, psi_ab - psi_abx) + w2.sum() / a
    d_b = (
        dot(d.x_weight, psi_ab - special.digamma(b) - psi_abx)
        + dot(w1_by_x, special.digamma(b + xs))
        + dot(w2_by_x, psi_bx1)
    )
    gradient = np.array([d_r, d_alpha, d_a, d_b]) * np.array([r, alpha, a, b])
    return -float(ll) / total, -gradient / total


def _summary(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x, t_x, age = (
        as_floats(frequency, "frequency"),
        as_floats(recency, "recency"),
        as_floats(T, "T"),
    )
    check_summary(x, t_x, age)
    return x, t_x, age
