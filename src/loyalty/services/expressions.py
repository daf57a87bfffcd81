"""CEL conditions: compiled once per expression text and cached, evaluated on a cart's facts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import cel

from loyalty.domain.promotions import InvalidPromotion

# A cart shaped like the real activation, to catch names that do not exist when a rule is saved.
_SAMPLE: dict[str, Any] = {
    "cart": {
        "currency": "EUR",
        "subtotal": Decimal("10.00"),
        "shipping": Decimal(0),
        "quantity": 1,
        "codes": [],
        "lines": [
            {
                "sku": "sku",
                "product_id": None,
                "category": None,
                "quantity": 1,
                "unit_price": Decimal("10.00"),
            }
        ],
    },
    "member": {"tier": None, "is_first_order": False, "segments": []},
    "now": datetime(2026, 1, 1, tzinfo=UTC),
}


@lru_cache(maxsize=4096)
def compiled(expression: str) -> cel.Program:
    return cel.compile(expression)


def cel_check(expression: str, activation: Mapping[str, Any]) -> bool:
    """The engine's ``cel_check``: true only for a boolean true result."""
    result = compiled(expression).execute(dict(activation))
    if not isinstance(result, bool):
        raise ValueError(f"the condition gave {type(result).__name__}, not a boolean")
    return result


def check_expression(expression: str | None, field: str = "conditions.expression") -> None:
    """Refuse an expression that does not parse or names something a cart does not have."""
    if expression is None:
        return
    try:
        program = compiled(expression)
    except (ValueError, RuntimeError) as exc:
        raise InvalidPromotion(f"not a valid CEL expression: {exc}", field=field) from None
    try:
        program.execute(dict(_SAMPLE))
    except RuntimeError as exc:
        if "Undefined variable" in str(exc):
            raise InvalidPromotion(f"{exc}; use cart, member and now", field=field) from None
    except Exception:
        return
