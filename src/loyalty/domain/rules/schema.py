"""The declared shape of what a condition can read: its variables and their fields.

Conditions are checked against this when a rule is saved, so a typo (``order.totl``) is a
422 that says where, not a rule that silently never matches. ``event.data`` is the event's own
payload and is not declared: any field under it is accepted (test with ``has(...)`` first).

Values as a condition sees them: money is a double in the order's currency (compare it with
numbers: ``order.total >= 200``), points and counts are ints, dates are ``"YYYY-MM-DD"``
strings, and ``now`` is a timestamp carrying the tenant's UTC offset at that instant, so
``now.getHours()`` and ``now.getDayOfWeek()`` (0 = Sunday) answer in the tenant's local time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from loyalty.domain.rules.triggers import ORDER_PAID


class ValueKind(StrEnum):
    NUMBER = "number"  # money or a multiplier, a double in CEL
    INT = "int"
    STRING = "string"
    BOOL = "bool"
    DATE = "date"  # "YYYY-MM-DD" string
    TIMESTAMP = "timestamp"
    LIST = "list"
    MAP = "map"
    DYNAMIC = "dynamic"  # any value; fields below are not checked


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: ValueKind
    description: str = ""
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)  # for MAP
    element: FieldSpec | None = None  # for LIST

    def to_dict(self) -> dict[str, object]:
        """The schema as JSON, for the rule editor and the API docs."""
        out: dict[str, object] = {"kind": self.kind.value}
        if self.description:
            out["description"] = self.description
        if self.fields:
            out["fields"] = {name: spec.to_dict() for name, spec in self.fields.items()}
        if self.element is not None:
            out["element"] = self.element.to_dict()
        return out


def _map(description: str, **fields: FieldSpec) -> FieldSpec:
    return FieldSpec(ValueKind.MAP, description, MappingProxyType(fields))


def _list(element: FieldSpec, description: str) -> FieldSpec:
    return FieldSpec(ValueKind.LIST, description, element=element)


_S = FieldSpec(ValueKind.STRING)
_N = FieldSpec(ValueKind.NUMBER)
_I = FieldSpec(ValueKind.INT)

LINE = _map(
    "an order line",
    sku=_S,
    product_id=FieldSpec(ValueKind.STRING, "null when the store sent none"),
    category=FieldSpec(ValueKind.STRING, "null when the store sent none"),
    brand=FieldSpec(ValueKind.STRING, "null when the store sent none"),
    quantity=_I,
    unit_price=_N,
    discount=_N,
    net=FieldSpec(ValueKind.NUMBER, "unit_price x quantity - discount"),
)

ORDER = _map(
    "the paid order (order.paid only)",
    id=_S,
    total=FieldSpec(ValueKind.NUMBER, "what the customer paid, shipping and tax included"),
    subtotal=FieldSpec(ValueKind.NUMBER, "lines after their discounts"),
    shipping=_N,
    tax=_N,
    currency=_S,
    categories=_list(_S, "distinct line categories"),
    skus=_list(_S, "distinct line skus"),
    product_ids=_list(_S, "distinct line product ids"),
    brands=_list(_S, "distinct line brands"),
    lines=_list(LINE, "the order lines"),
    item_count=FieldSpec(ValueKind.INT, "units over all lines"),
)

MEMBER = _map(
    "the member the event is about",
    tier=FieldSpec(ValueKind.STRING, "current tier name, null when none"),
    status=_S,
    lifetime_earned=_I,
    orders_count=_I,
    days_since_signup=_I,
    birthday=FieldSpec(ValueKind.DATE, "null when unknown"),
    locale=FieldSpec(ValueKind.STRING, "null when unknown"),
)

EVENT = _map(
    "the event being processed",
    type=_S,
    data=FieldSpec(ValueKind.DYNAMIC, "the event's own payload; fields are not checked"),
)

TIER = _map(
    "the member's tier",
    name=FieldSpec(ValueKind.STRING, "null when the member has no tier"),
    multiplier=FieldSpec(ValueKind.NUMBER, "earn multiplier, 1.0 without a tier"),
)

NOW = FieldSpec(ValueKind.TIMESTAMP, "when the event counts, at the tenant's UTC offset")
SEGMENTS = _list(_S, "names of the segments the member is in")

ACTION_VARIABLES: Mapping[str, FieldSpec] = MappingProxyType(
    {"event": EVENT, "member": MEMBER, "tier": TIER, "now": NOW, "segments": SEGMENTS}
)
ORDER_VARIABLES: Mapping[str, FieldSpec] = MappingProxyType({**ACTION_VARIABLES, "order": ORDER})


def variables_for(trigger: str) -> Mapping[str, FieldSpec]:
    """Top-level variables a condition may use for this trigger: ``order`` only for orders."""
    return ORDER_VARIABLES if trigger == ORDER_PAID else ACTION_VARIABLES
