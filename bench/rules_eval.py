"""Earning rules: evaluation cost per order with 50 active rules, in-process.

    .venv/bin/python -m bench.rules_eval [--orders 5000] [--rules 50]

Fifty ``order.paid`` rules of every effect kind, with CEL conditions (comparisons, ``in``,
``exists`` over lines), schedules and limits, evaluated against orders of five lines. The
rule set is built once (as a service caches it per tenant); each order builds its
``OrderFacts`` and ``EarningInput`` and calls ``evaluate_rules``. Target: < 200 µs per order.

Times are CPU time of the process (the machine is shared, wall time swings with the load).
The same run measures, for comparison, the engine with every condition run by the CEL library
(``RuleSet(fast_conditions=False)``: no Python fast path), and the CEL library alone, handed
every variable any condition reads and running every condition once (no engine work at all);
the ratio to the latter stays comparable between runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.program import Program
from loyalty.domain.rules import (
    EarningInput,
    EarningRule,
    MemberFacts,
    OrderFacts,
    RuleEvent,
    RuleSet,
    TierFacts,
    Usage,
    _cel,
    evaluate_rules,
    usage_keys,
)
from loyalty.domain.rules.activation import build_activation

WARSAW = ZoneInfo("Europe/Warsaw")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROGRAM = Program(currency="PLN")
CATEGORIES = ("pets", "food", "toys", "garden", "books", "home", "beauty", "sport")


def rule_data(index: int) -> dict[str, Any]:
    """One of fifty varied rules; the mix covers every effect kind."""
    kind = index % 10
    cat = CATEGORIES[index % len(CATEGORIES)]
    rule: dict[str, Any] = {
        "id": f"r{index:02d}",
        "name": f"rule {index}",
        "trigger": "order.paid",
        "priority": index,
    }
    if kind in (0, 1):
        rule["effect"] = {
            "kind": "points_per_currency",
            "rate": "1",
            "lines": {"categories": [cat]},
        }
        rule["condition"] = f'"{cat}" in order.categories'
    elif kind in (2, 3):
        rule["effect"] = {"kind": "multiplier", "factor": "2", "lines": {"categories": [cat]}}
        rule["condition"] = f'order.total >= {50 + index} && member.tier == "gold"'
        rule["schedule"] = {"days_of_week": ["mon", "tue", "sat", "sun"]}
    elif kind == 4:
        rule["effect"] = {"kind": "fixed_points", "points": 10 + index}
        rule["condition"] = "order.total >= 100.0 && member.orders_count > 2"
        rule["limits"] = {"per_member": [{"period": "day", "max_times": 1}]}
    elif kind == 5:
        rule["effect"] = {"kind": "points_per_item", "points": 5, "lines": {"skus": [f"S{index}"]}}
        rule["condition"] = f'"S{index}" in order.skus'
    elif kind == 6:
        rule["effect"] = {"kind": "cashback", "percent": "2.5", "max_amount": "20"}
        rule["condition"] = "order.item_count >= 3 && tier.multiplier >= 1.0"
    elif kind == 7:
        rule["effect"] = {"kind": "stamp_card", "every": 10, "reward_id": f"gift-{index}"}
        rule["condition"] = f'order.lines.exists(l, l.category == "{cat}" && l.quantity >= 2)'
    elif kind == 8:
        rule["effect"] = {"kind": "points_per_currency", "rate": "0.5"}
        rule["condition"] = "now.getHours() >= 8 && member.days_since_signup < 365"
        rule["limits"] = {"per_member": [{"period": "month", "max_points": 500}]}
    else:
        rule["effect"] = {"kind": "fixed_points", "points": 25}
        rule["condition"] = 'has(event.data.coupon) && event.data.coupon == "SPRING"'
    return rule


def order(index: int) -> PaidOrder:
    lines = tuple(
        OrderLine(
            sku=f"S{(index + n * 7) % 50}",
            quantity=1 + (index + n) % 3,
            unit_price=Decimal(10 + (index * 13 + n * 17) % 90) + Decimal("0.99"),
            category=CATEGORIES[(index + n) % len(CATEGORIES)],
        )
        for n in range(5)
    )
    return PaidOrder(f"o{index}", "PLN", lines, shipping=Decimal("9.99"))


def facts_for(index: int, rule_set: RuleSet) -> EarningInput:
    now = START + timedelta(minutes=37 * index)
    keys = usage_keys(rule_set, "order.paid", now, WARSAW)
    return EarningInput(
        event=RuleEvent("order.paid", {"coupon": "SPRING"} if index % 4 == 0 else {}),
        now=now,
        timezone=WARSAW,
        program=PROGRAM,
        member=MemberFacts(tier="gold", orders_count=index % 7, days_since_signup=100),
        tier=TierFacts("gold", Decimal("1.5")),
        order=OrderFacts.from_order(order(index), PROGRAM),
        usage={key: Usage(points=index % 300, times=0) for key in keys},
    )


def measure(n_orders: int, n_rules: int) -> dict[str, object]:
    rule_set = RuleSet(EarningRule.from_dict(rule_data(i)) for i in range(n_rules))
    inputs = [facts_for(i, rule_set) for i in range(n_orders)]
    for facts in inputs[:200]:  # warm up
        evaluate_rules(rule_set, facts)
    rounds = [_per_order(lambda f: evaluate_rules(rule_set, f), inputs) for _ in range(5)]
    per_order = statistics.median(rounds)
    explained = _per_order(
        lambda f: [o.reason for o in evaluate_rules(rule_set, f).outcomes], inputs
    )
    with_facts = _per_order(lambda f: evaluate_rules(rule_set, facts_for(3, rule_set)), inputs)
    in_library = RuleSet(rule_set.for_trigger("order.paid"), fast_conditions=False)
    library_conditions = _per_order(lambda f: evaluate_rules(in_library, f), inputs)
    ceiling = statistics.median(_per_order(_library_only(rule_set), inputs) for _ in range(3))
    statuses = Counter(o.status.value for f in inputs for o in evaluate_rules(rule_set, f).outcomes)
    return {
        "rules": n_rules,
        "orders": n_orders,
        "cpu_us_per_order": round(per_order, 1),
        "cpu_us_per_order_rounds": [round(r, 1) for r in rounds],
        "cpu_us_per_order_with_reasons_rendered": round(explained, 1),
        "cpu_us_per_order_with_input_building": round(with_facts, 1),
        "cpu_us_per_order_every_condition_in_the_library": round(library_conditions, 1),
        "ceiling_library_only_cpu_us_per_order": round(ceiling, 1),
        "ratio_to_ceiling": round(per_order / ceiling, 2),
        "target_us_per_order": 200,
        "meets_target": per_order < 200,
        "outcomes_per_order": {k: round(v / n_orders, 1) for k, v in sorted(statuses.items())},
    }


def _per_order(work: Callable[[EarningInput], object], inputs: list[EarningInput]) -> float:
    """CPU time of this process (not wall time: the machine is shared), µs per order."""
    started = time.process_time()
    for facts in inputs:
        work(facts)
    return (time.process_time() - started) / len(inputs) * 1e6


def _library_only(rule_set: RuleSet) -> Callable[[EarningInput], object]:
    """The floor the CEL library sets: hand it every variable any condition reads, then run
    every condition once. No engine work at all."""
    conditions = rule_set.lane("order.paid").conditions
    needs = frozenset(path for condition in conditions for path in condition.needs)
    programs = [c.program for c in conditions if c.program is not None]

    def work(facts: EarningInput) -> object:
        bound = build_activation(needs, facts)
        return [_cel.run(program, bound) for program in programs]

    return work


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--rules", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(measure(args.orders, args.rules), indent=2))


if __name__ == "__main__":
    main()
