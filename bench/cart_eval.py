"""Cart evaluation in process: 100 active promotions, 20-line carts, p50/p99 per evaluation.

    .venv/bin/python -m bench.cart_eval [--evaluations 5000] [--seed 7]

Times ``evaluate_cart`` alone (no HTTP, no database), on a seeded mix of promotions: order and
line percent/amount offers, fixed prices, buy-X-get-Y, free shipping, member-only and dated
offers, code offers (three codes entered per cart), exclusive and limited combinations. The
same run measures a floor (scanning every promotion's filters over every line, the least any
engine must do) and reports the ratio, since absolute numbers drift between machines. Also
reports parsing the 100 promotions from stored dicts and preparing them (``PromotionSet``:
evaluation order and the prefilter index), which services cache per tenant; the evaluations
use a prepared set, as checkout does.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from loyalty.domain.promotions import (
    Cart,
    CartLine,
    MemberFacts,
    Promotion,
    PromotionSet,
    UsageFacts,
    evaluate_cart,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CATEGORIES = [f"cat{i}" for i in range(30)]
ORDER_WIDE = {0, 1, 2, 4}  # families of order-wide offers; the rest are item or shipping offers
SKUS = [f"sku{i}" for i in range(200)]
CODES = [f"CODE{i}" for i in range(10)]
HTTP_BUDGET_MS = {"p50": 3.0, "p99": 15.0}


def promotion_data(rng: random.Random, index: int, stack_all: bool) -> dict[str, Any]:
    """One stored promotion; ``index`` picks its family so the mix is the same every run.

    Unless ``stack_all``, order-wide offers combine with item and shipping offers but not with
    each other, as most stores set them up.
    """
    family = index % 10
    data: dict[str, Any] = {
        "id": f"promo-{index:03d}",
        "version": 1,
        "name": f"Promotion {index}",
        "currency": "PLN",
        "priority": rng.randint(0, 20),
        "conditions": {},
    }
    conditions = data["conditions"]
    if family in (0, 1, 2):
        data["benefits"] = [{"type": "percent_off", "percent": str(rng.choice([5, 10, 15]))}]
        conditions["min_subtotal"] = f"{rng.randint(50, 900)}.00"
        conditions["exclude_categories"] = [rng.choice(CATEGORIES)]
    elif family == 3:
        data["benefits"] = [
            {"type": "percent_off", "percent": "20", "target": "matching", "cap": "40.00"}
        ]
        conditions["categories"] = rng.sample(CATEGORIES, 3)
    elif family == 4:
        data["benefits"] = [{"type": "amount_off", "amount": f"{rng.randint(5, 30)}.00"}]
        conditions["tiers"] = ["gold", "silver"]
        conditions["min_quantity"] = rng.randint(5, 30)
    elif family == 5:
        data["benefits"] = [{"type": "buy_x_get_y", "buy": 2, "get": 1}]
        conditions["categories"] = [rng.choice(CATEGORIES)]
    elif family == 6:
        data["benefits"] = [{"type": "fixed_price", "price": "9.99", "max_units": 2}]
        conditions["products"] = rng.sample(SKUS, 10)
    elif family == 7:
        data["benefits"] = [{"type": "free_shipping"}]
        conditions["min_subtotal"] = f"{rng.randint(100, 400)}.00"
    elif family == 8:
        data["trigger"] = "code"
        data["codes"] = [CODES[index // 10]]
        data["benefits"] = [
            {"type": "percent_off", "percent": "10"},
            {"type": "free_gift", "sku": "tote"},
        ]
        data["exclusive"] = index % 20 == 8
        conditions["segments"] = ["vip", "newsletter"]
    else:
        data["benefits"] = [{"type": "percent_off", "percent": "30"}]
        starts, ends = rng.choice([(-30, -1), (-30, 30), (5, 30)])  # ended, running, future
        conditions["starts_at"] = (NOW + timedelta(days=starts)).isoformat()
        conditions["ends_at"] = (NOW + timedelta(days=ends)).isoformat()
        conditions["first_order_only"] = True
    if family in ORDER_WIDE and not stack_all:
        data["combines_with"] = [f"promo-{i:03d}" for i in range(100) if i % 10 not in ORDER_WIDE]
    return data


def make_cart(rng: random.Random) -> Cart:
    lines = tuple(
        CartLine(
            sku=rng.choice(SKUS),
            quantity=rng.randint(1, 3),
            unit_price=Decimal(rng.randint(99, 19_999)) / 100,
            category=rng.choice(CATEGORIES),
        )
        for _ in range(20)
    )
    member = MemberFacts(
        tier=rng.choice(["gold", "silver", "bronze", None]),
        is_first_order=rng.random() < 0.2,
        segments=frozenset(rng.sample(["vip", "newsletter", "lapsed", "b2b"], 2)),
    )
    codes = (*rng.sample(CODES, 2), "NOT-A-CODE")
    return Cart("PLN", lines, Decimal("14.99"), member, codes)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def floor_scan(cart: Cart, promotions: list[Promotion]) -> int:
    """The least work: every promotion's line filters looked up for every line."""
    hits = 0
    for promotion in promotions:
        conditions = promotion.conditions
        for line in cart.lines:
            if line.category not in conditions.exclude_categories and (
                line.sku in conditions.products or line.category in conditions.categories
            ):
                hits += 1
    return hits


def timed_ms(action: Any, rounds: int) -> list[float]:
    samples = []
    for round_ in range(rounds):
        start = time.perf_counter_ns()
        action(round_)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def scenario(evaluations: int, seed: int, stack_all: bool) -> dict[str, Any]:
    rng = random.Random(seed)
    stored = [promotion_data(rng, index, stack_all) for index in range(100)]
    promotions = [Promotion.from_dict(data) for data in stored]
    usage = {p.id: UsageFacts(global_remaining=1000, member_remaining=1) for p in promotions}
    carts = [make_cart(rng) for _ in range(200)]
    prepared = PromotionSet(promotions)

    def evaluate(round_: int) -> None:
        evaluate_cart(carts[round_ % len(carts)], prepared, now=NOW, usage=usage)

    timed_ms(evaluate, 300)  # warm up
    samples = timed_ms(evaluate, evaluations)
    results = [evaluate_cart(cart, prepared, now=NOW, usage=usage) for cart in carts]
    p50, p99 = percentile(samples, 0.50), percentile(samples, 0.99)
    return {
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "applied_per_cart": round(statistics.fmean(len(r.applied) for r in results), 1),
        "rejected_per_cart": round(statistics.fmean(len(r.rejected) for r in results), 1),
        "share_of_http_budget": {
            "p50": round(p50 / HTTP_BUDGET_MS["p50"], 3),
            "p99": round(p99 / HTTP_BUDGET_MS["p99"], 3),
        },
    }


def run(evaluations: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    stored = [promotion_data(rng, index, False) for index in range(100)]
    parse = timed_ms(lambda _: [Promotion.from_dict(data) for data in stored], 50)
    promotions = [Promotion.from_dict(data) for data in stored]
    prepare = timed_ms(lambda _: PromotionSet(promotions), 50)
    carts = [make_cart(rng) for _ in range(200)]
    floor = timed_ms(lambda round_: floor_scan(carts[round_ % len(carts)], promotions), 2000)
    floor_p50 = percentile(floor, 0.5)
    typical = scenario(evaluations, seed, stack_all=False)
    stacking = scenario(evaluations, seed, stack_all=True)
    return {
        "promotions": 100,
        "lines_per_cart": 20,
        "evaluations": evaluations,
        "typical": typical,
        "everything_stacks": stacking,
        "floor_scan_p50_ms": round(floor_p50, 3),
        "typical_p50_to_floor": round(typical["p50_ms"] / floor_p50, 1),
        "parse_100_promotions_ms_p50": round(percentile(parse, 0.5), 3),
        "prepare_100_promotions_ms_p50": round(percentile(prepare, 0.5), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluations", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(args.evaluations, args.seed), indent=2))


if __name__ == "__main__":
    main()
