"""Whether a member may redeem a reward now, and what redeeming it takes.

``decide_redemption`` reads only what it is given: the caller counts the member's redemptions
of the reward in the current periods (``usage_keys`` or ``period_window`` say which) and the
units of stock left, under the member row lock, and then spends ``plan.points`` through the
ledger, takes one unit of stock when ``plan.takes_stock`` and increments ``plan.usage_keys``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from loyalty.domain.rewards.benefits import Delivery, RewardBenefit
from loyalty.domain.rewards.errors import (
    RedemptionLimitReached,
    RewardExclusive,
    RewardInactive,
    RewardInsufficientPoints,
    RewardNotRedeemable,
    RewardNotVisible,
    RewardOutOfStock,
)
from loyalty.domain.rewards.periods import Period, UsageKey, local_time, period_key
from loyalty.domain.rewards.reward import Reward


class RefusalReason(StrEnum):
    """Why a redemption is refused. Part of the API: never rename a value."""

    INACTIVE = "inactive"
    NOT_VISIBLE = "not_visible"
    EXCLUSIVE = "exclusive"
    OUT_OF_STOCK = "out_of_stock"
    MEMBER_LIMIT_REACHED = "member_limit_reached"
    INSUFFICIENT_POINTS = "insufficient_points"


_ERRORS: dict[RefusalReason, type[RewardNotRedeemable]] = {
    RefusalReason.INACTIVE: RewardInactive,
    RefusalReason.NOT_VISIBLE: RewardNotVisible,
    RefusalReason.EXCLUSIVE: RewardExclusive,
    RefusalReason.OUT_OF_STOCK: RewardOutOfStock,
    RefusalReason.MEMBER_LIMIT_REACHED: RedemptionLimitReached,
    RefusalReason.INSUFFICIENT_POINTS: RewardInsufficientPoints,
}


@dataclass(frozen=True, slots=True)
class MemberRewardFacts:
    """What the decision needs to know about the member.

    ``redemptions``: how many times the member redeemed this reward (any version) in the
    current period of each limit the reward has; a missing period counts as 0.
    ``exclusive_rewards``: the member's tier or an active paid plan grants access to
    ``exclusive`` rewards (the merged benefits say so).
    """

    available_points: int
    tier: str | None = None
    segments: frozenset[str] = frozenset()
    exclusive_rewards: bool = False
    redemptions: Mapping[Period, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RedemptionRefused:
    reason: RefusalReason
    message: str

    def error(self, reward_id: str) -> RewardNotRedeemable:
        return _ERRORS[self.reason](self.message, field="reward_id", reward_id=reward_id)


@dataclass(frozen=True, slots=True)
class RedemptionPlan:
    """What to do to redeem: spend ``points``, take stock, count usage, deliver ``benefit``."""

    reward_id: str
    reward_version: int
    points: int
    benefit: RewardBenefit
    code_expires_at: datetime | None  # for a code-issuing reward; None: never expires
    takes_stock: bool
    usage_keys: tuple[UsageKey, ...]

    @property
    def delivery(self) -> Delivery:
        return self.benefit.delivery


def usage_keys(reward: Reward, now: datetime, tz: ZoneInfo) -> tuple[UsageKey, ...]:
    """The counters of the reward's per-member limits that a redemption at ``now`` falls in."""
    return tuple(
        UsageKey(reward.id, limit.period, period_key(limit.period, now, tz))
        for limit in reward.limits
    )


def is_visible(
    reward: Reward, tier: str | None, segments: frozenset[str], exclusive_rewards: bool = False
) -> bool:
    """Whether the member sees the reward: its visibility admits their tier and segments and,
    for an ``exclusive`` reward, their benefits grant ``exclusive_rewards``."""
    return reward.visibility.admits(tier, segments) and (exclusive_rewards or not reward.exclusive)


def decide_redemption(
    reward: Reward,
    member: MemberRewardFacts,
    *,
    stock_left: int | None,
    now: datetime,
    tz: ZoneInfo,
) -> RedemptionPlan | RedemptionRefused:
    """Plan a redemption, or say why not.

    ``stock_left``: units left as counted by the caller; ignored for unlimited stock, and None
    for limited stock means none redeemed yet. Checks run in a fixed order (inactive, not
    visible, exclusive, out of stock, member limit, points) so that a reward the member cannot
    see never reveals its stock or limits.
    """
    local_time(now, tz)  # refuses a naive ``now``
    refusal = (
        _inactive(reward, now)
        or _not_visible(reward, member)
        or _exclusive(reward, member)
        or _out_of_stock(reward, stock_left)
        or _limit_reached(reward, member, now, tz)
        or _short_of_points(reward, member)
    )
    if refusal is not None:
        return refusal
    return RedemptionPlan(
        reward_id=reward.id,
        reward_version=reward.version,
        points=reward.cost_points,
        benefit=reward.benefit,
        code_expires_at=reward.code_expires_at(now),
        takes_stock=reward.stock is not None,
        usage_keys=usage_keys(reward, now, tz),
    )


def decide_grant(
    reward: Reward, *, stock_left: int | None, now: datetime
) -> RedemptionPlan | RedemptionRefused:
    """Plan giving a reward the member earned (a completed stamp card) rather than bought: it
    costs no points, and visibility and per-member limits do not apply (the rule chose the
    member, and a birthday gift is the member's benefit, exclusive or not), but it must be on
    offer and in stock."""
    refusal = _inactive(reward, now) or _out_of_stock(reward, stock_left)
    if refusal is not None:
        return refusal
    return RedemptionPlan(
        reward_id=reward.id,
        reward_version=reward.version,
        points=0,
        benefit=reward.benefit,
        code_expires_at=reward.code_expires_at(now),
        takes_stock=reward.stock is not None,
        usage_keys=(),
    )


def redeem(
    reward: Reward,
    member: MemberRewardFacts,
    *,
    stock_left: int | None,
    now: datetime,
    tz: ZoneInfo,
) -> RedemptionPlan:
    """``decide_redemption`` for services: a refusal is raised as its typed error."""
    decision = decide_redemption(reward, member, stock_left=stock_left, now=now, tz=tz)
    if isinstance(decision, RedemptionRefused):
        raise decision.error(reward.id)
    return decision


def _inactive(reward: Reward, now: datetime) -> RedemptionRefused | None:
    if reward.is_active(now):
        return None
    if not reward.enabled:
        message = "this reward is not offered at the moment"
    elif reward.active_from is not None and now < reward.active_from:
        message = f"this reward can be redeemed from {reward.active_from.isoformat()}"
    else:
        message = "this reward is no longer offered"
    return RedemptionRefused(RefusalReason.INACTIVE, message)


def _not_visible(reward: Reward, member: MemberRewardFacts) -> RedemptionRefused | None:
    if reward.visibility.admits(member.tier, member.segments):
        return None
    return RedemptionRefused(RefusalReason.NOT_VISIBLE, "this reward is not offered to the member")


def _exclusive(reward: Reward, member: MemberRewardFacts) -> RedemptionRefused | None:
    if not reward.exclusive or member.exclusive_rewards:
        return None
    message = "this reward is exclusive to members whose tier or paid membership grants it"
    return RedemptionRefused(RefusalReason.EXCLUSIVE, message)


def _out_of_stock(reward: Reward, stock_left: int | None) -> RedemptionRefused | None:
    if reward.stock is None:
        return None
    left = reward.stock if stock_left is None else stock_left
    if left > 0:
        return None
    return RedemptionRefused(RefusalReason.OUT_OF_STOCK, "this reward is out of stock")


def _limit_reached(
    reward: Reward, member: MemberRewardFacts, now: datetime, tz: ZoneInfo
) -> RedemptionRefused | None:
    for limit in reward.limits:
        used = member.redemptions.get(limit.period, 0)
        if used >= limit.max_redemptions:
            when = _phrase(limit.period, period_key(limit.period, now, tz))
            message = f"redeemed {used} of {limit.max_redemptions} times {when}"
            return RedemptionRefused(RefusalReason.MEMBER_LIMIT_REACHED, message)
    return None


def _short_of_points(reward: Reward, member: MemberRewardFacts) -> RedemptionRefused | None:
    if member.available_points >= reward.cost_points:
        return None
    message = f"{reward.cost_points} points needed but only {member.available_points} available"
    return RedemptionRefused(RefusalReason.INSUFFICIENT_POINTS, message)


def _phrase(period: Period, key: str) -> str:
    if period is Period.LIFETIME:
        return "in total"
    this = {"day": "today", "week": "this week", "month": "this month", "year": "this year"}
    return f"{this[period.value]} ({key})"
