"""The CEL hook: expressions are evaluated by the caller's checker, never here.

The activation is built once per cart, and only when some promotion has an expression.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from loyalty.domain.promotions.cart import Cart, normalize_code
from loyalty.domain.promotions.conditions import ExpressionCheck

CelCheck = Callable[[str, Mapping[str, Any]], bool]
"""``cel_check(expression, activation) -> bool``, supplied by the caller (compiled and cached
there). The activation holds ``cart``, ``member`` and ``now``; amounts are ``Decimal``."""


def expression_check(
    cart: Cart, now: datetime, cel_check: CelCheck | None
) -> ExpressionCheck | None:
    if cel_check is None:
        return None
    activation: dict[str, Any] = {}

    def check(expression: str) -> bool:
        if not activation:  # built once, and only if some promotion has an expression
            activation.update(_activation(cart, now))
        return bool(cel_check(expression, activation))

    return check


def _activation(cart: Cart, now: datetime) -> dict[str, Any]:
    member = cart.member
    return {
        "cart": {
            "currency": cart.currency,
            "subtotal": cart.subtotal,
            "shipping": cart.shipping,
            "quantity": sum(line.quantity for line in cart.lines),
            "codes": [normalize_code(code) for code in cart.codes],
            "lines": [
                {
                    "sku": line.sku,
                    "product_id": line.product_id,
                    "category": line.category,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                }
                for line in cart.lines
            ],
        },
        "member": {
            "tier": member.tier,
            "is_first_order": member.is_first_order,
            "segments": sorted(member.segments),
        },
        "now": now,
    }
