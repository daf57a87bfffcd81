from __future__ import annotations

import itertools

import numpy as np
import pytest

from loyalty.analytics.rfm import (
    SEGMENTS,
    RfmSegment,
    quantile_scores,
    rfm_inputs,
    rfm_scores,
    rfm_segment,
    segment_codes,
)
from tests.analytics.cdnow import Transactions


def test_without_ties_scores_are_quintiles() -> None:
    assert quantile_scores(np.arange(10)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quantile_scores(np.arange(10)[::-1]).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_lower_is_better_reverses_the_scores() -> None:
    assert quantile_scores([1, 2, 3, 4, 5], higher_is_better=False).tolist() == [5, 4, 3, 2, 1]


def test_heavy_ties_share_a_score_and_the_rest_fill_the_others() -> None:
    # given: half of 12 customers bought once
    values = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7]
    # when
    scores = quantile_scores(values).tolist()
    # then, by hand: score 1 = the block of six ones (target 12/5 = 2.4, the block cannot
    # split); then 6 customers left for 4 scores (1.5 each): 2 -> cumulative 7, target 7.5,
    # {2} and {2, 3} are equally far, the smaller wins; score 3 target 7 + 5/3 = 8.67 takes
    # {3, 4} (cumulative 9); score 4 target 9 + 3/2 = 10.5: {5} and {5, 6} tie, {5} wins;
    # score 5 takes {6, 7}
    assert scores == [1, 1, 1, 1, 1, 1, 2, 3, 3, 4, 5, 5]


def test_fewer_than_five_distinct_values_spread_over_the_scale() -> None:
    assert quantile_scores([3, 3]).tolist() == [3, 3]
    assert quantile_scores([1, 2, 1]).tolist() == [1, 5, 1]
    assert quantile_scores([1, 2, 3, 4]).tolist() == [1, 2, 4, 5]
    assert quantile_scores([]).tolist() == []


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, RfmSegment.CHAMPIONS),
        (4, 5, 4, RfmSegment.CHAMPIONS),  # FM = (5 + 4 + 1) // 2 = 5
        (4, 4, 4, RfmSegment.LOYAL),
        (3, 5, 3, RfmSegment.LOYAL),
        (5, 2, 3, RfmSegment.POTENTIAL_LOYALIST),
        (5, 1, 1, RfmSegment.NEW),
        (4, 1, 1, RfmSegment.PROMISING),
        (3, 1, 2, RfmSegment.NEED_ATTENTION),  # FM rounds half up to 2
        (3, 1, 1, RfmSegment.ABOUT_TO_SLEEP),
        (2, 2, 2, RfmSegment.ABOUT_TO_SLEEP),
        (2, 3, 4, RfmSegment.AT_RISK),
        (1, 3, 3, RfmSegment.AT_RISK),
        (1, 4, 4, RfmSegment.CANT_LOSE),
        (2, 5, 5, RfmSegment.CANT_LOSE),
        (2, 1, 1, RfmSegment.HIBERNATING),
        (1, 2, 1, RfmSegment.HIBERNATING),
        (1, 1, 1, RfmSegment.LOST),
    ],
)
def test_score_to_segment(r: int, f: int, m: int, segment: RfmSegment) -> None:
    assert rfm_segment(r, f, m) is segment


def test_every_segment_is_reachable_and_scores_are_checked() -> None:
    combos = np.array(list(itertools.product(range(1, 6), repeat=3)))
    codes = segment_codes(combos[:, 0], combos[:, 1], combos[:, 2])
    assert {SEGMENTS[c] for c in codes} == set(RfmSegment)
    with pytest.raises(ValueError):
        segment_codes([0], [1], [1])


def test_rfm_inputs_from_transactions() -> None:
    # given
    ids = ["a", "a", "a", "b", "a"]
    dates = ["2024-03-01", "2024-03-01", "2024-03-20", "2024-02-01", "2024-04-02"]
    amounts = [10.0, 5.0, 20.0, 8.0, 100.0]  # the last one is after the as-of day
    # when
    inputs = rfm_inputs(ids, dates, amounts, "2024-03-31")
    # then
    assert inputs.customer_id.tolist() == ["a", "b"]
    assert inputs.recency_days.tolist() == [11, 59]
    assert inputs.frequency.tolist() == [2, 1]  # purchase days
    assert inputs.monetary.tolist() == [35.0, 8.0]


def test_cdnow_master_with_its_heavy_ties(cdnow_master: Transactions) -> None:
    # given: 23,570 customers, about half of whom bought on one day only
    inputs = rfm_inputs(
        cdnow_master.customer_id, cdnow_master.date, cdnow_master.amount, "1998-06-30"
    )
    one_timers = inputs.frequency == 1
    assert len(inputs.customer_id) == 23_570
    assert one_timers.mean() > 0.5
    # when
    scores = rfm_scores(inputs.recency_days, inputs.frequency, inputs.monetary)
    # then: all five scores in use in every dimension
    for dimension in (scores.recency, scores.frequency, scores.monetary):
        assert set(dimension.tolist()) == {1, 2, 3, 4, 5}
    # equal frequencies share a score, and more purchases never score lower
    assert np.all(scores.frequency[one_timers] == 1)
    assert np.all(scores.frequency[~one_timers] > 1)
    order = np.argsort(inputs.frequency, kind="stable")
    assert np.all(np.diff(scores.frequency[order]) >= 0)
    # without ties (recency and spend are nearly continuous) each score holds about a fifth
    assert np.bincount(scores.monetary)[1:] == pytest.approx([23_570 / 5] * 5, rel=0.03)
    counts = scores.segment_counts()
    assert sum(counts.values()) == 23_570
    assert counts[RfmSegment.CHAMPIONS] > 0 and counts[RfmSegment.LOST] > 0
    assert len(scores.segment_names) == 23_570
