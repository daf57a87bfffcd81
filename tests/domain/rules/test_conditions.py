"""CEL conditions: compiled once, checked against the schema, failures skip the rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from loyalty.domain.errors import (
    InvalidCondition,
    UnknownConditionField,
    UnknownConditionFunction,
)
from loyalty.domain.rules import MemberFacts, Status, compile_condition, variables_for

from .builders import action_input, evaluate, order_input, rule

FIFTY = {"kind": "fixed_points", "points": 50}


def applies(condition: str, **facts: object) -> bool:
    outcome = evaluate([rule(effect=FIFTY, condition=condition)], order_input(**facts)).outcomes[0]  # type: ignore[arg-type]
    assert outcome.status in (Status.APPLIED, Status.CONDITION_NOT_MET), outcome.reason
    return outcome.applied


def test_the_issue_example() -> None:
    condition = 'order.total >= 100 && "pets" in order.categories'

    assert applies(condition)
    assert not applies('order.total >= 200 && "pets" in order.categories')


@pytest.mark.parametrize(
    "condition",
    [
        'order.lines.exists(l, l.sku == "BALL" && l.quantity >= 2)',
        "order.lines.all(l, l.net > 0.0)",
        "order.item_count == 3",
        'size(order.skus) == 2 && "DOG-FOOD" in order.skus',
        'member.tier == "gold" && tier.multiplier >= 1.5',
        "member.orders_count > 3 && member.days_since_signup < 30",
        'member.birthday.startsWith("1990-")',
        "now.getDayOfWeek() == 3 && now.getHours() == 12",
        '"vip" in segments',
        'has(event.data.coupon) && event.data.coupon == "SPRING"',
        'event.type == "order.paid" && order.currency == "PLN"',
    ],
)
def test_conditions_read_the_declared_variables(condition: str) -> None:
    from decimal import Decimal

    from loyalty.domain.rules import EarningInput, TierFacts

    facts = order_input(
        member=MemberFacts(
            tier="gold", orders_count=5, days_since_signup=10, birthday=date(1990, 5, 1)
        ),
        tier=TierFacts("gold", Decimal("1.5")),
        data={"coupon": "SPRING"},
    )
    facts = EarningInput(**{**_fields(facts), "segments": frozenset({"vip"})})
    outcome = evaluate([rule(effect=FIFTY, condition=condition)], facts).outcomes[0]

    assert outcome.status is Status.APPLIED, outcome.reason


def _fields(facts: object) -> dict[str, object]:
    return {name: getattr(facts, name) for name in facts.__slots__}  # type: ignore[attr-defined]


def test_now_is_in_the_tenant_time_zone() -> None:
    # 11:00 UTC is 12:00 in Warsaw in January
    assert applies("now.getHours() == 12", now=datetime(2026, 1, 14, 11, 0, tzinfo=UTC))


def test_syntax_error_says_where() -> None:
    with pytest.raises(InvalidCondition) as error:
        compile_condition("order.total >=\n  && true")

    assert error.value.field == "condition"
    assert error.value.data["line"] == 2
    assert error.value.data["column"] == 3
    assert "line 2, column 3" in error.value.detail


def test_unknown_field_says_where_and_suggests() -> None:
    with pytest.raises(UnknownConditionField) as error:
        compile_condition("order.total >= 10.0 &&\n  order.totl > 1.0")

    assert error.value.data == {"line": 2, "column": 9, "path": "order.totl"}
    assert "did you mean 'total'" in error.value.detail


def test_unknown_variable_lists_the_known_ones() -> None:
    with pytest.raises(UnknownConditionField) as error:
        compile_condition('membr.tier == "gold"')

    assert error.value.data["column"] == 1
    assert "did you mean 'member'" in error.value.detail


def test_unknown_field_of_a_comprehension_variable() -> None:
    with pytest.raises(UnknownConditionField) as error:
        compile_condition('order.lines.exists(l, l.skuu == "A")')

    assert error.value.data["path"] == "l.skuu"
    assert error.value.data["column"] == 25


def test_field_of_a_scalar_is_refused() -> None:
    with pytest.raises(UnknownConditionField) as error:
        compile_condition("order.total.amount > 1.0")

    assert "is a number and has no field 'amount'" in error.value.detail


def test_unknown_function_is_refused() -> None:
    with pytest.raises(UnknownConditionFunction) as error:
        compile_condition("lookup(order.id)")

    assert error.value.data["name"] == "lookup"


def test_order_is_only_known_to_order_rules() -> None:
    with pytest.raises(UnknownConditionField) as error:
        compile_condition("order.total > 1.0", "review.approved")

    assert "only available in rules on order.paid" in error.value.detail
    assert "order" not in variables_for("review.approved")


def test_event_data_fields_are_not_checked() -> None:
    assert compile_condition("event.data.anything.deep == 1", "custom.quiz").needs


def test_a_rule_with_a_bad_condition_cannot_be_built() -> None:
    with pytest.raises(InvalidCondition):
        rule(effect=FIFTY, condition="order.total >")


def test_runtime_failure_is_recorded_and_the_rule_skipped() -> None:
    # given a condition reading a key the event does not carry
    rules = [
        rule("broken", effect=FIFTY, condition='event.data.coupon == "X"', priority=1),
        rule("fine", effect={"kind": "fixed_points", "points": 5}, priority=2),
    ]

    result = evaluate(rules, order_input())

    assert result.outcomes[0].status is Status.CONDITION_FAILED
    assert "condition failed, rule skipped" in result.outcomes[0].reason
    assert result.points == 5


def test_a_condition_that_is_not_a_boolean_fails() -> None:
    outcome = evaluate([rule(effect=FIFTY, condition="order.total")], order_input()).outcomes[0]

    assert outcome.status is Status.CONDITION_FAILED
    assert "not true or false" in outcome.reason


def test_division_by_zero_fails_the_rule_only() -> None:
    outcome = evaluate(
        [rule(effect=FIFTY, condition="member.orders_count / 0 > 1")], order_input()
    ).outcomes[0]

    assert outcome.status is Status.CONDITION_FAILED


def test_action_conditions_read_event_data() -> None:
    quiz = rule(
        trigger="survey.answered",
        effect=FIFTY,
        condition="has(event.data.score) && event.data.score >= 8",
    )

    high = evaluate([quiz], action_input("survey.answered", {"score": 9}))
    low = evaluate([quiz], action_input("survey.answered", {"score": 3}))

    assert high.points == 50
    assert low.points == 0


def test_compiled_conditions_are_cached_by_text() -> None:
    assert compile_condition("order.total > 2.0") is compile_condition("order.total > 2.0")
