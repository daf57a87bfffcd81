"""What a reward coupon is worth at checkout, and the coupon a redemption issues.

A checkout coupon applies a cart promotion: the stored one the reward names in
``promotion_id``, or one derived from the reward's benefit. A derived promotion's id names the
reward *version*, so a code keeps the benefit it was bought with when the reward changes.
"""

from __future__ import annotations

from datetime import datetime

from loyalty.domain.promotions import Promotion, Trigger
from loyalty.domain.rewards.benefits import Delivery, benefit_currency
from loyalty.domain.rewards.coupons import Coupon
from loyalty.domain.rewards.redemption import RedemptionPlan
from loyalty.domain.rewards.reward import Reward

DERIVED_PREFIX = "reward:"


def derived_promotion_id(reward_id: str, version: int) -> str:
    return f"{DERIVED_PREFIX}{reward_id}:{version}"


def coupon_promotion_id(reward: Reward) -> str | None:
    """The promotion a coupon of this reward applies; None if it is not a checkout coupon."""
    if reward.delivery is not Delivery.COUPON:
        return None
    return reward.promotion_id or derived_promotion_id(reward.id, reward.version)


def promotion_for_reward(reward: Reward) -> Promotion | None:
    """The code promotion derived from a checkout-coupon reward, for the cart engine.

    None when the reward is not a checkout coupon or names a stored promotion instead.
    """
    benefit = reward.benefit.checkout_benefit()
    if benefit is None or reward.promotion_id is not None:
        return None
    return Promotion(
        id=derived_promotion_id(reward.id, reward.version),
        version=reward.version,
        name=reward.name,
        trigger=Trigger.CODE,
        benefits=(benefit,),
        currency=benefit_currency(reward.benefit),
    )


def reward_coupon(
    reward: Reward, plan: RedemptionPlan, code: str, member_id: str, now: datetime
) -> Coupon:
    """The single-use coupon a redemption issues to ``member_id``: theirs alone."""
    if not reward.issues_code:
        raise ValueError(f"a {reward.type.value} reward issues no code")
    return Coupon(
        code=code,
        issued_at=now,
        expires_at=plan.code_expires_at,
        member_id=member_id,
        promotion_id=coupon_promotion_id(reward),
        reward_id=reward.id,
    )
