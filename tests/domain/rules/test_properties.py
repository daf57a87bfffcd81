"""Property: evaluating the same event twice gives the same effects, whatever the rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.rules import EarningRule, RuleSet, TierFacts, evaluate_rules

from .builders import line, order_input, paid_order

CATEGORIES = ("pets", "toys", "food")
SKUS = ("A", "B", "C", "D")

lines_filters = st.one_of(
    st.none(),
    st.fixed_dictionaries({"categories": st.lists(st.sampled_from(CATEGORIES), min_size=1)}),
    st.fixed_dictionaries({"skus": st.lists(st.sampled_from(SKUS), min_size=1)}),
)
effects = st.one_of(
    st.builds(
        lambda rate, lines: {"kind": "points_per_currency", "rate": rate, "lines": lines},
        st.sampled_from(["0.5", "1", "2.5"]),
        lines_filters,
    ),
    st.builds(
        lambda f, lines: {"kind": "multiplier", "factor": f, "lines": lines},
        st.sampled_from(["1", "1.5", "2", "3"]),
        lines_filters,
    ),
    st.builds(lambda p: {"kind": "fixed_points", "points": p}, st.integers(1, 500)),
    st.builds(
        lambda p, lines: {"kind": "points_per_item", "points": p, "lines": lines},
        st.integers(1, 20),
        lines_filters,
    ),
    st.builds(
        lambda pct, lines: {"kind": "cashback", "percent": pct, "lines": lines},
        st.sampled_from(["0.5", "2", "10"]),
        lines_filters,
    ),
    st.builds(
        lambda every, points: {"kind": "stamp_card", "every": every, "points": points},
        st.integers(1, 5),
        st.integers(1, 50),
    ),
)
conditions = st.sampled_from(
    ["", "order.total > 50.0", '"pets" in order.categories', "event.data.x == 1", "true"]
)
limits = st.one_of(
    st.none(),
    st.builds(
        lambda period, cap: {"per_member": [{"period": period, "max_points": cap}]},
        st.sampled_from(["day", "week", "month", "year", "lifetime"]),
        st.integers(1, 300),
    ),
    st.builds(lambda budget: {"budget_points": budget}, st.integers(1, 1000)),
)


@st.composite
def rules(draw: st.DrawFn) -> list[EarningRule]:
    count = draw(st.integers(1, 6))
    out = []
    for index in range(count):
        data: dict[str, Any] = {
            "id": f"r{index}",
            "name": f"rule {index}",
            "trigger": "order.paid",
            "effect": draw(effects),
            "condition": draw(conditions),
            "priority": draw(st.integers(0, 3)),
            "exclusive": draw(st.booleans()) and draw(st.booleans()),
            "stop_processing": draw(st.booleans()) and draw(st.booleans()),
        }
        limit = draw(limits)
        if limit is not None:
            data["limits"] = limit
        out.append(EarningRule.from_dict(data))
    return out


orders = st.lists(
    st.tuples(
        st.sampled_from(SKUS),
        st.decimals(Decimal("0.01"), Decimal("300"), places=2),
        st.integers(1, 4),
        st.sampled_from(CATEGORIES),
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(
    rules(),
    orders,
    st.integers(0, 60 * 24 * 365),
    st.sampled_from(["1", "1.25", "2"]),
    st.integers(0, 10),
)
def test_the_same_event_twice_gives_the_same_effects(
    rule_list: list[EarningRule],
    items: list[tuple[str, Decimal, int, str]],
    minutes: int,
    tier: str,
    stamps: int,
) -> None:
    # given
    order = paid_order(*(line(s, str(p), q, category=c) for s, p, q, c in items))
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    facts = order_input(
        order,
        now=now,
        tier=TierFacts("t", Decimal(tier)),
        stamps={rule.id: stamps for rule in rule_list},
    )

    # when
    first = evaluate_rules(RuleSet(rule_list), facts)
    second = evaluate_rules(RuleSet(rule_list), facts)
    shuffled = evaluate_rules(list(reversed(rule_list)), facts)

    # then
    assert first.to_dict() == second.to_dict() == shuffled.to_dict()
    assert first.usage == second.usage
    assert first.budgets_spent == second.budgets_spent
    assert all(outcome.points >= 0 for outcome in first.outcomes)
