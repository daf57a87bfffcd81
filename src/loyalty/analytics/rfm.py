"""RFM scores (1-5) and the 11 named RFM segments.

Inputs per customer, as of a given day: recency = days since the last purchase (lower is
better), frequency = purchase days, monetary = total spend (both higher is better).

Scoring: tie-aware quintiles
----------------------------
Plain quintiles break on heavy ties. When half the customers bought exactly once, quantile
edges coincide (``qcut`` collapses to 2-3 bins), and ranking with ties broken by position gives
customers with identical histories different scores. Here every dimension is scored by
**equal-frequency binning of the distinct values, re-targeted after each bin**:

1. Sort the distinct values from worst to best, with how many customers hold each.
2. Fill score 1 with whole blocks of equal values until it holds as close as possible to
   ``remaining customers / remaining scores`` (the block that crosses the target goes where it
   leaves the smaller error), always leaving at least one distinct value per remaining score.
3. Repeat for scores 2, 3, 4; score 5 takes the rest.

So equal values always share a score, scores never decrease with a better value, and all five
scores are used whenever a dimension has at least five distinct values: if 51% bought once,
they all get F = 1 and the other 49% are split as evenly as their values allow over F = 2..5.
Without ties this is ordinary quintiles (each score N/5 customers, +-1). A dimension with
fewer than five distinct values uses the scores spread over 1..5 (two values: 1 and 5; one
value: everyone 3, it tells nothing).

Segments
--------
Segments come from R and FM = round-half-up mean of F and M, ``(F + M + 1) // 2``, through this
grid (rows R, columns FM), after the widely used 11-segment RFM scheme:

    R\\FM  1               2                   3                   4            5
    5     New             Potential Loyalist  Potential Loyalist  Champions    Champions
    4     Promising       Potential Loyalist  Potential Loyalist  Loyal        Champions
    3     About to Sleep  Need Attention      Need Attention      Loyal        Loyal
    2     Hibernating     About to Sleep      At Risk             At Risk      Can't Lose
    1     Lost            Hibernating         At Risk             Can't Lose   Can't Lose

Recent buyers split by value (New -> Potential Loyalist -> Champions); the middle row is
Need Attention unless value is high (Loyal) or low (About to Sleep); long-gone customers split
by what they are worth (Lost, Hibernating, At Risk, Can't Lose).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from loyalty.analytics._arrays import FloatArray, IntArray, as_floats, same_length
from loyalty.analytics._purchases import DateLike, day_number, purchase_days

LEVELS = 5


class RfmSegment(StrEnum):
    CHAMPIONS = "Champions"
    LOYAL = "Loyal"
    POTENTIAL_LOYALIST = "Potential Loyalist"
    NEW = "New"
    PROMISING = "Promising"
    NEED_ATTENTION = "Need Attention"
    ABOUT_TO_SLEEP = "About to Sleep"
    AT_RISK = "At Risk"
    CANT_LOSE = "Can't Lose"
    HIBERNATING = "Hibernating"
    LOST = "Lost"


#: Index of a segment in ``segment_code`` arrays.
SEGMENTS: tuple[RfmSegment, ...] = tuple(RfmSegment)

_S = RfmSegment
#: ``SEGMENT_GRID[R - 1][FM - 1]``; the table in the module docstring, bottom row first.
SEGMENT_GRID: tuple[tuple[RfmSegment, ...], ...] = (
    (_S.LOST, _S.HIBERNATING, _S.AT_RISK, _S.CANT_LOSE, _S.CANT_LOSE),
    (_S.HIBERNATING, _S.ABOUT_TO_SLEEP, _S.AT_RISK, _S.AT_RISK, _S.CANT_LOSE),
    (_S.ABOUT_TO_SLEEP, _S.NEED_ATTENTION, _S.NEED_ATTENTION, _S.LOYAL, _S.LOYAL),
    (_S.PROMISING, _S.POTENTIAL_LOYALIST, _S.POTENTIAL_LOYALIST, _S.LOYAL, _S.CHAMPIONS),
    (_S.NEW, _S.POTENTIAL_LOYALIST, _S.POTENTIAL_LOYALIST, _S.CHAMPIONS, _S.CHAMPIONS),
)
_GRID_CODES = np.array([[SEGMENTS.index(s) for s in row] for row in SEGMENT_GRID])


@dataclass(frozen=True)
class RfmInputs:
    customer_id: npt.NDArray[np.generic]
    recency_days: IntArray
    frequency: IntArray
    monetary: FloatArray


@dataclass(frozen=True)
class RfmScores:
    recency: IntArray
    frequency: IntArray
    monetary: IntArray
    segment_code: IntArray  # index into SEGMENTS

    @property
    def segment_names(self) -> npt.NDArray[np.str_]:
        return np.array([s.value for s in SEGMENTS])[self.segment_code]

    def segment_counts(self) -> dict[RfmSegment, int]:
        counts = np.bincount(self.segment_code, minlength=len(SEGMENTS))
        return {segment: int(n) for segment, n in zip(SEGMENTS, counts, strict=True)}


def rfm_inputs(
    customer_ids: npt.ArrayLike, dates: npt.ArrayLike, amounts: npt.ArrayLike, as_of: DateLike
) -> RfmInputs:
    """Recency, frequency and monetary per customer from transactions on or before ``as_of``."""
    today = day_number(as_of)
    days = purchase_days(customer_ids, dates, amounts, until=today)
    return RfmInputs(
        customer_id=days.customer_ids,
        recency_days=today - days.day[days.last],
        frequency=days.count,
        monetary=np.bincount(days.customer, weights=days.amount, minlength=len(days.count)).astype(
            np.float64
        ),
    )


def rfm_scores(
    recency_days: npt.ArrayLike, frequency: npt.ArrayLike, monetary: npt.ArrayLike
) -> RfmScores:
    """Tie-aware quintile scores for each dimension and the segment they put a customer in."""
    recency, freq, money = (
        as_floats(recency_days, "recency_days"),
        as_floats(frequency, "frequency"),
        as_floats(monetary, "monetary"),
    )
    same_length(recency_days=recency, frequency=freq, monetary=money)
    r = quantile_scores(recency, higher_is_better=False)
    f = quantile_scores(freq)
    m = quantile_scores(money)
    return RfmScores(recency=r, frequency=f, monetary=m, segment_code=segment_codes(r, f, m))


def quantile_scores(
    values: npt.ArrayLike, *, higher_is_better: bool = True, levels: int = LEVELS
) -> IntArray:
    """Scores 1..``levels`` by tie-aware equal-frequency binning (see the module docstring)."""
    key = as_floats(values, "values")
    if not higher_is_better:
        key = -key
    if len(key) == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return _distinct_scores(counts, levels)[inverse.reshape(-1)]


def _distinct_scores(counts: IntArray, levels: int) -> IntArray:
    """Score of each distinct value (sorted worst first), given how many customers hold it."""
    n_distinct = len(counts)
    if n_distinct < levels:
        if n_distinct == 1:
            return np.array([(levels + 1) // 2])
        spread = np.rint(np.arange(n_distinct) * (levels - 1) / (n_distinct - 1))
        return (1 + spread).astype(np.int64)
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    cuts: list[int] = []  # number of distinct values in scores 1..j
    done_values, done_customers = 0, 0
    for level in range(1, levels):
        target = done_customers + (total - done_customers) / (levels - level + 1)
        above = int(np.searchsorted(cumulative, target))  # first cut reaching the target
        lowest, highest = done_values + 1, n_distinct - (levels - level)
        candidates = {min(max(k, lowest), highest) for k in (above, above + 1)}
        cut = min(candidates, key=lambda k: (abs(cumulative[k - 1] - target), k))
        cuts.append(cut)
        done_values, done_customers = cut, int(cumulative[cut - 1])
    return 1 + np.searchsorted(np.array(cuts), np.arange(n_distinct), side="right")


def segment_codes(
    recency_score: npt.ArrayLike, frequency_score: npt.ArrayLike, monetary_score: npt.ArrayLike
) -> IntArray:
    """Index into ``SEGMENTS`` of each customer's segment (scores 1..5)."""
    r = np.asarray(recency_score, dtype=np.int64)
    f = np.asarray(frequency_score, dtype=np.int64)
    m = np.asarray(monetary_score, dtype=np.int64)
    for name, score in (("recency", r), ("frequency", f), ("monetary", m)):
        if np.any((score < 1) | (score > LEVELS)):
            raise ValueError(f"{name} scores must be between 1 and {LEVELS}")
    codes: IntArray = _GRID_CODES[r - 1, (f + m + 1) // 2 - 1]
    return codes


def rfm_segment(recency_score: int, frequency_score: int, monetary_score: int) -> RfmSegment:
    """The segment of one customer's scores."""
    code = segment_codes([recency_score], [frequency_score], [monetary_score])[0]
    return SEGMENTS[int(code)]
