"""May this member redeem this reward now? Each refusal has a stable reason code."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from loyalty.domain.errors import ErrorCode, InsufficientPoints
from loyalty.domain.rewards import (
    CharityDonation,
    Delivery,
    FixedDiscount,
    MemberRewardFacts,
    Period,
    PhysicalGift,
    RedemptionLimit,
    RedemptionLimitReached,
    RedemptionPlan,
    RedemptionRefused,
    RefusalReason,
    Reward,
    RewardExclusive,
    RewardInactive,
    RewardInsufficientPoints,
    RewardNotVisible,
    RewardOutOfStock,
    StoreCredit,
    UsageKey,
    Visibility,
    decide_grant,
    decide_redemption,
    is_visible,
    redeem,
)

D = Decimal
UTC_ZONE = ZoneInfo("UTC")
WARSAW = ZoneInfo("Europe/Warsaw")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RICH = MemberRewardFacts(available_points=10_000, tier="gold", segments=frozenset({"vip"}))


def _reward(**overrides: Any) -> Reward:
    fields: dict[str, Any] = {
        "id": "ten-off",
        "version": 3,
        "name": "10 EUR off",
        "cost_points": 1000,
        "benefit": FixedDiscount(D("10.00"), "EUR"),
        "code_valid_days": 30,
    }
    fields.update(overrides)
    return Reward(**fields)


def _decide(
    reward: Reward,
    member: MemberRewardFacts = RICH,
    *,
    stock_left: int | None = None,
    now: datetime = NOW,
    tz: ZoneInfo = UTC_ZONE,
) -> RedemptionPlan | RedemptionRefused:
    return decide_redemption(reward, member, stock_left=stock_left, now=now, tz=tz)


def _reason(decision: RedemptionPlan | RedemptionRefused) -> RefusalReason:
    assert isinstance(decision, RedemptionRefused), decision
    return decision.reason


def test_a_coupon_reward_plans_the_points_and_the_code_expiry() -> None:
    # given
    reward = _reward(limits=(RedemptionLimit(Period.MONTH, 2),), stock=10)

    # when
    plan = _decide(reward, stock_left=4)

    # then
    assert plan == RedemptionPlan(
        reward_id="ten-off",
        reward_version=3,
        points=1000,
        benefit=FixedDiscount(D("10.00"), "EUR"),
        code_expires_at=datetime(2026, 4, 1, 12, 0, tzinfo=UTC),
        takes_stock=True,
        usage_keys=(UsageKey("ten-off", Period.MONTH, "2026-03"),),
    )
    assert plan.delivery is Delivery.COUPON


@pytest.mark.parametrize(
    ("benefit", "delivery"),
    [
        (StoreCredit(D("5.00"), "EUR"), Delivery.STORE_CREDIT),
        (PhysicalGift("TOTE"), Delivery.SHIPMENT),
        (CharityDonation("wwf", D("1.00"), "EUR"), Delivery.DONATION),
    ],
)
def test_rewards_without_a_code_have_no_code_expiry(
    benefit: StoreCredit | PhysicalGift | CharityDonation, delivery: Delivery
) -> None:
    plan = _decide(_reward(benefit=benefit, code_valid_days=None))

    assert isinstance(plan, RedemptionPlan)
    assert plan.delivery is delivery
    assert plan.code_expires_at is None
    assert not plan.takes_stock


def test_a_free_reward_costs_no_points_and_needs_none() -> None:
    plan = _decide(_reward(cost_points=0), MemberRewardFacts(available_points=0))

    assert isinstance(plan, RedemptionPlan)
    assert plan.points == 0


def test_exactly_enough_points_is_enough_and_one_short_is_not() -> None:
    reward = _reward()

    assert isinstance(_decide(reward, MemberRewardFacts(available_points=1000)), RedemptionPlan)
    refused = _decide(reward, MemberRewardFacts(available_points=999))
    assert _reason(refused) is RefusalReason.INSUFFICIENT_POINTS
    assert isinstance(refused, RedemptionRefused)
    assert refused.message == "1000 points needed but only 999 available"


def test_a_disabled_reward_or_one_outside_its_window_is_inactive() -> None:
    assert _reason(_decide(_reward(enabled=False))) is RefusalReason.INACTIVE
    later = _reward(active_from=datetime(2026, 3, 3, tzinfo=UTC))
    assert _reason(_decide(later)) is RefusalReason.INACTIVE
    over = _reward(active_until=NOW)
    assert _reason(_decide(over)) is RefusalReason.INACTIVE
    assert isinstance(_decide(over, now=datetime(2026, 3, 2, 11, 59, tzinfo=UTC)), RedemptionPlan)


def test_a_reward_for_other_tiers_or_segments_is_not_visible() -> None:
    platinum = _reward(visibility=Visibility(tiers=frozenset({"platinum"})))
    press = _reward(visibility=Visibility(segments=frozenset({"press"})))

    assert _reason(_decide(platinum)) is RefusalReason.NOT_VISIBLE
    assert _reason(_decide(press)) is RefusalReason.NOT_VISIBLE
    in_press = MemberRewardFacts(available_points=5000, segments=frozenset({"press"}))
    assert isinstance(_decide(press, in_press), RedemptionPlan)


def test_an_exclusive_reward_needs_benefits_granting_exclusive_rewards() -> None:
    exclusive = _reward(exclusive=True, stock=1)
    granted = MemberRewardFacts(available_points=5000, exclusive_rewards=True)
    hidden = _reward(exclusive=True, visibility=Visibility(tiers=frozenset({"platinum"})))

    assert _reason(_decide(exclusive)) is RefusalReason.EXCLUSIVE
    assert isinstance(_decide(exclusive, granted), RedemptionPlan)
    assert _reason(_decide(exclusive, granted, stock_left=0)) is RefusalReason.OUT_OF_STOCK
    assert _reason(_decide(hidden, granted)) is RefusalReason.NOT_VISIBLE  # visibility first
    assert isinstance(_decide(_reward(), RICH), RedemptionPlan)  # not exclusive: as before
    assert not is_visible(exclusive, None, frozenset())
    assert is_visible(exclusive, None, frozenset(), exclusive_rewards=True)
    assert isinstance(decide_grant(exclusive, stock_left=1, now=NOW), RedemptionPlan)
    with pytest.raises(RewardExclusive) as caught:
        redeem(exclusive, RICH, stock_left=None, now=NOW, tz=UTC_ZONE)
    assert caught.value.code is ErrorCode.REWARD_EXCLUSIVE
    assert caught.value.data["reason"] == "exclusive"


def test_exclusive_is_stored_with_the_reward_and_defaults_to_false() -> None:
    data = _reward().to_dict()
    assert data["exclusive"] is False
    del data["exclusive"]  # stored before the field existed
    assert Reward.from_dict(data).exclusive is False
    assert Reward.from_dict({**data, "exclusive": True}).to_dict()["exclusive"] is True


def test_stock_runs_out_at_zero_and_unlimited_stock_never_does() -> None:
    limited = _reward(stock=5)

    assert isinstance(_decide(limited, stock_left=1), RedemptionPlan)
    assert _reason(_decide(limited, stock_left=0)) is RefusalReason.OUT_OF_STOCK
    assert isinstance(_decide(limited, stock_left=None), RedemptionPlan)  # none taken yet
    assert _reason(_decide(_reward(stock=0))) is RefusalReason.OUT_OF_STOCK
    assert isinstance(_decide(_reward(stock=None), stock_left=0), RedemptionPlan)


@pytest.mark.parametrize("period", list(Period))
def test_each_period_limit_counts_the_members_redemptions(period: Period) -> None:
    reward = _reward(limits=(RedemptionLimit(period, 2),))
    once = MemberRewardFacts(available_points=5000, redemptions={period: 1})
    twice = MemberRewardFacts(available_points=5000, redemptions={period: 2})

    assert isinstance(_decide(reward, once), RedemptionPlan)
    assert _reason(_decide(reward, twice)) is RefusalReason.MEMBER_LIMIT_REACHED


def test_the_tightest_of_several_limits_refuses() -> None:
    reward = _reward(limits=(RedemptionLimit(Period.DAY, 1), RedemptionLimit(Period.YEAR, 3)))
    member = MemberRewardFacts(available_points=5000, redemptions={Period.DAY: 0, Period.YEAR: 3})

    refused = _decide(reward, member)

    assert isinstance(refused, RedemptionRefused)
    assert refused.reason is RefusalReason.MEMBER_LIMIT_REACHED
    assert refused.message == "redeemed 3 of 3 times this year (2026)"


def test_limit_periods_follow_the_tenants_time_zone() -> None:
    # given 23:30 UTC on 2 March is already 3 March in Warsaw: a new day there
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    reward = _reward(limits=(RedemptionLimit(Period.DAY, 1),))

    # when
    in_warsaw = _decide(reward, now=late, tz=WARSAW)
    in_utc = _decide(reward, now=late, tz=UTC_ZONE)

    # then the services count (and later write) the counter of each zone's day
    assert isinstance(in_warsaw, RedemptionPlan) and isinstance(in_utc, RedemptionPlan)
    assert in_warsaw.usage_keys == (UsageKey("ten-off", Period.DAY, "2026-03-03"),)
    assert in_utc.usage_keys == (UsageKey("ten-off", Period.DAY, "2026-03-02"),)


def test_checks_run_in_a_fixed_order_so_hidden_rewards_reveal_nothing() -> None:
    # given a member failing every check
    reward = _reward(
        enabled=False,
        visibility=Visibility(tiers=frozenset({"platinum"})),
        stock=1,
        limits=(RedemptionLimit(Period.LIFETIME, 1),),
    )
    poor = MemberRewardFacts(available_points=0, redemptions={Period.LIFETIME: 1})

    # then each fix reveals the next reason
    assert _reason(_decide(reward, poor, stock_left=0)) is RefusalReason.INACTIVE
    reward = _reward(
        visibility=Visibility(tiers=frozenset({"platinum"})),
        stock=1,
        limits=(RedemptionLimit(Period.LIFETIME, 1),),
    )
    assert _reason(_decide(reward, poor, stock_left=0)) is RefusalReason.NOT_VISIBLE
    reward = _reward(stock=1, limits=(RedemptionLimit(Period.LIFETIME, 1),))
    assert _reason(_decide(reward, poor, stock_left=0)) is RefusalReason.OUT_OF_STOCK
    assert _reason(_decide(reward, poor, stock_left=1)) is RefusalReason.MEMBER_LIMIT_REACHED
    poor = MemberRewardFacts(available_points=0)
    assert _reason(_decide(reward, poor, stock_left=1)) is RefusalReason.INSUFFICIENT_POINTS


@pytest.mark.parametrize(
    ("overrides", "member", "error", "code"),
    [
        ({"enabled": False}, RICH, RewardInactive, ErrorCode.REWARD_INACTIVE),
        (
            {"visibility": Visibility(tiers=frozenset({"x"}))},
            RICH,
            RewardNotVisible,
            ErrorCode.REWARD_NOT_VISIBLE,
        ),
        ({"stock": 0}, RICH, RewardOutOfStock, ErrorCode.REWARD_OUT_OF_STOCK),
        (
            {"limits": (RedemptionLimit(Period.WEEK, 1),)},
            MemberRewardFacts(available_points=5000, redemptions={Period.WEEK: 1}),
            RedemptionLimitReached,
            ErrorCode.REDEMPTION_LIMIT_REACHED,
        ),
        (
            {},
            MemberRewardFacts(available_points=1),
            RewardInsufficientPoints,
            ErrorCode.INSUFFICIENT_POINTS,
        ),
    ],
)
def test_redeem_raises_each_refusal_as_a_typed_error_with_its_reason(
    overrides: dict[str, Any], member: MemberRewardFacts, error: type[Exception], code: ErrorCode
) -> None:
    reward = _reward(**overrides)
    expected = _reason(_decide(reward, member))

    with pytest.raises(error) as caught:
        redeem(reward, member, stock_left=None, now=NOW, tz=UTC_ZONE)

    raised = caught.value
    assert getattr(raised, "code") is code  # noqa: B009
    assert getattr(raised, "data")["reason"] == expected.value  # noqa: B009
    assert getattr(raised, "data")["reward_id"] == "ten-off"  # noqa: B009


def test_insufficient_points_is_also_the_ledgers_error() -> None:
    with pytest.raises(InsufficientPoints):
        redeem(
            _reward(), MemberRewardFacts(available_points=0), stock_left=None, now=NOW, tz=WARSAW
        )


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        _decide(_reward(), now=datetime(2026, 3, 2, 12, 0))
