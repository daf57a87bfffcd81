"""Small builders so promotion tests read as the business case they check."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.promotions import (
    Benefit,
    Cart,
    CartEvaluation,
    CartLine,
    Conditions,
    MemberFacts,
    Promotion,
    RejectReason,
    Trigger,
    evaluate_cart,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
D = Decimal


def line(
    sku: str,
    price: str,
    quantity: int = 1,
    *,
    category: str | None = None,
    product_id: str | None = None,
) -> CartLine:
    return CartLine(sku, quantity, D(price), product_id=product_id, category=category)


def cart(
    *lines: CartLine,
    currency: str = "PLN",
    shipping: str = "0",
    member: MemberFacts | None = None,
    codes: tuple[str, ...] = (),
) -> Cart:
    return Cart(currency, lines, D(shipping), member or MemberFacts(), codes)


def promo(
    promotion_id: str,
    *benefits: Benefit,
    conditions: Conditions | None = None,
    codes: tuple[str, ...] = (),
    currency: str | None = "PLN",
    **options: Any,
) -> Promotion:
    return Promotion(
        id=promotion_id,
        version=1,
        name=promotion_id,
        trigger=Trigger.CODE if codes else Trigger.AUTOMATIC,
        benefits=benefits,
        conditions=conditions or Conditions(),
        codes=frozenset(codes),
        currency=currency,
        **options,
    )


def evaluate(cart: Cart, *promotions: Promotion, **options: Any) -> CartEvaluation:
    return evaluate_cart(cart, promotions, now=options.pop("now", NOW), **options)


def line_discounts(result: CartEvaluation) -> list[Decimal]:
    return [priced.discount for priced in result.lines]


def applied_ids(result: CartEvaluation) -> list[str]:
    return [applied.promotion_id for applied in result.applied]


def reasons(result: CartEvaluation) -> dict[str | None, RejectReason]:
    return {rejected.promotion_id or rejected.code: rejected.reason for rejected in result.rejected}
