"""What the engine is told: the event, the member, the order, and the member's counters.

The engine reads nothing else. Services load these (usage counters, remaining budgets, stamp
counts, the tier) and pass them in with ``now`` and the tenant's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.orders import PaidOrder
from loyalty.domain.program import Program
from loyalty.domain.rules.limits import Usage, UsageKey
from loyalty.domain.rules.triggers import ORDER_PAID


@dataclass(frozen=True, slots=True)
class LineFacts:
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    net: Decimal
    product_id: str | None = None
    category: str | None = None
    brand: str | None = None


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """A paid order as rules see it. ``earning_base`` follows the programme's settings."""

    order_id: str
    currency: str
    lines: tuple[LineFacts, ...]
    total: Decimal
    subtotal: Decimal
    shipping: Decimal
    tax: Decimal
    earning_base: Decimal

    @classmethod
    def from_order(
        cls, order: PaidOrder, program: Program, brands: Mapping[str, str] | None = None
    ) -> OrderFacts:
        """A line's brand is the one the store sent on it; ``brands`` (sku -> brand) fills in
        lines sent without one."""
        brands = brands or {}
        lines = tuple(
            LineFacts(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                net=line.net,
                product_id=line.product_id,
                category=line.category,
                brand=line.brand if line.brand is not None else brands.get(line.sku),
            )
            for line in order.lines
        )
        return cls(
            order_id=order.order_id,
            currency=order.currency,
            lines=lines,
            total=order.charged_total,
            subtotal=order.lines_net,
            shipping=order.shipping,
            tax=order.tax,
            earning_base=order.earning_base(program),
        )

    @property
    def base_beyond_lines(self) -> Decimal:
        """Shipping and tax the programme counts in the base; only whole-order effects earn on it."""
        return self.earning_base - self.subtotal

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class MemberFacts:
    tier: str | None = None
    status: str = "active"
    lifetime_earned: int = 0
    orders_count: int = 0
    days_since_signup: int = 0
    birthday: date | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class TierFacts:
    name: str | None = None
    multiplier: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if self.multiplier < 0:
            raise ValidationFailed("tier multiplier must not be negative", field="multiplier")


@dataclass(frozen=True, slots=True)
class RuleEvent:
    type: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EarningInput:
    """One evaluation's input. ``now`` is the instant the event counts at (normally when it
    happened); schedules, period limits and ``now`` in conditions use it in ``timezone``.

    ``usage`` holds the member's counters for the keys ``usage_keys`` names; a missing key is
    zero. ``budgets_left`` is the points a rule's budget has left (missing: the whole budget).
    ``stamps`` is the member's current stamp count per stamp-card rule (missing: zero).
    All three are keyed by rule id, not version: a new version keeps the member's counters.
    """

    event: RuleEvent
    now: datetime
    timezone: ZoneInfo
    program: Program
    member: MemberFacts = field(default_factory=MemberFacts)
    tier: TierFacts = field(default_factory=TierFacts)
    order: OrderFacts | None = None
    segments: frozenset[str] = frozenset()
    usage: Mapping[UsageKey, Usage] = field(default_factory=dict)
    budgets_left: Mapping[str, int] = field(default_factory=dict)
    stamps: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.now.utcoffset() is None:
            raise ValidationFailed("now must carry a time zone", field="now")
        if self.event.type == ORDER_PAID and self.order is None:
            raise ValidationFailed("an order.paid evaluation needs the order", field="order")
