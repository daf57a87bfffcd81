"""What evaluating a cart returns: priced lines, applied and rejected promotions, totals."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loyalty.domain.promotions.reasons import RejectReason


@dataclass(frozen=True, slots=True)
class GiftLine:
    sku: str
    quantity: int
    product_id: str | None
    promotion_id: str


@dataclass(frozen=True, slots=True)
class LineDiscount:
    promotion_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PricedLine:
    index: int  # position in the cart's lines
    sku: str
    quantity: int
    subtotal: Decimal
    discount: Decimal
    discounts: tuple[LineDiscount, ...]  # per promotion, in the order they applied

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount


@dataclass(frozen=True, slots=True)
class AppliedPromotion:
    promotion_id: str
    version: int
    name: str
    code: str | None  # the normalised code that triggered it, None when automatic
    discount: Decimal  # off the lines, as allocated to them
    shipping_discount: Decimal
    gifts: tuple[GiftLine, ...]

    @property
    def total_discount(self) -> Decimal:
        return self.discount + self.shipping_discount


@dataclass(frozen=True, slots=True)
class RejectedPromotion:
    promotion_id: str | None  # None for a code that names no promotion
    version: int | None
    name: str | None
    code: str | None
    reason: RejectReason
    message: str


@dataclass(frozen=True, slots=True)
class CartEvaluation:
    currency: str
    lines: tuple[PricedLine, ...]
    applied: tuple[AppliedPromotion, ...]
    rejected: tuple[RejectedPromotion, ...]
    gifts: tuple[GiftLine, ...]
    subtotal: Decimal
    discount: Decimal  # off the lines; equals the sum of the line discounts
    shipping: Decimal
    shipping_discount: Decimal

    @property
    def total(self) -> Decimal:
        """What the customer pays before points: never negative."""
        return self.subtotal - self.discount + self.shipping - self.shipping_discount
