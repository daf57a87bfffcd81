"""When a promotion applies: which lines it matches, who may have it, and when.

Line filters: a line *matches* when it is included (no include filter, or its product id/sku is
in ``products``, or its category is in ``categories``) and not excluded (``exclude_products`` by
product id or sku, ``exclude_categories``). Excluded lines are never discounted, not even by an
order-wide benefit. ``min_subtotal`` and ``min_quantity`` count matching lines at their
undiscounted value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.promotions._parse import Fields, decimal_text, sorted_list
from loyalty.domain.promotions.cart import Cart, CartLine
from loyalty.domain.promotions.reasons import InvalidPromotion, RejectReason, Refusal

ExpressionCheck = Callable[[str], bool]


@dataclass(frozen=True, slots=True)
class Conditions:
    min_subtotal: Decimal | None = None
    min_quantity: int | None = None
    products: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    exclude_products: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    tiers: frozenset[str] = frozenset()  # empty: any member or guest
    first_order_only: bool = False
    segments: frozenset[str] = frozenset()  # member must be in at least one; empty: anyone
    starts_at: datetime | None = None  # inclusive
    ends_at: datetime | None = None  # exclusive
    expression: str | None = None  # CEL, evaluated by the caller's checker

    def __post_init__(self) -> None:
        if self.min_subtotal is not None and self.min_subtotal < 0:
            raise InvalidPromotion("must not be negative", field="min_subtotal")
        if self.min_quantity is not None and self.min_quantity < 1:
            raise InvalidPromotion("must be at least 1", field="min_quantity")
        for name in ("starts_at", "ends_at"):
            moment = getattr(self, name)
            if moment is not None and moment.utcoffset() is None:
                raise InvalidPromotion("must carry a time zone offset", field=name)
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise InvalidPromotion("must be after starts_at", field="ends_at")
        if self.expression is not None and not self.expression.strip():
            raise InvalidPromotion("must not be blank", field="expression")

    @property
    def filters_lines(self) -> bool:
        return bool(self.products or self.categories)

    def includes(self, line: CartLine) -> bool:
        if not self.filters_lines:
            return True
        return (
            line.sku in self.products
            or (line.product_id is not None and line.product_id in self.products)
            or (line.category is not None and line.category in self.categories)
        )

    def excludes(self, line: CartLine) -> bool:
        return (
            line.sku in self.exclude_products
            or (line.product_id is not None and line.product_id in self.exclude_products)
            or (line.category is not None and line.category in self.exclude_categories)
        )

    def refusal(
        self,
        cart: Cart,
        matching: Sequence[int],
        now: datetime,
        check_expression: ExpressionCheck | None,
    ) -> Refusal | None:
        """The first condition the cart fails, cheapest checks first; None when all hold."""
        return (
            self._window_refusal(now)
            or self._member_refusal(cart)
            or self._cart_refusal(cart, matching)
            or self._expression_refusal(check_expression)
        )

    def _window_refusal(self, now: datetime) -> Refusal | None:
        if self.starts_at is not None and now < self.starts_at:
            return Refusal(RejectReason.NOT_STARTED, f"starts at {self.starts_at.isoformat()}")
        if self.ends_at is not None and now >= self.ends_at:
            return Refusal(RejectReason.ENDED, f"ended at {self.ends_at.isoformat()}")
        return None

    def _member_refusal(self, cart: Cart) -> Refusal | None:
        member = cart.member
        if self.tiers and member.tier not in self.tiers:
            tiers = ", ".join(sorted(self.tiers))
            return Refusal(RejectReason.TIER_NOT_ELIGIBLE, f"only for tiers: {tiers}")
        if self.first_order_only and not member.is_first_order:
            return Refusal(RejectReason.NOT_FIRST_ORDER, "only for a first order")
        if self.segments and not self.segments & member.segments:
            return Refusal(RejectReason.SEGMENT_NOT_ELIGIBLE, "not for this member's segments")
        return None

    def _cart_refusal(self, cart: Cart, matching: Sequence[int]) -> Refusal | None:
        if self.filters_lines and not matching:
            return Refusal(RejectReason.NO_MATCHING_ITEMS, "no item in the cart qualifies")
        if self.min_quantity is not None:
            quantity = sum(cart.lines[index].quantity for index in matching)
            if quantity < self.min_quantity:
                return Refusal(
                    RejectReason.MIN_QUANTITY_NOT_MET,
                    f"needs {self.min_quantity} qualifying items, the cart has {quantity}",
                )
        if self.min_subtotal is not None:
            subtotal = sum((cart.lines[index].value for index in matching), Decimal(0))
            if subtotal < self.min_subtotal:
                short = self.min_subtotal - subtotal
                return Refusal(
                    RejectReason.MIN_SUBTOTAL_NOT_MET,
                    f"add {short} {cart.currency} of qualifying items to reach "
                    f"{self.min_subtotal} {cart.currency}",
                )
        return None

    def _expression_refusal(self, check_expression: ExpressionCheck | None) -> Refusal | None:
        if self.expression is None:
            return None
        if check_expression is None:
            return Refusal(RejectReason.EXPRESSION_ERROR, "no expression evaluator configured")
        try:
            holds = check_expression(self.expression)
        except Exception as exc:  # a broken rule refuses its promotion, not the checkout
            return Refusal(
                RejectReason.EXPRESSION_ERROR, f"condition could not be evaluated: {exc}"
            )
        if not holds:
            return Refusal(RejectReason.EXPRESSION_FALSE, "the promotion's condition is not met")
        return None

    def money_fields(self) -> dict[str, Decimal | None]:
        return {"min_subtotal": self.min_subtotal}

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_subtotal": decimal_text(self.min_subtotal),
            "min_quantity": self.min_quantity,
            "products": sorted_list(self.products),
            "categories": sorted_list(self.categories),
            "exclude_products": sorted_list(self.exclude_products),
            "exclude_categories": sorted_list(self.exclude_categories),
            "tiers": sorted_list(self.tiers),
            "first_order_only": self.first_order_only,
            "segments": sorted_list(self.segments),
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "expression": self.expression,
        }

    @classmethod
    def from_dict(cls, data: object) -> Conditions:
        fields = Fields(data)
        conditions = cls(
            min_subtotal=fields.opt_decimal("min_subtotal"),
            min_quantity=fields.opt_int("min_quantity"),
            products=fields.texts("products"),
            categories=fields.texts("categories"),
            exclude_products=fields.texts("exclude_products"),
            exclude_categories=fields.texts("exclude_categories"),
            tiers=fields.texts("tiers"),
            first_order_only=fields.boolean("first_order_only", False),
            segments=fields.texts("segments"),
            starts_at=fields.opt_datetime("starts_at"),
            ends_at=fields.opt_datetime("ends_at"),
            expression=fields.opt_text("expression"),
        )
        fields.done()
        return conditions
