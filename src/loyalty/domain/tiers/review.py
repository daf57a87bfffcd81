"""What a review does to a member's tier.

At ``review_at`` the member is measured over the window that closes then (a 1 January review
of a calendar-year ladder measures the year just ended). Activity during the grace period
still counts, and so does qualifying on the live window. A member who reaches their tier (or
a higher one) keeps it (or rises) at the review. One who falls short keeps the tier through
the grace period and then drops to what they reach, at most ``max_levels_down`` levels.

A manual floor at or above the member's tier that lasts past the grace period defers the
drop to the floor's end (the member is measured again then); a lower floor bounds the drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from loyalty.domain.tiers._calendar import TICK
from loyalty.domain.tiers.ladder import TierLadder, TierLevel
from loyalty.domain.tiers.qualification import Contribution, measure
from loyalty.domain.tiers.status import TierStatus
from loyalty.domain.tiers.window import Period


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    review_at: datetime
    due_at: datetime  # when a drop takes effect: after the grace period (or a manual floor)
    tier: str | None  # the member's tier after the review
    keeps: bool  # the member keeps (or rises above) their tier
    settled: bool  # False: the drop waits for ``due_at``; the member may still re-qualify
    measured: Decimal  # the metric over the reviewed period, as far as it has been seen

    @property
    def effective_at(self) -> datetime:
        return self.review_at if self.keeps else self.due_at


def review_outcome(
    ladder: TierLadder,
    status: TierStatus,
    facts: Sequence[Contribution],
    now: datetime | None,
    tz: ZoneInfo,
) -> ReviewOutcome:
    """The outcome of the review at ``status.review_at`` as it stands at ``now``.

    ``now=None`` asks how the review ends if nothing else happens (a forecast); pass only the
    facts known so far.
    """
    assert status.review_at is not None, "a member without a tier has no review"
    review_at, current = status.review_at, ladder.rank(status.tier)
    due = _due(ladder, status, current, tz)
    end = due if now is None or now >= due else now + TICK
    measured = measure(ladder, facts, Period(ladder.window.closing_at(review_at, tz).start, end))
    live = measure(ladder, facts, ladder.window.closing_at(end, tz))
    reached = max(
        _rank(ladder, ladder.qualifying(measured)), _rank(ladder, ladder.qualifying(live))
    )
    lowest = max(ladder.review.lowest_rank(current), _floor_rank(ladder, status, due))
    if reached >= current or lowest >= current:
        tier = ladder.at_rank(max(reached, current))
        return ReviewOutcome(review_at, due, _id(tier), True, True, measured)
    tier = ladder.at_rank(max(reached, lowest))
    return ReviewOutcome(review_at, due, _id(tier), False, end == due, measured)


def _due(ladder: TierLadder, status: TierStatus, current: int, tz: ZoneInfo) -> datetime:
    assert status.review_at is not None
    due = ladder.review.drop_due(status.review_at, tz)
    manual = status.manual
    if (
        manual is not None
        and manual.until is not None
        and manual.active(due)
        and ladder.rank(manual.tier) >= current
    ):
        return manual.until
    return due


def _floor_rank(ladder: TierLadder, status: TierStatus, at: datetime) -> int:
    return ladder.rank(status.floor(at))


def _rank(ladder: TierLadder, level: TierLevel | None) -> int:
    return ladder.rank(_id(level))


def _id(level: TierLevel | None) -> str | None:
    return None if level is None else level.id
