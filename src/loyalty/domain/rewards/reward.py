"""A reward in the catalogue, as versioned data: what it gives, what it costs, who may take it.

A new version of a reward keeps its ``id``; redemptions record ``id`` and ``version`` so "what
did I get for my points?" always has an answer, and per-member limits count per id, so a new
version keeps counting where the old one was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from loyalty.domain.rewards._fields import Fields, at, datetime_text, sorted_list
from loyalty.domain.rewards.benefits import (
    CODE_DELIVERIES,
    Delivery,
    RewardBenefit,
    RewardType,
    benefit_from_dict,
)
from loyalty.domain.rewards.errors import InvalidReward
from loyalty.domain.rewards.periods import Period


@dataclass(frozen=True, slots=True)
class Visibility:
    """Who sees the reward. ``None`` means no restriction on that axis.

    With ``tiers`` the member's tier must be one of them; with ``segments`` the member must be
    in at least one of them; with both, both must hold.
    """

    tiers: frozenset[str] | None = None
    segments: frozenset[str] | None = None

    def __post_init__(self) -> None:
        for name, values in (("tiers", self.tiers), ("segments", self.segments)):
            if values is not None and not values:
                raise InvalidReward("must not be empty; leave it out for everyone", field=name)

    def admits(self, tier: str | None, segments: frozenset[str]) -> bool:
        if self.tiers is not None and tier not in self.tiers:
            return False
        return self.segments is None or not self.segments.isdisjoint(segments)

    def to_dict(self) -> dict[str, Any]:
        return {"tiers": sorted_list(self.tiers), "segments": sorted_list(self.segments)}

    @classmethod
    def from_dict(cls, data: object) -> Visibility:
        if data is None:
            return cls()
        fields = Fields(data, InvalidReward)
        visibility = cls(fields.opt_texts("tiers"), fields.opt_texts("segments"))
        fields.done()
        return visibility


@dataclass(frozen=True, slots=True)
class RedemptionLimit:
    """At most ``max_redemptions`` of this reward per member in each ``period``."""

    period: Period
    max_redemptions: int

    def __post_init__(self) -> None:
        if self.max_redemptions < 1:
            raise InvalidReward("must be at least 1", field="max_redemptions")

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period.value, "max_redemptions": self.max_redemptions}

    @classmethod
    def from_dict(cls, data: object) -> RedemptionLimit:
        fields = Fields(data, InvalidReward)
        name = fields.text("period")
        try:
            period = Period(name)
        except ValueError:
            allowed = ", ".join(p.value for p in Period)
            raise InvalidReward(f"use one of {allowed}", field="period") from None
        limit = cls(period, fields.required_int("max_redemptions"))
        fields.done()
        return limit


@dataclass(frozen=True, slots=True)
class Reward:
    """One version of a catalogue reward.

    ``stock``: units that may ever be redeemed (None: unlimited); what is left is counted by
    the caller. ``code_valid_days``: how long an issued code stays valid (None: no expiry);
    only for rewards that issue a code. ``promotion_id``: a stored cart promotion the coupon
    applies at checkout instead of the one derived from ``benefit``. ``enabled`` and the
    ``active_from``/``active_until`` window (from inclusive, until exclusive) say when it can
    be redeemed; codes already issued stay valid. ``exclusive``: only members whose tier or
    an active paid membership grants ``exclusive_rewards`` may see and redeem it (on top of
    ``visibility``).
    """

    id: str
    version: int
    name: str
    cost_points: int
    benefit: RewardBenefit
    description: str = ""
    stock: int | None = None
    limits: tuple[RedemptionLimit, ...] = ()
    code_valid_days: int | None = None
    visibility: Visibility = field(default_factory=Visibility)
    enabled: bool = True
    active_from: datetime | None = None
    active_until: datetime | None = None
    promotion_id: str | None = None
    exclusive: bool = False

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidReward("is required", field="id")
        if self.version < 1:
            raise InvalidReward("must be at least 1", field="version")
        if not self.name.strip():
            raise InvalidReward("is required", field="name")
        if self.cost_points < 0:
            raise InvalidReward("must not be negative", field="cost_points")
        if self.stock is not None and self.stock < 0:
            raise InvalidReward("must not be negative", field="stock")
        self._check_limits()
        self._check_code_fields()
        self._check_window()

    def _check_limits(self) -> None:
        periods = [limit.period for limit in self.limits]
        for index, period in enumerate(periods):
            if period in periods[:index]:
                raise InvalidReward(f"period '{period}' is limited twice", field=f"limits[{index}]")

    def _check_code_fields(self) -> None:
        if self.code_valid_days is not None:
            if not self.issues_code:
                raise InvalidReward(
                    f"a {self.type.value} reward issues no code", field="code_valid_days"
                )
            if self.code_valid_days < 1:
                raise InvalidReward("must be at least 1", field="code_valid_days")
        if self.promotion_id is not None and self.delivery is not Delivery.COUPON:
            raise InvalidReward(
                f"a {self.type.value} reward is not a checkout coupon", field="promotion_id"
            )

    def _check_window(self) -> None:
        for name, moment in (
            ("active_from", self.active_from),
            ("active_until", self.active_until),
        ):
            if moment is not None and moment.utcoffset() is None:
                raise InvalidReward("must include a time zone offset", field=name)
        if self.active_from and self.active_until and self.active_from >= self.active_until:
            raise InvalidReward("must be after active_from", field="active_until")

    @property
    def type(self) -> RewardType:
        return self.benefit.type

    @property
    def delivery(self) -> Delivery:
        return self.benefit.delivery

    @property
    def issues_code(self) -> bool:
        return self.delivery in CODE_DELIVERIES

    def is_active(self, now: datetime) -> bool:
        if not self.enabled:
            return False
        if self.active_from is not None and now < self.active_from:
            return False
        return self.active_until is None or now < self.active_until

    def code_expires_at(self, now: datetime) -> datetime | None:
        """When a code issued at ``now`` stops being valid (None: never, or no code)."""
        if not self.issues_code or self.code_valid_days is None:
            return None
        return now + timedelta(days=self.code_valid_days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "cost_points": self.cost_points,
            "benefit": self.benefit.to_dict(),
            "stock": self.stock,
            "limits": [limit.to_dict() for limit in self.limits],
            "code_valid_days": self.code_valid_days,
            "visibility": self.visibility.to_dict(),
            "enabled": self.enabled,
            "active_from": datetime_text(self.active_from),
            "active_until": datetime_text(self.active_until),
            "promotion_id": self.promotion_id,
            "exclusive": self.exclusive,
        }

    @classmethod
    def from_dict(cls, data: object) -> Reward:
        """Read stored or submitted data; ``InvalidReward.field`` is the path of the fault."""
        fields = Fields(data, InvalidReward)
        with at("benefit", InvalidReward):
            benefit = benefit_from_dict(fields.get("benefit"))
        limits = []
        for index, item in enumerate(fields.objects("limits")):
            with at(f"limits[{index}]", InvalidReward):
                limits.append(RedemptionLimit.from_dict(item))
        with at("visibility", InvalidReward):
            visibility = Visibility.from_dict(fields.get("visibility"))
        reward = cls(
            id=fields.text("id"),
            version=fields.integer("version", 1),
            name=fields.text("name"),
            cost_points=fields.required_int("cost_points"),
            benefit=benefit,
            description=fields.any_text("description"),
            stock=fields.opt_int("stock"),
            limits=tuple(limits),
            code_valid_days=fields.opt_int("code_valid_days"),
            visibility=visibility,
            enabled=fields.boolean("enabled", True),
            active_from=fields.opt_datetime("active_from"),
            active_until=fields.opt_datetime("active_until"),
            promotion_id=fields.opt_text("promotion_id"),
            exclusive=fields.boolean("exclusive", False),
        )
        fields.done()
        return reward
