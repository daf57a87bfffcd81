from __future__ import annotations

import numpy as np
import pytest

from loyalty.analytics.grouping import distinct_histories, group_customers


def test_identical_histories_collapse_into_one_weighted_row() -> None:
    # given
    frequency = [0, 1, 0, 1, 1]
    recency = [0.0, 2.0, 0.0, 2.0, 2.0]
    T = [5.0, 5.0, 5.0, 5.0, 6.0]
    # when
    groups = group_customers(frequency, recency, T, weights=[1, 2, 3, 4, 5])
    # then
    rows = sorted(zip(groups.frequency, groups.recency, groups.T, groups.weight, strict=True))
    assert rows == [(0, 0, 5, 4), (1, 2, 5, 6), (1, 2, 6, 5)]
    assert groups.customers == 15


def test_distinct_histories_index_spreads_group_values_back() -> None:
    # given
    rng = np.random.default_rng(1)
    frequency = rng.integers(0, 4, 500).astype(float)
    T = rng.integers(1, 20, 500).astype(float)
    recency = np.where(frequency > 0, np.floor(T / 2), 0.0)
    # when
    groups, index = distinct_histories(frequency, recency, T)
    # then
    assert np.array_equal(groups.frequency[index], frequency)
    assert np.array_equal(groups.recency[index], recency)
    assert np.array_equal(groups.T[index], T)
    assert np.array_equal(np.bincount(index), groups.weight)


@pytest.mark.parametrize(
    ("frequency", "recency", "T"),
    [([1.5], [1.0], [2.0]), ([-1], [0.0], [2.0]), ([1], [3.0], [2.0]), ([0], [1.0], [2.0])],
)
def test_impossible_histories_are_refused(
    frequency: list[float], recency: list[float], T: list[float]
) -> None:
    with pytest.raises(ValueError):
        group_customers(frequency, recency, T)
