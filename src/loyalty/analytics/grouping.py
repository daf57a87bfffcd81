"""Customers with identical (frequency, recency, T) share one likelihood term.

Summaries at day resolution repeat the same triples many times (every one-time buyer of the
same day has the same row), so the models are fitted on the distinct triples, each weighted by
the number of customers it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loyalty.analytics._arrays import (
    BoolArray,
    FloatArray,
    IntArray,
    as_floats,
    check_summary,
    same_length,
)


@dataclass(frozen=True)
class CustomerGroups:
    """Distinct (frequency, recency, T) rows and how many customers each stands for."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    weight: FloatArray

    @property
    def customers(self) -> float:
        return float(self.weight.sum())


def group_customers(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> CustomerGroups:
    """Collapse identical rows, summing their weights (1 per row when no weights are given)."""
    x, t_x, age, w = _checked(frequency, recency, T, weights)
    order, new = _sorted_runs(x, t_x, age)
    first = order[new]
    starts = np.flatnonzero(new)
    weight = np.add.reduceat(w[order], starts) if len(starts) else w
    return CustomerGroups(x[first], t_x[first], age[first], weight)


def distinct_histories(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> tuple[CustomerGroups, IntArray]:
    """``group_customers`` and, for every input row, the index of its group: compute a
    per-customer figure once per group, then spread it back with ``values[index]``."""
    x, t_x, age, w = _checked(frequency, recency, T, weights)
    order, new = _sorted_runs(x, t_x, age)
    first = order[new]
    index = np.empty(len(x), dtype=np.int64)
    index[order] = np.cumsum(new) - 1
    weight = np.bincount(index, weights=w, minlength=len(first)).astype(np.float64)
    return CustomerGroups(x[first], t_x[first], age[first], weight), index


def _sorted_runs(x: FloatArray, t_x: FloatArray, age: FloatArray) -> tuple[IntArray, BoolArray]:
    """An order that puts equal rows next to each other, and where each run of them starts."""
    key = _row_keys(x, t_x, age)
    order = np.argsort(key).astype(np.int64)
    sorted_key = key[order]
    new = np.ones(len(key), dtype=bool)
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=new[1:])
    return order, new


def _checked(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    weights: npt.ArrayLike | None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    x = as_floats(frequency, "frequency")
    t_x = as_floats(recency, "recency")
    age = as_floats(T, "T")
    check_summary(x, t_x, age)
    w = np.ones_like(x) if weights is None else as_floats(weights, "weights")
    same_length(frequency=x, weights=w)
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return x, t_x, age, w


def _row_keys(x: FloatArray, t_x: FloatArray, age: FloatArray) -> IntArray:
    """One int64 per row, equal exactly when the rows are equal (a sort of one int64 column is
    several times faster than a lexicographic sort of three float columns)."""
    key = x.astype(np.int64)  # whole numbers, checked
    capacity = int(key.max()) + 1
    for column in (t_x, age):
        distinct = np.unique(column)
        capacity *= len(distinct)
        if capacity >= 2**62:
            return np.unique(np.stack([x, t_x, age], axis=1), axis=0, return_inverse=True)[1]
        key = key * len(distinct) + np.searchsorted(distinct, column)
    return key
