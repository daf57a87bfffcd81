"""Measuring a member's activity against the ladder.

The services hand in the member's activity as dated ``Contribution`` facts (one per ledger
earn/reverse, paid order, refund or cancellation) and ``now``; nothing here reads a clock.
A refund is a negative contribution: it counts against the metric in the window it is dated
in. The metric is never below zero (a refund of last year's order cannot make this year's
spend negative).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from loyalty.domain.errors import CurrencyMismatch
from loyalty.domain.money import Money
from loyalty.domain.tiers._calendar import require_aware
from loyalty.domain.tiers.ladder import Metric, TierLadder, TierLevel
from loyalty.domain.tiers.window import Period

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One dated change to the member's activity; any of the three parts may be zero."""

    at: datetime
    points: int = 0  # earned (+) or reversed (-)
    spend: Money | None = None  # paid (+) or refunded (-)
    orders: int = 0  # +1 for a paid order, -1 for a cancelled one

    def __post_init__(self) -> None:
        require_aware(self.at, "at")
        object.__setattr__(self, "at", self.at.astimezone(UTC))

    @classmethod
    def points_earned(cls, at: datetime, points: int) -> Contribution:
        return cls(at, points=points)

    @classmethod
    def points_reversed(cls, at: datetime, points: int) -> Contribution:
        return cls(at, points=-points)

    @classmethod
    def order_paid(cls, at: datetime, total: Money) -> Contribution:
        return cls(at, spend=total, orders=1)

    @classmethod
    def order_refunded(cls, at: datetime, amount: Money) -> Contribution:
        """A refund lowers spend; the order still counts (cancel it to uncount it)."""
        return cls(at, spend=Money(-amount.amount, amount.currency))

    @classmethod
    def order_cancelled(cls, at: datetime, refunded: Money | None = None) -> Contribution:
        spend = None if refunded is None else Money(-refunded.amount, refunded.currency)
        return cls(at, spend=spend, orders=-1)

    def value(self, metric: Metric, currency: str | None) -> Decimal:
        if metric is Metric.POINTS_EARNED:
            return Decimal(self.points)
        if metric is Metric.ORDERS:
            return Decimal(self.orders)
        if self.spend is None:
            return ZERO
        if self.spend.currency != currency:
            raise CurrencyMismatch(
                f"spend in {self.spend.currency} cannot count towards a {currency} ladder",
                field="spend",
            )
        return self.spend.amount


def measure(ladder: TierLadder, facts: Iterable[Contribution], period: Period) -> Decimal:
    """The ladder's metric over ``period``: the sum of contributions dated in it, at least 0."""
    total = sum(
        (fact.value(ladder.metric, ladder.currency) for fact in facts if fact.at in period), ZERO
    )
    return max(total, ZERO)


def reversals(
    ladder: TierLadder, facts: Iterable[Contribution], period: Period, after: datetime | None
) -> Decimal:
    """How much the negative contributions dated in ``period`` (and after ``after``) took
    away, as a positive number."""
    taken = ZERO
    for fact in facts:
        if fact.at in period and (after is None or fact.at > after):
            taken -= min(fact.value(ladder.metric, ladder.currency), ZERO)
    return taken


@dataclass(frozen=True, slots=True)
class Qualification:
    value: Decimal
    level: TierLevel | None  # the highest level the value reaches
    period: Period

    @property
    def tier(self) -> str | None:
        return None if self.level is None else self.level.id


def qualify(
    ladder: TierLadder, facts: Iterable[Contribution], now: datetime, tz: ZoneInfo
) -> Qualification:
    """The metric over the window as it stands at ``now``, and the tier it qualifies for."""
    period = ladder.window.live(require_aware(now, "now"), tz)
    value = measure(ladder, facts, period)
    return Qualification(value, ladder.qualifying(value), period)
