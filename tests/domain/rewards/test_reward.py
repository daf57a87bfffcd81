"""Rewards as data: every type survives a JSON round trip; bad data names the field at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty.domain.errors import ErrorCode, ValidationFailed
from loyalty.domain.rewards import (
    CharityDonation,
    Delivery,
    EarlyAccessPass,
    FixedDiscount,
    FreeProduct,
    FreeShipping,
    InvalidReward,
    PercentDiscount,
    Period,
    PhysicalGift,
    RedemptionLimit,
    Reward,
    RewardBenefit,
    RewardType,
    StoreCredit,
    Visibility,
)

D = Decimal
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

EVERY_TYPE: list[tuple[RewardBenefit, RewardType, Delivery]] = [
    (FixedDiscount(D("10.00"), "EUR"), RewardType.FIXED_DISCOUNT, Delivery.COUPON),
    (PercentDiscount(D(15), D("30.00"), "PLN"), RewardType.PERCENT_DISCOUNT, Delivery.COUPON),
    (FreeShipping(D("20.00"), "EUR"), RewardType.FREE_SHIPPING, Delivery.COUPON),
    (FreeProduct("MUG-1", 2, "p-9"), RewardType.FREE_PRODUCT, Delivery.COUPON),
    (StoreCredit(D("5.00"), "EUR"), RewardType.STORE_CREDIT, Delivery.STORE_CREDIT),
    (PhysicalGift("TOTE-BAG"), RewardType.PHYSICAL_GIFT, Delivery.SHIPMENT),
    (CharityDonation("wwf", D("2.50"), "EUR"), RewardType.CHARITY_DONATION, Delivery.DONATION),
    (EarlyAccessPass("summer-drop"), RewardType.EARLY_ACCESS, Delivery.PASS),
]


def _reward(benefit: RewardBenefit, **overrides: Any) -> Reward:
    fields: dict[str, Any] = {
        "id": "r-1",
        "version": 2,
        "name": "A reward",
        "cost_points": 500,
        "benefit": benefit,
    }
    fields.update(overrides)
    return Reward(**fields)


@pytest.mark.parametrize(("benefit", "kind", "delivery"), EVERY_TYPE)
def test_every_reward_type_survives_a_json_round_trip(
    benefit: RewardBenefit, kind: RewardType, delivery: Delivery
) -> None:
    # given
    reward = _reward(
        benefit,
        description="",
        stock=40,
        limits=(RedemptionLimit(Period.MONTH, 2), RedemptionLimit(Period.LIFETIME, 5)),
        visibility=Visibility(frozenset({"gold"}), frozenset({"vip", "new"})),
        active_from=NOW,
        active_until=datetime(2026, 6, 1, tzinfo=UTC),
        code_valid_days=30 if delivery in (Delivery.COUPON, Delivery.PASS) else None,
    )

    # when
    again = Reward.from_dict(json.loads(json.dumps(reward.to_dict())))

    # then
    assert again == reward
    assert again.type is kind
    assert again.delivery is delivery


def test_code_rewards_issue_codes_and_others_do_not() -> None:
    issuing = {kind for benefit, kind, _ in EVERY_TYPE if _reward(benefit).issues_code}

    assert issuing == {
        RewardType.FIXED_DISCOUNT,
        RewardType.PERCENT_DISCOUNT,
        RewardType.FREE_SHIPPING,
        RewardType.FREE_PRODUCT,
        RewardType.EARLY_ACCESS,
    }


def test_store_credit_turns_points_into_money() -> None:
    reward = Reward.from_dict(
        {
            "id": "credit-5",
            "name": "5 EUR credit",
            "cost_points": 500,
            "benefit": {"type": "store_credit", "amount": "5.00", "currency": "EUR"},
        }
    )

    assert isinstance(reward.benefit, StoreCredit)
    assert str(reward.benefit.value) == "5.00 EUR"
    assert reward.version == 1
    assert reward.stock is None
    assert reward.enabled


def test_code_expiry_counts_days_from_issue_and_none_means_forever() -> None:
    assert _reward(FreeShipping(), code_valid_days=30).code_expires_at(NOW) == datetime(
        2026, 4, 1, 12, 0, tzinfo=UTC
    )
    assert _reward(FreeShipping()).code_expires_at(NOW) is None


def test_active_window_includes_its_start_and_excludes_its_end() -> None:
    start, end = NOW, datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    reward = _reward(FreeShipping(), active_from=start, active_until=end)

    assert reward.is_active(start)
    assert not reward.is_active(end)
    assert not reward.is_active(datetime(2026, 3, 1, tzinfo=UTC))
    assert not _reward(FreeShipping(), enabled=False).is_active(NOW)


def test_visibility_by_tier_segment_or_both() -> None:
    anyone = Visibility()
    gold = Visibility(tiers=frozenset({"gold"}))
    vip = Visibility(segments=frozenset({"vip", "press"}))
    both = Visibility(frozenset({"gold"}), frozenset({"vip"}))

    assert anyone.admits(None, frozenset())
    assert gold.admits("gold", frozenset()) and not gold.admits("silver", frozenset())
    assert not gold.admits(None, frozenset())
    assert vip.admits(None, frozenset({"press"})) and not vip.admits("gold", frozenset({"x"}))
    assert both.admits("gold", frozenset({"vip"}))
    assert not both.admits("gold", frozenset()) and not both.admits("silver", frozenset({"vip"}))


def _base(**benefit: Any) -> dict[str, Any]:
    return {"id": "r", "name": "R", "cost_points": 10, "benefit": benefit}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**_base(type="free_shipping"), "cost_points": -1}, "cost_points"),
        ({**_base(type="free_shipping"), "id": " "}, "id"),
        ({**_base(type="free_shipping"), "version": 0}, "version"),
        ({**_base(type="free_shipping"), "stock": -1}, "stock"),
        ({"id": "r", "name": "R", "benefit": {"type": "free_shipping"}}, "cost_points"),
        ({"id": "r", "name": "R", "cost_points": 1}, "benefit"),
        (_base(type="bitcoin"), "benefit.type"),
        (_base(type="fixed_discount", amount="10.00"), "benefit.currency"),
        (_base(type="fixed_discount", amount="10.001", currency="EUR"), "benefit.amount"),
        (_base(type="fixed_discount", amount="0", currency="EUR"), "benefit.amount"),
        (_base(type="fixed_discount", amount="5", currency="XXX"), "benefit.currency"),
        (_base(type="percent_discount", percent="0"), "benefit.percent"),
        (_base(type="percent_discount", percent="101"), "benefit.percent"),
        (_base(type="percent_discount", percent="10", cap="5.00"), "benefit.currency"),
        (_base(type="free_product", sku="A", quantity=0), "benefit.quantity"),
        (_base(type="free_product"), "benefit.sku"),
        (_base(type="charity_donation", amount="1.00", currency="EUR"), "benefit.charity"),
        (_base(type="early_access", access="x", colour="red"), "benefit.colour"),
        ({**_base(type="free_shipping"), "limits": [{"period": "decade"}]}, "limits[0].period"),
        (
            {**_base(type="free_shipping"), "limits": [{"period": "day", "max_redemptions": 0}]},
            "limits[0].max_redemptions",
        ),
        (
            {
                **_base(type="free_shipping"),
                "limits": [
                    {"period": "day", "max_redemptions": 1},
                    {"period": "day", "max_redemptions": 2},
                ],
            },
            "limits[1]",
        ),
        ({**_base(type="free_shipping"), "visibility": {"tiers": []}}, "visibility.tiers"),
        ({**_base(type="free_shipping"), "visibility": {"tier": ["a"]}}, "visibility.tier"),
        ({**_base(type="free_shipping"), "code_valid_days": 0}, "code_valid_days"),
        ({**_base(type="physical_gift", sku="MUG"), "code_valid_days": 30}, "code_valid_days"),
        (
            {**_base(type="store_credit", amount="1", currency="EUR"), "promotion_id": "p"},
            "promotion_id",
        ),
        ({**_base(type="free_shipping"), "active_from": "2026-03-01T00:00:00"}, "active_from"),
        (
            {
                **_base(type="free_shipping"),
                "active_from": "2026-03-02T00:00:00+00:00",
                "active_until": "2026-03-01T00:00:00+00:00",
            },
            "active_until",
        ),
        ({**_base(type="free_shipping"), "colour": "red"}, "colour"),
    ],
)
def test_bad_reward_data_names_the_field_at_fault(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidReward) as caught:
        Reward.from_dict(data)

    assert caught.value.field == field
    assert caught.value.code is ErrorCode.VALIDATION_FAILED
    assert caught.value.data["reason"] == "invalid_reward"
    assert isinstance(caught.value, ValidationFailed)


def test_a_reward_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidReward):
        Reward.from_dict(["not", "an", "object"])
