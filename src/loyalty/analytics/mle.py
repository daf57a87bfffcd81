"""Maximum-likelihood plumbing shared by the CLV models.

Every model parameter is positive, so the optimiser works on their logarithms (no bounds to
hit at zero, and steps are relative). The objective is the *mean* negative log-likelihood per
customer, so tolerances mean the same thing for 2,000 customers as for 2 million.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from scipy import optimize

from loyalty.analytics._arrays import FloatArray

Model = TypeVar("Model")

#: log-parameters stay within exp(+-LOG_BOUND); a parameter at the bound means the data do not
#: identify it (e.g. no customer ever dropped out).
LOG_BOUND = 25.0


@dataclass(frozen=True)
class ModelFit(Generic[Model]):
    """A fitted model with what the optimiser says about it."""

    model: Model
    log_likelihood: float
    customers: float
    evaluations: int
    converged: bool
    message: str


@dataclass(frozen=True)
class LogParameterOptimum:
    parameters: FloatArray
    mean_log_likelihood: float
    evaluations: int
    converged: bool
    message: str


def maximise_with_gradient(
    objective: Callable[[FloatArray], tuple[float, FloatArray]], start: Sequence[float]
) -> LogParameterOptimum:
    """Minimise ``objective(log_parameters) -> (mean negative log-likelihood, its gradient)``
    starting from the natural-scale ``start``."""
    x0 = np.log(np.asarray(start, dtype=np.float64))
    result = optimize.minimize(
        objective,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=_bounds(x0),
        options={"maxiter": 2_000, "ftol": 1e-14, "gtol": 1e-9},
    )
    return _optimum(result)


def maximise(
    objective: Callable[[FloatArray], float], start: Sequence[float]
) -> LogParameterOptimum:
    """As ``maximise_with_gradient`` for objectives without a gradient (central differences)."""
    x0 = np.log(np.asarray(start, dtype=np.float64))
    result = optimize.minimize(
        objective,
        x0,
        jac="3-point",
        method="L-BFGS-B",
        bounds=_bounds(x0),
        options={"maxiter": 2_000, "ftol": 1e-14, "gtol": 1e-9},
    )
    return _optimum(result)


def _bounds(x0: FloatArray) -> list[tuple[float, float]]:
    return [(-LOG_BOUND, LOG_BOUND)] * len(x0)


def _optimum(result: optimize.OptimizeResult) -> LogParameterOptimum:
    at_bound = bool(np.any(np.abs(result.x) >= LOG_BOUND - 1e-6))
    return LogParameterOptimum(
        parameters=np.exp(result.x),
        mean_log_likelihood=-float(result.fun),
        evaluations=int(result.nfev),
        converged=bool(result.success) and not at_bound,
        message=("a parameter reached its bound; " if at_bound else "") + str(result.message),
    )
