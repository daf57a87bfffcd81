"""The variables a condition runs against, built once per evaluation.

Handing values to the CEL library costs about a microsecond each, so only what some condition
reads (``Condition.needs``) is converted: an order's lines are built only when a rule looks at
``order.lines``. The values follow ``schema``: money as doubles, dates as ISO strings, and
``now`` at the tenant's UTC offset for that instant (DST-correct local hours and weekdays).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timezone
from decimal import Decimal
from typing import Any

from loyalty.domain.rules import _cel
from loyalty.domain.rules.facts import EarningInput, LineFacts, OrderFacts

Path = tuple[str, ...]
Getter = Callable[[EarningInput], object]


def build_activation(needs: Iterable[Path], facts: EarningInput) -> _cel.Activation:
    """A CEL activation holding the variables and fields in ``needs`` (see ``Condition``)."""
    wanted: dict[str, dict[str, set[str] | None] | None] = {}
    for path in sorted(needs, key=len):  # whole variables first, then fields, then sub-fields
        root = path[0]
        if len(path) == 1:
            wanted[root] = None
            continue
        fields = wanted.setdefault(root, {})
        if fields is None:
            continue
        if len(path) == 2:
            fields[path[1]] = None
        else:
            sub = fields.setdefault(path[1], set())
            if sub is not None:
                sub.add(path[2])
    variables = {root: _variable(root, fields, facts) for root, fields in sorted(wanted.items())}
    return _cel.activation(variables)


def _variable(root: str, fields: dict[str, set[str] | None] | None, facts: EarningInput) -> object:
    if root == "now":
        return local_now(facts)
    if root == "segments":
        return sorted(facts.segments)
    getters = _GETTERS.get(root)
    if getters is None or (root == "order" and facts.order is None):
        return None
    if fields is None:
        return {name: getter(facts) for name, getter in getters.items()}
    value = {name: getters[name](facts) for name, sub in fields.items() if sub is None}
    lines = fields.get("lines")
    if root == "order" and lines is not None:
        value["lines"] = [_line(line, lines) for line in _order(facts).lines]
    return value


def local_now(facts: EarningInput, local: datetime | None = None) -> datetime:
    """``now`` as conditions see it; ``local``: ``facts.now`` in ``facts.timezone`` already."""
    if local is None:
        local = facts.now.astimezone(facts.timezone)
    offset = local.utcoffset()
    assert offset is not None
    return local.replace(tzinfo=timezone(offset))


def to_cel(value: Any) -> Any:
    """Event payload values as CEL takes them: no Decimals, no tuples, no named zones."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): to_cel(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_cel(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(to_cel(item) for item in value)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _order(facts: EarningInput) -> OrderFacts:
    assert facts.order is not None
    return facts.order


LINE_FIELDS = (
    "sku",
    "product_id",
    "category",
    "brand",
    "quantity",
    "unit_price",
    "discount",
    "net",
)
_LINE_GETTERS: Mapping[str, Callable[[LineFacts], object]] = {
    "sku": lambda line: line.sku,
    "product_id": lambda line: line.product_id,
    "category": lambda line: line.category,
    "brand": lambda line: line.brand,
    "quantity": lambda line: line.quantity,
    "unit_price": lambda line: float(line.unit_price),
    "discount": lambda line: float(line.discount),
    "net": lambda line: float(line.net),
}


def _line(line: LineFacts, fields: Iterable[str] = LINE_FIELDS) -> dict[str, object]:
    return {name: _LINE_GETTERS[name](line) for name in fields}


line_map = _line  # an order line as CEL sees it, with ``fields``


def _whole_line(line: LineFacts) -> dict[str, object]:
    """``_line`` with every field (in ``LINE_FIELDS`` order), built in one go."""
    return {
        "sku": line.sku,
        "product_id": line.product_id,
        "category": line.category,
        "brand": line.brand,
        "quantity": line.quantity,
        "unit_price": float(line.unit_price),
        "discount": float(line.discount),
        "net": float(line.net),
    }


def _distinct(values: Iterable[str | None]) -> list[str]:
    return sorted({value for value in values if value is not None})


_GETTERS: Mapping[str, Mapping[str, Getter]] = {
    "order": {
        "id": lambda f: _order(f).order_id,
        "total": lambda f: float(_order(f).total),
        "subtotal": lambda f: float(_order(f).subtotal),
        "shipping": lambda f: float(_order(f).shipping),
        "tax": lambda f: float(_order(f).tax),
        "currency": lambda f: _order(f).currency,
        "categories": lambda f: _distinct(line.category for line in _order(f).lines),
        "skus": lambda f: _distinct(line.sku for line in _order(f).lines),
        "product_ids": lambda f: _distinct(line.product_id for line in _order(f).lines),
        "brands": lambda f: _distinct(line.brand for line in _order(f).lines),
        "lines": lambda f: [_whole_line(line) for line in _order(f).lines],
        "item_count": lambda f: _order(f).item_count,
    },
    "member": {
        "tier": lambda f: f.member.tier,
        "status": lambda f: f.member.status,
        "lifetime_earned": lambda f: f.member.lifetime_earned,
        "orders_count": lambda f: f.member.orders_count,
        "days_since_signup": lambda f: f.member.days_since_signup,
        "birthday": lambda f: f.member.birthday.isoformat() if f.member.birthday else None,
        "locale": lambda f: f.member.locale,
    },
    "event": {
        "type": lambda f: f.event.type,
        "data": lambda f: to_cel(f.event.data),
    },
    "tier": {
        "name": lambda f: f.tier.name,
        "multiplier": lambda f: float(f.tier.multiplier),
    },
}
