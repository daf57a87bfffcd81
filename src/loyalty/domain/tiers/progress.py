"""What the member view shows: the metric now, what is missing for the next tier and by when,
and how the next review would end if nothing else happened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.tiers.ladder import Metric, TierLadder
from loyalty.domain.tiers.qualification import Contribution, qualify
from loyalty.domain.tiers.review import review_outcome
from loyalty.domain.tiers.status import TierStatus


@dataclass(frozen=True, slots=True)
class ReviewForecast:
    at: datetime  # when the review happens
    tier: str | None  # the tier after it, if nothing else happens
    effective_at: datetime  # when that tier applies (after the grace period for a drop)
    keeps: bool


@dataclass(frozen=True, slots=True)
class TierProgress:
    value: Decimal  # the metric over the live window
    next_tier: str | None  # the level above the member's tier (None at the top)
    missing: Decimal | None  # how much more of the metric reaches it
    by: datetime | None  # when the window closes (calendar year only)
    review: ReviewForecast | None

    def to_dict(self, ladder: TierLadder) -> dict[str, Any]:
        review = self.review
        return {
            "metric": ladder.metric.value,
            "value": _number(ladder, self.value),
            "next_tier": self.next_tier,
            "missing": None if self.missing is None else _number(ladder, self.missing),
            "by": None if self.by is None else self.by.isoformat(),
            "next_review": None
            if review is None
            else {
                "at": review.at.isoformat(),
                "tier": review.tier,
                "effective_at": review.effective_at.isoformat(),
                "outcome": "keep" if review.keeps else "drop",
            },
        }


def _number(ladder: TierLadder, value: Decimal) -> str | int:
    return str(value) if ladder.metric is Metric.AMOUNT_SPENT else int(value)


def progress(
    ladder: TierLadder,
    status: TierStatus,
    facts: Sequence[Contribution],
    now: datetime,
    tz: ZoneInfo,
) -> TierProgress:
    """The member's progress at ``now``; pass the status as ``decide`` left it at ``now``."""
    measured = qualify(ladder, facts, now, tz)
    above = ladder.above(status.tier)
    missing = None if above is None else max(above.threshold - measured.value, Decimal(0))
    return TierProgress(
        value=measured.value,
        next_tier=None if above is None else above.id,
        missing=missing,
        by=ladder.window.closes_at(now, tz),
        review=_forecast(ladder, status, facts, tz),
    )


def _forecast(
    ladder: TierLadder, status: TierStatus, facts: Sequence[Contribution], tz: ZoneInfo
) -> ReviewForecast | None:
    if status.review_at is None:
        return None
    outcome = review_outcome(ladder, status, facts, None, tz)
    return ReviewForecast(outcome.review_at, outcome.tier, outcome.effective_at, outcome.keeps)
