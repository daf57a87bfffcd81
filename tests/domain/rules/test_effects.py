"""Every effect kind: what it gives on which lines."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.domain.errors import InvalidRule
from loyalty.domain.money import Money
from loyalty.domain.program import Program
from loyalty.domain.rules import RewardGrant, StampChange, Status, TierFacts, base_earning_rule

from .builders import (
    D,
    action_input,
    evaluate,
    line,
    order_input,
    paid_order,
    points_by_rule,
    rule,
)

PER_CURRENCY = {"kind": "points_per_currency"}


def test_points_per_currency_on_all_lines_uses_the_programme_rate() -> None:
    # given an order of 100 (pets) + 2 x 20 (toys)
    rules = [rule(effect=PER_CURRENCY)]

    # when
    result = evaluate(rules, order_input())

    # then
    assert points_by_rule(result) == {"r1": 140}
    assert "1 point per PLN on 140.00 PLN (the order)" in result.outcomes[0].reason


def test_points_per_currency_counts_shipping_when_the_programme_does() -> None:
    # given a programme that earns on shipping
    order = paid_order(line("A", "40.00", category="pets"), shipping="10.00")
    program = Program(currency="PLN", exclude_shipping=False)

    counted = evaluate([rule(effect=PER_CURRENCY)], order_input(order, program=program))
    default = evaluate([rule(effect=PER_CURRENCY)], order_input(order))

    assert counted.points == 50
    assert default.points == 40


def test_points_per_currency_own_rate_and_multiplier() -> None:
    effect = {"kind": "points_per_currency", "rate": "2", "multiplier": "1.5"}

    result = evaluate([rule(effect=effect)], order_input())

    assert result.points == 420  # 140 x 2 x 1.5


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ({"categories": ["pets"]}, 100),
        ({"skus": ["BALL"]}, 40),
        ({"product_ids": ["p-2"]}, 40),
        ({"brands": ["acme"]}, 100),
        ({"categories": ["pets", "toys"]}, 140),
        ({"exclude": {"categories": ["pets"]}}, 40),
        ({"categories": ["garden"]}, 0),
    ],
)
def test_points_per_currency_on_matching_lines(lines: dict[str, object], expected: int) -> None:
    # given DOG-FOOD is an acme product
    effect = {"kind": "points_per_currency", "lines": lines}

    result = evaluate([rule(effect=effect)], order_input(brands={"DOG-FOOD": "acme"}))

    assert result.points == expected


def test_matching_lines_never_earn_on_shipping() -> None:
    order = paid_order(line("A", "40.00", category="pets"), shipping="10.00")
    effect = {"kind": "points_per_currency", "lines": {"categories": ["pets"]}}
    program = Program(currency="PLN", exclude_shipping=False)

    result = evaluate([rule(effect=effect)], order_input(order, program=program))

    assert result.points == 40


def test_no_matching_line_is_reported_as_nothing_to_earn() -> None:
    effect = {"kind": "points_per_currency", "lines": {"categories": ["garden"]}}

    outcome = evaluate([rule(effect=effect)], order_input()).outcomes[0]

    assert outcome.status is Status.NOTHING_TO_EARN
    assert "no lines with category garden" in outcome.reason


def test_fixed_points_per_order() -> None:
    result = evaluate([rule(effect={"kind": "fixed_points", "points": 50})], order_input())

    assert points_by_rule(result) == {"r1": 50}


def test_fixed_bonus_on_an_action_event() -> None:
    bonus = rule(trigger="review.approved", effect={"kind": "fixed_points", "points": 25})

    result = evaluate([bonus], action_input("review.approved"))

    assert points_by_rule(result) == {"r1": 25}


def test_points_per_matching_unit() -> None:
    effect = {"kind": "points_per_item", "points": 5, "lines": {"categories": ["toys"]}}

    result = evaluate([rule(effect=effect)], order_input())

    assert result.points == 10  # two balls
    assert "5 points x 2 items" in result.outcomes[0].reason


def test_points_per_unit_on_all_lines() -> None:
    result = evaluate([rule(effect={"kind": "points_per_item", "points": 3})], order_input())

    assert result.points == 9


def test_cashback_percent_of_the_order() -> None:
    result = evaluate([rule(effect={"kind": "cashback", "percent": "2.5"})], order_input())

    assert result.cashback == Money(D("3.50"), "PLN")
    assert result.points == 0
    assert result.outcomes[0].status is Status.APPLIED


def test_cashback_on_matching_lines_capped_per_event() -> None:
    effect = {"kind": "cashback", "percent": "10", "lines": {"skus": ["DOG-FOOD"]}}
    capped = {**effect, "max_amount": "4"}

    uncapped_result = evaluate([rule(effect=effect)], order_input())
    capped_result = evaluate([rule(effect=capped)], order_input())

    assert uncapped_result.cashback == Money(D("10.00"), "PLN")
    assert capped_result.cashback == Money(D("4.00"), "PLN")


def test_cashback_rounds_half_up_to_the_minor_unit() -> None:
    order = paid_order(line("A", "0.30"))

    result = evaluate([rule(effect={"kind": "cashback", "percent": "5"})], order_input(order))

    assert result.cashback == Money(D("0.02"), "PLN")  # 0.015 -> 0.02


def test_cashback_that_rounds_to_nothing_does_not_apply() -> None:
    order = paid_order(line("A", "0.05"))

    result = evaluate([rule(effect={"kind": "cashback", "percent": "1"})], order_input(order))

    assert result.cashback is None
    assert result.outcomes[0].status is Status.NOTHING_TO_EARN


def test_stamp_card_grants_points_on_every_nth_purchase() -> None:
    card = rule(effect={"kind": "stamp_card", "every": 3, "points": 30})

    second = evaluate([card], order_input(stamps={"r1": 1}))
    third = evaluate([card], order_input(stamps={"r1": 2}))

    assert second.points == 0
    assert second.stamps == {"r1": StampChange(1, 2, 0)}
    assert third.points == 30
    assert third.stamps == {"r1": StampChange(2, 0, 1)}


def test_stamp_card_grants_a_reward() -> None:
    card = rule(effect={"kind": "stamp_card", "every": 2, "reward_id": "free-coffee"})

    result = evaluate([card], order_input(stamps={"r1": 1}))

    assert result.rewards == (RewardGrant("free-coffee", 1),)
    assert "reward free-coffee" in result.outcomes[0].reason


def test_stamp_card_per_item_counts_matching_units() -> None:
    effect = {
        "kind": "stamp_card",
        "every": 2,
        "points": 10,
        "per": "item",
        "lines": {"categories": ["toys"]},
    }

    result = evaluate([rule(effect=effect)], order_input(stamps={"r1": 1}))

    assert result.stamps == {"r1": StampChange(1, 1, 1)}  # 1 + 2 = 3 -> one card, 1 left
    assert result.points == 10


def test_stamp_card_per_order_needs_a_matching_line_when_filtered() -> None:
    effect = {"kind": "stamp_card", "every": 2, "points": 10, "lines": {"skus": ["NONE"]}}

    result = evaluate([rule(effect=effect)], order_input())

    assert result.stamps == {}
    assert result.outcomes[0].status is Status.NOTHING_TO_EARN


def test_base_earning_rule_is_the_programme_rate_on_the_whole_base() -> None:
    result = evaluate([base_earning_rule()], order_input())

    assert points_by_rule(result) == {"base": 140}


def test_effects_that_read_lines_are_refused_on_action_events() -> None:
    with pytest.raises(InvalidRule) as error:
        rule(trigger="social.shared", effect={"kind": "cashback", "percent": "1"})

    assert error.value.field == "effect.kind"


@pytest.mark.parametrize(
    ("effect", "field"),
    [
        ({"kind": "bogus"}, "effect.kind"),
        ({"kind": "fixed_points"}, "effect.points"),
        ({"kind": "fixed_points", "points": 0}, "effect.points"),
        ({"kind": "fixed_points", "points": 5, "extra": 1}, "effect.extra"),
        ({"kind": "points_per_currency", "rate": "-1"}, "effect.rate"),
        ({"kind": "points_per_currency", "rate": "abc"}, "effect.rate"),
        ({"kind": "cashback", "percent": "150"}, "effect.percent"),
        ({"kind": "multiplier", "factor": "0.5"}, "effect.factor"),
        ({"kind": "stamp_card", "every": 3}, "effect.reward_id"),
        ({"kind": "stamp_card", "every": 3, "points": 1, "per": "x"}, "effect.per"),
        ({"kind": "points_per_item", "points": 1, "lines": {"skus": "A"}}, "effect.lines.skus"),
        ({"kind": "points_per_item", "points": 1, "lines": {"sku": ["A"]}}, "effect.lines.sku"),
    ],
)
def test_malformed_effects_name_the_field(effect: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRule) as error:
        rule(effect=effect)

    assert error.value.field == field


def test_rule_round_trips_through_its_dict() -> None:
    original = rule(
        effect={"kind": "cashback", "percent": "2", "lines": {"categories": ["pets"]}},
        condition="order.total > 10.0",
        limits={"per_member": [{"period": "day", "max_times": 1}], "budget_points": 100},
        schedule={"days_of_week": ["sat", "sun"], "hours": [{"from": "18:00", "to": "24:00"}]},
        priority=5,
        exclusive=True,
    )

    again = type(original).from_dict(original.to_dict())

    assert again == original


def test_revised_rule_is_the_next_version() -> None:
    original = rule(effect={"kind": "fixed_points", "points": 5})

    revised = original.revised(name="bigger")

    assert (revised.version, revised.name, revised.id) == (2, "bigger", "r1")


def test_tier_multiplier_does_not_touch_flat_points() -> None:
    rules = [rule(effect={"kind": "fixed_points", "points": 50})]

    result = evaluate(rules, order_input(tier=TierFacts("gold", Decimal(2))))

    assert result.points == 50
