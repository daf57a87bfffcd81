"""Gamma-Gamma: how much a customer spends per purchase.

Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013), after Colombo & Jiang (1999).
Each transaction value of a customer is ``Gamma(p, nu)``; across customers ``nu ~ Gamma(q,
gamma)``. The model is fitted on repeat buyers only: ``frequency`` x > 0 repeat purchases
with mean value ``monetary`` m_x > 0 (``summary.summarise_transactions`` leaves the first
purchase out of m_x). It assumes spend is independent of purchase frequency; check that the two
are barely correlated before trusting the CLV it feeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from loyalty.analytics._arrays import FloatArray, as_floats, dot, same_length
from loyalty.analytics.mle import ModelFit, maximise_with_gradient


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma parameters ``p`` (shape per transaction), ``q`` and ``gamma``."""

    p: float
    q: float
    gamma: float

    @property
    def population_mean(self) -> float:
        """Expected transaction value of a customer we know nothing about (needs q > 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf

    def log_likelihood(
        self,
        frequency: npt.ArrayLike,
        monetary: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> float:
        data = _Data.of(frequency, monetary, weights)
        value, _ = _mean_negative_log_likelihood(np.log([self.p, self.q, self.gamma]), data)
        return -value * data.total

    def expected_average_value(
        self, frequency: npt.ArrayLike, monetary: npt.ArrayLike
    ) -> FloatArray:
        """E[M | x, m_x]: a weighted mean of the population mean and the customer's own mean,
        the weight moving to the customer's own mean as x grows. Customers with x = 0 get the
        population mean (their m_x is ignored)."""
        x = as_floats(frequency, "frequency")
        m = as_floats(monetary, "monetary")
        same_length(frequency=x, monetary=m)
        m = np.where(x > 0, m, 0.0)
        return self.p * (self.gamma + x * m) / (self.p * x + self.q - 1)


def fit_gamma_gamma(
    frequency: npt.ArrayLike,
    monetary: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> ModelFit[GammaGamma]:
    """Maximum-likelihood Gamma-Gamma on repeat buyers (frequency > 0, monetary > 0)."""
    data = _Data.of(frequency, monetary, weights)
    if data.total <= 0:
        raise ValueError("cannot fit Gamma-Gamma without repeat buyers")
    mean_m = float(np.average(data.m, weights=data.weight))
    optimum = maximise_with_gradient(
        lambda theta: _mean_negative_log_likelihood(theta, data), [1.0, 2.0, mean_m]
    )
    p, q, gamma = (float(v) for v in optimum.parameters)
    return ModelFit(
        model=GammaGamma(p=p, q=q, gamma=gamma),
        log_likelihood=optimum.mean_log_likelihood * data.total,
        customers=data.total,
        evaluations=optimum.evaluations,
        converged=optimum.converged,
        message=optimum.message,
    )


@dataclass(frozen=True)
class _Data:
    x: FloatArray
    m: FloatArray
    weight: FloatArray
    total: float

    @classmethod
    def of(
        cls, frequency: npt.ArrayLike, monetary: npt.ArrayLike, weights: npt.ArrayLike | None
    ) -> _Data:
        x = as_floats(frequency, "frequency")
        m = as_floats(monetary, "monetary")
        w = np.ones_like(x) if weights is None else as_floats(weights, "weights")
        same_length(frequency=x, monetary=m, weights=w)
        if np.any(x <= 0) or np.any(m <= 0):
            raise ValueError(
                "Gamma-Gamma needs repeat buyers with positive spend: "
                "pass only customers with frequency > 0 and monetary > 0"
            )
        return cls(x=x, m=m, weight=w, total=float(w.sum()))


def _mean_negative_log_likelihood(theta: FloatArray, d: _Data) -> tuple[float, FloatArray]:
    p, q, gamma = np.exp(theta)
    px = p * d.x
    log_total = np.log(gamma + d.x * d.m)  # log(gamma + x m_x)
    ll_i = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(d.m)
        + px * np.log(d.x)
        - (px + q) * log_total
    )
    psi_pxq = special.digamma(px + q)
    d_p = d.x * (psi_pxq - special.digamma(px) + np.log(d.m) + np.log(d.x) - log_total)
    d_q = psi_pxq - special.digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + d.x * d.m)
    gradient = np.array([dot(d.weight, d_p), dot(d.weight, d_q), dot(d.weight, d_gamma)])
    gradient *= np.array([p, q, gamma])
    return -dot(d.weight, ll_i) / d.total, -gradient / d.total
