"""Reading and validating tier ladders and benefits: data in, typed values or a precise error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from loyalty.domain.errors import UnknownCurrency
from loyalty.domain.tiers.benefits import Benefits, BirthdayGift, Perk, merge_benefits
from loyalty.domain.tiers.errors import InvalidTierSettings, UnknownTier
from loyalty.domain.tiers.ladder import Metric, TierLadder
from tests.domain.tiers.builders import ladder

LEVELS = [{"id": "silver", "name": "Silver", "threshold": 100}]


def _error(data: dict[str, Any]) -> InvalidTierSettings:
    with pytest.raises(InvalidTierSettings) as caught:
        TierLadder.from_dict(data)
    return caught.value


def test_ladder_round_trips_through_its_dict() -> None:
    # given
    data = {
        "metric": "amount_spent",
        "currency": "PLN",
        "window": {"kind": "rolling_days", "days": 365},
        "review": {"kind": "months_after_reached", "months": 12, "grace_days": 30},
        "levels": [
            {"id": "silver", "name": "Silver", "threshold": "0"},
            {
                "id": "gold",
                "name": "Gold",
                "threshold": "1000.50",
                "benefits": {
                    "earn_multiplier": "1.5",
                    "free_shipping": True,
                    "birthday_gift": {"points": 200},
                    "exclusive_rewards": True,
                    "early_access_days": 3,
                    "perks": {"priority_support": "Phone line", "free_returns": ""},
                },
            },
        ],
    }

    # when
    parsed = TierLadder.from_dict(data)

    # then
    assert parsed.metric is Metric.AMOUNT_SPENT
    assert parsed.level("gold").threshold == Decimal("1000.50")
    assert parsed.level("gold").benefits.earn_multiplier == Decimal("1.5")
    assert [p.name for p in parsed.level("gold").benefits.perks] == [
        "free_returns",
        "priority_support",
    ]
    assert TierLadder.from_dict(parsed.to_dict()) == parsed
    assert parsed.to_dict()["levels"][1]["threshold"] == "1000.50"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"metric": "visits", "window": {"kind": "lifetime"}, "levels": LEVELS}, "metric"),
        ({"metric": "orders", "window": {"kind": "weekly"}, "levels": LEVELS}, "window.kind"),
        ({"metric": "orders", "window": {"kind": "rolling_days"}, "levels": LEVELS}, "window.days"),
        (
            {"metric": "orders", "window": {"kind": "rolling_days", "days": 0}, "levels": LEVELS},
            "window.days",
        ),
        (
            {"metric": "orders", "window": {"kind": "lifetime", "days": 3}, "levels": LEVELS},
            "window.days",
        ),
        ({"metric": "orders", "window": {"kind": "lifetime"}, "levels": []}, "levels"),
        ({"metric": "amount_spent", "window": {"kind": "lifetime"}, "levels": LEVELS}, "currency"),
        (
            {
                "metric": "orders",
                "currency": "PLN",
                "window": {"kind": "lifetime"},
                "levels": LEVELS,
            },
            "currency",
        ),
        (
            {
                "metric": "orders",
                "window": {"kind": "lifetime"},
                "levels": [*LEVELS, {"id": "gold", "name": "Gold", "threshold": 100}],
            },
            "levels[1].threshold",
        ),
        (
            {
                "metric": "orders",
                "window": {"kind": "lifetime"},
                "levels": [*LEVELS, {"id": "silver", "name": "Again", "threshold": 200}],
            },
            "levels[1].id",
        ),
        (
            {
                "metric": "orders",
                "window": {"kind": "lifetime"},
                "levels": [{"id": "s", "name": "S", "threshold": "1.5"}],
            },
            "levels[0].threshold",
        ),
        (
            {
                "metric": "amount_spent",
                "currency": "PLN",
                "window": {"kind": "lifetime"},
                "levels": [{"id": "s", "name": "S", "threshold": "1.505"}],
            },
            "levels[0].threshold",
        ),
        (
            {
                "metric": "orders",
                "window": {"kind": "lifetime"},
                "levels": [{"id": "s", "name": "S", "threshold": 1, "benefits": {"x": 1}}],
            },
            "levels[0].benefits.x",
        ),
        (
            {
                "metric": "orders",
                "window": {"kind": "lifetime"},
                "levels": [
                    {"id": "s", "name": "S", "threshold": 1, "benefits": {"earn_multiplier": "0"}}
                ],
            },
            "levels[0].benefits.earn_multiplier",
        ),
        (
            {
                "metric": "orders",
                "window": {"kind": "lifetime"},
                "levels": [
                    {
                        "id": "s",
                        "name": "S",
                        "threshold": 1,
                        "benefits": {"birthday_gift": {"points": 5, "reward_id": "mug"}},
                    }
                ],
            },
            "levels[0].benefits.birthday_gift.reward_id",
        ),
        (
            {
                "metric": "orders",
                "window": {"kind": "lifetime"},
                "review": {"kind": "months_after_reached"},
                "levels": LEVELS,
            },
            "review.months",
        ),
        (
            {
                "metric": "orders",
                "window": {"kind": "lifetime"},
                "review": {"grace_days": 400},
                "levels": LEVELS,
            },
            "review.grace_days",
        ),
    ],
)
def test_bad_ladder_names_the_field(data: dict[str, Any], field: str) -> None:
    assert _error(data).field == field


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency):
        ladder("amount_spent", currency="XXX", thresholds=("10",))


def test_levels_rank_and_qualify() -> None:
    tiers = ladder()

    assert tiers.rank(None) == -1
    assert tiers.rank("platinum") == 2
    assert tiers.qualifying(Decimal(99)) is None
    assert tiers.qualifying(Decimal(500)).id == "gold"  # type: ignore[union-attr]
    assert tiers.above("gold").id == "platinum"  # type: ignore[union-attr]
    assert tiers.above("platinum") is None
    with pytest.raises(UnknownTier):
        tiers.level("bronze")


def test_revised_ladder_has_the_next_version() -> None:
    assert ladder().revised().version == 2


def test_review_keeps_null_max_levels_down_as_no_limit() -> None:
    tiers = ladder(review={"max_levels_down": None})

    assert tiers.review.max_levels_down is None
    assert ladder().review.max_levels_down == 1


def test_benefits_merge_multiplies_and_ors_and_keeps_every_gift() -> None:
    # given
    tier = Benefits(
        earn_multiplier=Decimal("1.5"),
        birthday_gift=BirthdayGift(points=100),
        early_access_days=2,
        perks=(Perk("lounge", "tier lounge"),),
    )
    plan = Benefits(
        earn_multiplier=Decimal("1.2"),
        free_shipping=True,
        birthday_gift=BirthdayGift(reward_id="cake"),
        early_access_days=5,
        perks=(Perk("lounge", "plan lounge"), Perk("concierge")),
    )

    # when
    merged = merge_benefits([tier, plan])

    # then
    assert merged.earn_multiplier == Decimal("1.80")
    assert merged.free_shipping and not merged.exclusive_rewards
    assert merged.early_access_days == 5 and merged.early_access
    assert merged.birthday_gifts == (BirthdayGift(points=100), BirthdayGift(reward_id="cake"))
    assert [(p.name, p.description) for p in merged.perks] == [
        ("concierge", ""),
        ("lounge", "tier lounge"),
    ]


def test_no_sources_means_no_benefits() -> None:
    merged = merge_benefits([])

    assert merged.earn_multiplier == 1
    assert merged.to_dict()["birthday_gifts"] == []
