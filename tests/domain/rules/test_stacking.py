"""Stacking: priority, exclusive, stop processing, and multipliers combined once."""

from __future__ import annotations

from decimal import Decimal

from loyalty.domain.rules import Status, TierFacts, base_earning_rule

from .builders import evaluate, line, order_input, paid_order, points_by_rule, rule

BASE = {"kind": "points_per_currency"}


def fixed(points: int) -> dict[str, object]:
    return {"kind": "fixed_points", "points": points}


def test_rules_run_in_priority_order_then_by_id() -> None:
    rules = [
        rule("b", effect=fixed(1), priority=10),
        rule("a", effect=fixed(2), priority=10),
        rule("c", effect=fixed(3), priority=1),
    ]

    result = evaluate(rules, order_input())

    assert [o.rule_id for o in result.outcomes] == ["c", "a", "b"]
    assert result.points == 6


def test_stop_processing_skips_later_rules_only_when_it_applies() -> None:
    rules = [
        rule("first", effect=fixed(10), priority=1, stop_processing=True),
        rule("later", effect=fixed(20), priority=2),
    ]
    not_met = [
        rule("first", effect=fixed(10), priority=1, stop_processing=True, condition="false"),
        rule("later", effect=fixed(20), priority=2),
    ]

    stopped = evaluate(rules, order_input())
    ran_on = evaluate(not_met, order_input())

    assert points_by_rule(stopped) == {"first": 10}
    assert stopped.outcomes[1].status is Status.STOPPED
    assert "stops further rules" in stopped.outcomes[1].reason
    assert points_by_rule(ran_on) == {"later": 20}


def test_an_exclusive_rule_that_applies_is_the_only_one_that_earns() -> None:
    rules = [
        rule("early", effect=fixed(10), priority=1),
        rule("only", effect=fixed(99), priority=2, exclusive=True),
        rule("late", effect=fixed(30), priority=3),
    ]

    result = evaluate(rules, order_input())

    assert points_by_rule(result) == {"only": 99}
    assert {o.rule_id: o.status for o in result.outcomes} == {
        "early": Status.EXCLUDED,
        "only": Status.APPLIED,
        "late": Status.EXCLUDED,
    }


def test_an_exclusive_rule_that_does_not_apply_excludes_nothing() -> None:
    rules = [
        rule("early", effect=fixed(10), priority=1),
        rule("only", effect=fixed(99), priority=2, exclusive=True, condition="order.total > 1e6"),
    ]

    assert points_by_rule(evaluate(rules, order_input())) == {"early": 10}


def test_tier_and_campaign_multipliers_multiply_the_base_once() -> None:
    # given a gold member (x1.5) in a double points campaign and a x1.5 pets bonus
    rules = [
        base_earning_rule(),
        rule("double", effect={"kind": "multiplier", "factor": "2"}),
        rule(
            "pets",
            effect={"kind": "multiplier", "factor": "1.5", "lines": {"categories": ["pets"]}},
        ),
    ]
    gold = TierFacts("gold", Decimal("1.5"))

    result = evaluate(rules, order_input(tier=gold))

    # base 140 x 1.5 = 210; x2 adds 210; pets (100 x 1.5 x 2 = 300) x1.5 adds 150
    assert points_by_rule(result) == {"base": 210, "double": 210, "pets": 150}
    assert result.points == 570


def test_multipliers_apply_to_every_per_currency_rule_but_not_to_flat_points() -> None:
    rules = [
        base_earning_rule(),
        rule("pets", effect={"kind": "points_per_currency", "lines": {"categories": ["pets"]}}),
        rule("double", effect={"kind": "multiplier", "factor": "2"}),
        rule("flat", effect=fixed(7)),
    ]

    result = evaluate(rules, order_input())

    assert points_by_rule(result) == {"base": 140, "pets": 100, "double": 240, "flat": 7}


def test_a_multiplier_with_nothing_to_multiply_earns_nothing() -> None:
    result = evaluate([rule(effect={"kind": "multiplier", "factor": "3"})], order_input())

    assert result.points == 0
    assert result.outcomes[0].status is Status.NOTHING_TO_EARN


def test_rounding_happens_once_on_the_combined_total() -> None:
    # given two rules of half a point each: rounding each would give 10 + 10
    order = paid_order(line("A", "10.50"), line("B", "10.50"))
    rules = [
        rule("a", effect={"kind": "points_per_currency", "lines": {"skus": ["A"]}}),
        rule("b", effect={"kind": "points_per_currency", "lines": {"skus": ["B"]}}),
    ]

    result = evaluate(rules, order_input(order))

    # then the order earns floor(21.0) = 21, the spare point to the earlier rule
    assert points_by_rule(result) == {"a": 11, "b": 10}


def test_same_rules_in_any_order_give_the_same_result() -> None:
    rules = [
        base_earning_rule(),
        rule("double", effect={"kind": "multiplier", "factor": "2"}, priority=5),
        rule("flat", effect=fixed(7), priority=5),
        rule("cash", effect={"kind": "cashback", "percent": "1"}, priority=7),
    ]

    forward = evaluate(rules, order_input())
    backward = evaluate(list(reversed(rules)), order_input())

    assert forward.to_dict() == backward.to_dict()


def test_rules_for_other_triggers_are_not_evaluated() -> None:
    rules = [rule("signup", trigger="member.signed_up", effect=fixed(100)), base_earning_rule()]

    result = evaluate(rules, order_input())

    assert [o.rule_id for o in result.outcomes] == ["base"]


def test_inactive_rules_are_reported_and_skipped() -> None:
    result = evaluate([rule(effect=fixed(5), active=False)], order_input())

    assert result.outcomes[0].status is Status.INACTIVE
    assert result.points == 0
