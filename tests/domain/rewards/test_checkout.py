"""What a reward coupon is worth at checkout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from loyalty.domain.promotions import AmountOff, PercentOff, Trigger
from loyalty.domain.rewards import (
    Reward,
    coupon_promotion_id,
    promotion_for_reward,
    redeem,
    reward_coupon,
)
from loyalty.domain.rewards.redemption import MemberRewardFacts

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _reward(benefit: dict[str, object], **extra: object) -> Reward:
    return Reward.from_dict(
        {"id": "r1", "version": 2, "name": "R", "cost_points": 100, "benefit": benefit, **extra}
    )


def test_a_discount_reward_derives_a_code_promotion_per_version() -> None:
    reward = _reward({"type": "fixed_discount", "amount": "10", "currency": "PLN"})
    promotion = promotion_for_reward(reward)
    assert promotion is not None
    assert promotion.id == "reward:r1:2" == coupon_promotion_id(reward)
    assert promotion.trigger is Trigger.CODE
    benefit = promotion.benefits[0]
    assert isinstance(benefit, AmountOff) and benefit.amount == Decimal("10")


def test_a_capped_percent_reward_keeps_its_cap() -> None:
    reward = _reward({"type": "percent_discount", "percent": "15", "cap": "50", "currency": "PLN"})
    promotion = promotion_for_reward(reward)
    assert promotion is not None
    benefit = promotion.benefits[0]
    assert isinstance(benefit, PercentOff) and benefit.percent == Decimal("15")


def test_a_named_promotion_is_used_instead_of_a_derived_one() -> None:
    reward = _reward({"type": "free_shipping"}, promotion_id="ship-free")
    assert promotion_for_reward(reward) is None
    assert coupon_promotion_id(reward) == "ship-free"


def test_non_coupon_rewards_have_no_checkout_promotion() -> None:
    gift = _reward({"type": "physical_gift", "sku": "MUG"})
    assert promotion_for_reward(gift) is None and coupon_promotion_id(gift) is None


def test_the_issued_coupon_is_the_members_and_expires_with_the_reward_validity() -> None:
    reward = _reward({"type": "early_access", "access": "spring-sale"}, code_valid_days=7)
    facts = MemberRewardFacts(available_points=100)
    plan = redeem(reward, facts, stock_left=None, now=NOW, tz=ZoneInfo("UTC"))
    coupon = reward_coupon(reward, plan, "CODE-1", "alice", NOW)
    assert coupon.member_id == "alice" and coupon.max_uses == 1
    assert coupon.expires_at == NOW + timedelta(days=7)
    gift = _reward({"type": "physical_gift", "sku": "MUG"})
    with pytest.raises(ValueError):
        reward_coupon(gift, plan, "CODE-2", "alice", NOW)
