"""The tier ladder: versioned data a marketer edits, never code.

One ladder per programme: ordered levels (Silver < Gold < Platinum) with thresholds on ONE
metric, measured over one window, and the review policy that says when and how far a member
may drop. Editing a ladder makes a new version (``revised``); tier changes record the version
they were decided under.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.money import quantum
from loyalty.domain.tiers._calendar import days_after, local_year, months_after, year_start
from loyalty.domain.tiers._fields import Fields, at, check_id, check_range
from loyalty.domain.tiers.benefits import Benefits
from loyalty.domain.tiers.errors import InvalidTierSettings, UnknownTier
from loyalty.domain.tiers.window import Window

MAX_LEVELS = 20


class Metric(StrEnum):
    POINTS_EARNED = "points_earned"  # points earned minus points reversed
    AMOUNT_SPENT = "amount_spent"  # money paid minus refunds, in the ladder's currency
    ORDERS = "orders"  # orders paid minus orders cancelled


@dataclass(frozen=True, slots=True)
class TierLevel:
    id: str  # stable key stored on members and in events: "gold"
    name: str  # shown to people: "Gold"
    threshold: Decimal  # metric value that qualifies; whole numbers for points and orders
    benefits: Benefits = field(default_factory=Benefits)

    def __post_init__(self) -> None:
        check_id(self.id, "id")
        if not self.name.strip():
            raise InvalidTierSettings("must not be blank", field="name")
        if not self.threshold.is_finite() or self.threshold < 0:
            raise InvalidTierSettings("must be a number >= 0", field="threshold")


class ReviewKind(StrEnum):
    CALENDAR_YEAR_END = "calendar_year_end"  # every 1 January, tenant time
    MONTHS_AFTER_REACHED = "months_after_reached"  # N months after the member reached the tier


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    """When a member may drop, and how far.

    Members only drop at a review: at ``next_review`` the tier is measured over the window
    that closes then; one who falls short keeps the tier for ``grace_days`` more (activity in
    the grace period still counts) and then drops at most ``max_levels_down`` levels
    (None: as far as the metric says; 0: never). With ``refunds_downgrade_immediately``, a
    refund or reversal that takes the member below their tier's threshold drops them at once.
    """

    kind: ReviewKind = ReviewKind.CALENDAR_YEAR_END
    months: int | None = None  # months_after_reached only
    grace_days: int = 0
    max_levels_down: int | None = 1
    refunds_downgrade_immediately: bool = False

    def __post_init__(self) -> None:
        if self.kind is ReviewKind.MONTHS_AFTER_REACHED:
            if self.months is None:
                raise InvalidTierSettings(
                    "a months_after_reached review needs months", field="months"
                )
            check_range(self.months, 1, 120, "months")
        elif self.months is not None:
            raise InvalidTierSettings(f"a {self.kind} review takes no months", field="months")
        check_range(self.grace_days, 0, 365, "grace_days")
        if self.max_levels_down is not None:
            check_range(self.max_levels_down, 0, MAX_LEVELS, "max_levels_down")

    def next_review(self, reached_at: datetime, tz: ZoneInfo) -> datetime:
        """When a tier reached (or last confirmed) at ``reached_at`` is next reviewed."""
        if self.kind is ReviewKind.CALENDAR_YEAR_END:
            return year_start(local_year(reached_at, tz) + 1, tz)
        assert self.months is not None
        return months_after(reached_at, self.months, tz)

    def drop_due(self, review_at: datetime, tz: ZoneInfo) -> datetime:
        """When a drop decided at ``review_at`` takes effect: after the grace period."""
        return days_after(review_at, self.grace_days, tz)

    def lowest_rank(self, current_rank: int) -> int:
        """The lowest rank a member at ``current_rank`` may drop to at one review."""
        if self.max_levels_down is None:
            return -1
        return max(current_rank - self.max_levels_down, -1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "months": self.months,
            "grace_days": self.grace_days,
            "max_levels_down": self.max_levels_down,
            "refunds_downgrade_immediately": self.refunds_downgrade_immediately,
        }

    @classmethod
    def from_dict(cls, data: object) -> ReviewPolicy:
        if data is None:
            return cls()
        fields = Fields(data)
        kind = fields.opt_text("kind") or ReviewKind.CALENDAR_YEAR_END.value
        try:
            review_kind = ReviewKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in ReviewKind)
            raise InvalidTierSettings(f"must be one of {known}", field="kind") from None
        # null is meaningful here (no limit), so only a missing key takes the default
        max_down = fields.opt_int("max_levels_down") if fields.has("max_levels_down") else 1
        policy = cls(
            kind=review_kind,
            months=fields.opt_int("months"),
            grace_days=fields.integer("grace_days", 0),
            max_levels_down=max_down,
            refunds_downgrade_immediately=fields.boolean("refunds_downgrade_immediately", False),
        )
        fields.done()
        return policy


@dataclass(frozen=True, slots=True)
class TierLadder:
    """A programme's tiers, lowest first. Below the first threshold a member has no tier
    (give the first level threshold 0 to place every member on it)."""

    levels: tuple[TierLevel, ...]
    metric: Metric = Metric.POINTS_EARNED
    window: Window = field(default_factory=Window)
    review: ReviewPolicy = field(default_factory=ReviewPolicy)
    currency: str | None = None  # amount_spent only
    version: int = 1

    def __post_init__(self) -> None:
        if self.version < 1:
            raise InvalidTierSettings("must be at least 1", field="version")
        self._check_currency()
        if not 1 <= len(self.levels) <= MAX_LEVELS:
            raise InvalidTierSettings(f"must hold 1..{MAX_LEVELS} levels", field="levels")
        seen: set[str] = set()
        for index, level in enumerate(self.levels):
            with at(f"levels[{index}]"):
                self._check_level(level, seen, self.levels[index - 1] if index else None)
            seen.add(level.id)

    def _check_currency(self) -> None:
        if self.metric is Metric.AMOUNT_SPENT:
            if self.currency is None:
                raise InvalidTierSettings(
                    "an amount_spent ladder needs a currency", field="currency"
                )
            quantum(self.currency)  # raises UnknownCurrency (field "currency")
        elif self.currency is not None:
            raise InvalidTierSettings(f"a {self.metric} ladder takes no currency", field="currency")

    def _check_level(self, level: TierLevel, seen: set[str], below: TierLevel | None) -> None:
        if level.id in seen:
            raise InvalidTierSettings(f"tier id '{level.id}' is used twice", field="id")
        if self.metric is Metric.AMOUNT_SPENT:
            assert self.currency is not None
            if level.threshold != level.threshold.quantize(quantum(self.currency)):
                raise InvalidTierSettings(
                    f"has more decimals than {self.currency} allows", field="threshold"
                )
        elif level.threshold != level.threshold.to_integral_value():
            raise InvalidTierSettings(f"must be a whole number of {self.metric}", field="threshold")
        if below is not None and level.threshold <= below.threshold:
            raise InvalidTierSettings(
                "must be above the threshold of the level below", field="threshold"
            )

    def level(self, tier_id: str) -> TierLevel:
        for level in self.levels:
            if level.id == tier_id:
                return level
        raise UnknownTier(f"the ladder has no tier '{tier_id}'", field="tier", tier=tier_id)

    def rank(self, tier_id: str | None) -> int:
        """0 for the lowest level, -1 for no tier."""
        if tier_id is None:
            return -1
        return self.levels.index(self.level(tier_id))

    def at_rank(self, rank: int) -> TierLevel | None:
        return None if rank < 0 else self.levels[rank]

    def qualifying(self, value: Decimal) -> TierLevel | None:
        """The highest level whose threshold ``value`` reaches (None: below every level)."""
        reached = [level for level in self.levels if value >= level.threshold]
        return reached[-1] if reached else None

    def above(self, tier_id: str | None) -> TierLevel | None:
        """The level above ``tier_id`` (the lowest level above no tier; None at the top)."""
        rank = self.rank(tier_id) + 1
        return self.levels[rank] if rank < len(self.levels) else None

    def revised(self, **changes: Any) -> TierLadder:
        """The next version of this ladder with ``changes``."""
        return replace(self, version=self.version + 1, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "metric": self.metric.value,
            "currency": self.currency,
            "window": self.window.to_dict(),
            "review": self.review.to_dict(),
            "levels": [self._level_dict(level) for level in self.levels],
        }

    def _level_dict(self, level: TierLevel) -> dict[str, Any]:
        threshold: str | int = (
            str(level.threshold) if self.metric is Metric.AMOUNT_SPENT else int(level.threshold)
        )
        return {
            "id": level.id,
            "name": level.name,
            "threshold": threshold,
            "benefits": level.benefits.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: object) -> TierLadder:
        """Read a ladder; ``InvalidTierSettings.field`` is the path (``levels[1].threshold``)."""
        fields = Fields(data)
        metric = _metric(fields.text("metric"))
        with at("window"):
            window = Window.from_dict(fields.get("window"))
        with at("review"):
            review = ReviewPolicy.from_dict(fields.get("review"))
        levels = []
        for index, item in enumerate(fields.items("levels")):
            with at(f"levels[{index}]"):
                levels.append(_level_from_dict(item))
        ladder = cls(
            levels=tuple(levels),
            metric=metric,
            window=window,
            review=review,
            currency=fields.opt_text("currency"),
            version=fields.integer("version", 1),
        )
        fields.done()
        return ladder


def _metric(value: str) -> Metric:
    try:
        return Metric(value)
    except ValueError:
        known = ", ".join(m.value for m in Metric)
        raise InvalidTierSettings(f"must be one of {known}", field="metric") from None


def _level_from_dict(data: object) -> TierLevel:
    fields = Fields(data)
    with at("benefits"):
        benefits = Benefits.from_dict(fields.get("benefits"))
    level = TierLevel(
        id=fields.text("id"),
        name=fields.text("name"),
        threshold=fields.decimal("threshold"),
        benefits=benefits,
    )
    fields.done()
    return level
