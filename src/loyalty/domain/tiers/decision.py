"""Deciding a member's tier at ``now``: the rules in one place.

1. Reviews that fell due are settled in order (see ``review``): keep, rise, or drop after the
   grace period by at most the configured number of levels.
2. With ``refunds_downgrade_immediately``, refunds that take the member below their tier's
   threshold drop them at once; otherwise refunds only count at the next review.
3. Upgrades are immediate: reaching a higher threshold on the live window raises the member
   at ``now``, and the tier's review clock starts again.

Call ``decide`` after each contribution (with ``now`` = when it happened) for exact dates; a
late call (a job catching up) dates changes at the review instants and at ``now``. Deciding
twice at the same ``now`` changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.tiers._calendar import require_aware
from loyalty.domain.tiers.events import TierChanged, TierReason
from loyalty.domain.tiers.ladder import TierLadder
from loyalty.domain.tiers.qualification import Contribution, measure, qualify, reversals
from loyalty.domain.tiers.review import review_outcome
from loyalty.domain.tiers.status import ManualTier, TierStatus


@dataclass(frozen=True, slots=True)
class PendingDowngrade:
    """A review found a shortfall: the member drops to ``tier`` at ``at`` unless they
    re-qualify before then."""

    tier: str | None
    at: datetime
    review_at: datetime


@dataclass(frozen=True, slots=True)
class TierDecision:
    status: TierStatus  # what to store
    reason: TierReason  # of the last thing that happened
    changes: tuple[TierChanged, ...] = ()  # history rows and ``tier.changed`` events, in order
    pending: PendingDowngrade | None = None

    @property
    def tier(self) -> str | None:
        return self.status.tier

    @property
    def effective_at(self) -> datetime | None:
        """When the decided tier took effect."""
        return self.status.since

    @property
    def next_review_at(self) -> datetime | None:
        return self.status.review_at

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class _Steps:
    """The decision being built: the status so far and the changes made to it."""

    def __init__(self, ladder: TierLadder, tz: ZoneInfo, status: TierStatus) -> None:
        self.ladder, self.tz, self.status = ladder, tz, status
        self.changes: list[TierChanged] = []
        self.reason = TierReason.UNCHANGED

    def move(self, tier: str | None, reason: TierReason, at: datetime) -> None:
        if tier != self.status.tier:
            self.changes.append(
                TierChanged(
                    self.status.member_id, self.status.tier, tier, reason, at, self.ladder.version
                )
            )
            review = None if tier is None else self.ladder.review.next_review(at, self.tz)
            self.status = replace(self.status, tier=tier, since=at, review_at=review)
        self.reason = reason

    def confirm(self, review_at: datetime) -> None:
        next_review = self.ladder.review.next_review(review_at, self.tz)
        self.status = replace(self.status, review_at=next_review)
        self.reason = TierReason.KEPT

    def result(self, now: datetime, pending: PendingDowngrade | None) -> TierDecision:
        status = self.status
        if status.manual is not None and not status.manual.active(now):
            status = replace(status, manual=None)
        if pending is not None and pending.review_at != status.review_at:
            pending = None  # the member rose since: a new review clock
        reason = self.reason
        if pending is not None and reason is TierReason.UNCHANGED:
            reason = TierReason.PENDING
        return TierDecision(status, reason, tuple(self.changes), pending)


def decide(
    ladder: TierLadder,
    status: TierStatus,
    facts: Iterable[Contribution],
    now: datetime,
    tz: ZoneInfo,
) -> TierDecision:
    """The member's tier at ``now`` given their activity; see the module docstring."""
    now = require_aware(now, "now").astimezone(UTC)
    known = tuple(facts)
    steps = _Steps(ladder, tz, status)
    pending = _settle_reviews(steps, known, now)
    _drop_for_refunds(steps, known, now)
    _rise(steps, known, now)
    return steps.result(now, pending)


def set_manual_tier(
    ladder: TierLadder,
    status: TierStatus,
    facts: Iterable[Contribution],
    tier: str,
    until: datetime | None,
    now: datetime,
    tz: ZoneInfo,
    *,
    set_by: str | None = None,
    note: str = "",
) -> TierDecision:
    """An admin sets the member's tier at ``now`` and keeps it as a floor until ``until``.

    The tier applies at once, up or down; the member still rises above it when they qualify
    for more (so an admin cannot hold a member below what they qualify for now).
    """
    ladder.level(tier)  # refuses an unknown tier
    known = tuple(facts)
    if until is not None and require_aware(until, "until") <= now:
        raise ValidationFailed("must be after now", field="until")
    settled = decide(ladder, status, known, now, tz)
    now = now.astimezone(UTC)
    manual = ManualTier(tier, None if until is None else until.astimezone(UTC), now, set_by, note)
    steps = _Steps(ladder, tz, replace(settled.status, manual=manual))
    steps.changes = list(settled.changes)
    steps.move(tier, TierReason.MANUAL, now)
    _rise(steps, known, now)
    return steps.result(now, None)


def clear_manual_tier(status: TierStatus) -> TierStatus:
    """Remove an admin's floor early. The tier stays; the next review measures it as usual."""
    return replace(status, manual=None)


def _settle_reviews(
    steps: _Steps, facts: Sequence[Contribution], now: datetime
) -> PendingDowngrade | None:
    while steps.status.review_at is not None and steps.status.review_at <= now:
        outcome = review_outcome(steps.ladder, steps.status, facts, now, steps.tz)
        if not outcome.settled:
            return PendingDowngrade(outcome.tier, outcome.due_at, outcome.review_at)
        if outcome.tier == steps.status.tier:
            steps.confirm(outcome.review_at)
        elif outcome.keeps:
            steps.move(outcome.tier, TierReason.QUALIFIED, outcome.review_at)
        else:
            steps.move(outcome.tier, TierReason.REVIEW, outcome.due_at)
    return None


def _drop_for_refunds(steps: _Steps, facts: Sequence[Contribution], now: datetime) -> None:
    ladder, status = steps.ladder, steps.status
    if not ladder.review.refunds_downgrade_immediately or status.tier is None:
        return
    period = ladder.window.live(now, steps.tz)
    value = measure(ladder, facts, period)
    current = ladder.rank(status.tier)
    reached = _rank_for(ladder, value)
    if reached >= current:
        return
    taken = reversals(ladder, facts, period, after=status.since)
    if _rank_for(ladder, value + taken) < current:
        return  # short even without the refunds: that waits for the review
    floor = ladder.rank(status.floor(now))
    target = max(reached, ladder.review.lowest_rank(current), floor)
    if target < current:
        level = ladder.at_rank(target)
        steps.move(None if level is None else level.id, TierReason.REFUND, now)


def _rise(steps: _Steps, facts: Sequence[Contribution], now: datetime) -> None:
    qualification = qualify(steps.ladder, facts, now, steps.tz)
    if steps.ladder.rank(qualification.tier) > steps.ladder.rank(steps.status.tier):
        steps.move(qualification.tier, TierReason.QUALIFIED, now)


def _rank_for(ladder: TierLadder, value: Decimal) -> int:
    level = ladder.qualifying(value)
    return ladder.rank(None if level is None else level.id)
