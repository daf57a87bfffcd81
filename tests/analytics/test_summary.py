from __future__ import annotations

import numpy as np
import pytest

from loyalty.analytics.summary import TimeUnit, holdout_purchases, summarise_transactions
from tests.analytics.cdnow import Summary, Transactions

IDS = ["a", "a", "a", "a", "a", "b", "c"]
DATES = [
    "2024-01-01",
    "2024-01-01",  # same day as the first: one purchase occasion of 15.0
    "2024-01-08",
    "2024-01-15",
    "2024-02-01",  # after the calibration end
    "2024-01-10",
    "2024-01-31",  # c starts after the calibration end: not in the summary
]
AMOUNTS = [10.0, 5.0, 20.0, 40.0, 99.0, 7.0, 3.0]
END = "2024-01-29"


def test_summary_in_weeks_counts_repeat_purchase_days() -> None:
    # when
    summary = summarise_transactions(IDS, DATES, AMOUNTS, END)
    # then
    assert summary.customer_id.tolist() == ["a", "b"]
    assert summary.frequency.tolist() == [2, 0]
    assert summary.recency.tolist() == [2.0, 0.0]  # Jan 1 -> Jan 15
    assert summary.T.tolist() == [4.0, pytest.approx(19 / 7)]  # to Jan 29
    assert summary.monetary.tolist() == [30.0, 0.0]  # mean of 20 and 40; first purchase left out
    assert summary.unit is TimeUnit.WEEKS


def test_summary_in_days() -> None:
    summary = summarise_transactions(
        IDS, np.array(DATES, dtype="datetime64[D]"), AMOUNTS, END, TimeUnit.DAYS
    )
    assert summary.recency.tolist() == [14.0, 0.0]
    assert summary.T.tolist() == [28.0, 19.0]


def test_holdout_purchases_count_days_after_the_calibration_end() -> None:
    # given
    summary = summarise_transactions(IDS, DATES, AMOUNTS, END)
    # when
    later = holdout_purchases(summary, IDS, DATES, END, "2024-02-29")
    # then
    assert later.tolist() == [1, 0]


def test_cdnow_sample_reproduces_the_published_summary(
    cdnow_sample: Transactions, cdnow_summary: Summary
) -> None:
    # when
    summary = summarise_transactions(
        cdnow_sample.customer_id, cdnow_sample.date, cdnow_sample.amount, "1997-09-30"
    )
    # then: the file rounds to two decimals
    assert np.array_equal(summary.customer_id, cdnow_summary.customer_id)
    assert np.array_equal(summary.frequency, cdnow_summary.frequency)
    assert np.abs(summary.recency - cdnow_summary.recency).max() <= 0.005
    assert np.abs(summary.T - cdnow_summary.T).max() <= 0.005
    assert summary.repeat_buyers.sum() == 946
    assert np.all(summary.monetary[summary.repeat_buyers] > 0)
