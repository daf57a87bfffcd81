"""Small builders for rule-engine tests: rules from dicts, orders and inputs with defaults."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.program import Program
from loyalty.domain.rules import (
    EarningInput,
    EarningResult,
    EarningRule,
    MemberFacts,
    OrderFacts,
    RuleEvent,
    TierFacts,
    Usage,
    UsageKey,
    evaluate_rules,
)

D = Decimal
WARSAW = ZoneInfo("Europe/Warsaw")
PROGRAM = Program(currency="PLN")
# A Wednesday, 12:00 in Warsaw (UTC+1 in winter).
NOW = datetime(2026, 1, 14, 11, 0, tzinfo=UTC)


def rule(rule_id: str = "r1", **data: Any) -> EarningRule:
    body: dict[str, Any] = {"id": rule_id, "name": f"rule {rule_id}", "trigger": "order.paid"}
    body.update(data)
    return EarningRule.from_dict(body)


def line(
    sku: str,
    price: str,
    quantity: int = 1,
    *,
    category: str | None = None,
    product_id: str | None = None,
) -> OrderLine:
    return OrderLine(sku, quantity, D(price), product_id=product_id, category=category)


def paid_order(*lines: OrderLine, shipping: str = "0") -> PaidOrder:
    return PaidOrder("o-1", "PLN", tuple(lines), shipping=D(shipping))


DEFAULT_ORDER = paid_order(
    line("DOG-FOOD", "100.00", category="pets", product_id="p-1"),
    line("BALL", "20.00", 2, category="toys", product_id="p-2"),
)


def order_input(
    order: PaidOrder = DEFAULT_ORDER,
    *,
    now: datetime = NOW,
    program: Program = PROGRAM,
    tier: TierFacts | None = None,
    member: MemberFacts | None = None,
    usage: Mapping[UsageKey, Usage] | None = None,
    budgets_left: Mapping[str, int] | None = None,
    stamps: Mapping[str, int] | None = None,
    data: Mapping[str, Any] | None = None,
    brands: Mapping[str, str] | None = None,
    tz: ZoneInfo = WARSAW,
) -> EarningInput:
    return EarningInput(
        event=RuleEvent("order.paid", data or {}),
        now=now,
        timezone=tz,
        program=program,
        member=member or MemberFacts(),
        tier=tier or TierFacts(),
        order=OrderFacts.from_order(order, program, brands),
        usage=usage or {},
        budgets_left=budgets_left or {},
        stamps=stamps or {},
    )


def action_input(
    event_type: str,
    data: Mapping[str, Any] | None = None,
    *,
    now: datetime = NOW,
    member: MemberFacts | None = None,
    usage: Mapping[UsageKey, Usage] | None = None,
    budgets_left: Mapping[str, int] | None = None,
    stamps: Mapping[str, int] | None = None,
    tz: ZoneInfo = WARSAW,
) -> EarningInput:
    return EarningInput(
        event=RuleEvent(event_type, data or {}),
        now=now,
        timezone=tz,
        program=PROGRAM,
        member=member or MemberFacts(),
        usage=usage or {},
        budgets_left=budgets_left or {},
        stamps=stamps or {},
    )


def points_by_rule(result: EarningResult) -> dict[str, int]:
    return {o.rule_id: o.points for o in result.outcomes if o.applied}


def evaluate(rules: list[EarningRule], facts: EarningInput) -> EarningResult:
    return evaluate_rules(rules, facts)
