"""When a promotion applies: which lines it matches, who may have it, and when.

Line filters: a line *matches* when it is included (no include filter, or its product id/sku is
in ``products``, or its category is in ``categories``) and not excluded (``exclude_products`` by
product id or sku, ``exclude_categories``). Excluded lines are never discounted, not even by an
order-wide benefit. ``min_subtotal`` and ``min_quantity`` count matching lines at their
undiscounted value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.promotions._parse import Fields, decimal_text, sorted_list
from loyalty.domain.promotions.cart import CartLine, MemberFacts
from loyalty.domain.promotions.reasons import InvalidPromotion, Refusal, RejectReason

ExpressionCheck = Callable[[str], bool]
_NONE: set[int] = set()  # no line excluded (never written to)


class LineIndex:
    """A cart's lines by sku, product id and category, so a promotion's filters cost a few set
    operations instead of a pass over every line; with the totals every promotion reads."""

    def __init__(self, lines: Sequence[CartLine]) -> None:
        self.indexes = list(range(len(lines)))
        self.values = [line.value for line in lines]
        self.quantities = [line.quantity for line in lines]
        self.total_value = sum(self.values, Decimal(0))
        self.total_quantity = sum(self.quantities)
        # one exponent for every line value (prices all given with the same decimals): then
        # the total less some lines reads exactly as the sum of the others would
        self.uniform = len({value.as_tuple().exponent for value in self.values}) <= 1
        self._by_product: dict[str, set[int]] = {}
        self._by_category: dict[str, set[int]] = {}
        for index, line in enumerate(lines):
            self._by_product.setdefault(line.sku, set()).add(index)
            if line.product_id is not None:
                self._by_product.setdefault(line.product_id, set()).add(index)
            if line.category is not None:
                self._by_category.setdefault(line.category, set()).add(index)

    @property
    def products(self) -> Iterable[str]:
        """Every sku and product id in the cart."""
        return self._by_product.keys()

    @property
    def categories(self) -> Iterable[str]:
        return self._by_category.keys()

    def having(self, products: frozenset[str], categories: frozenset[str]) -> set[int]:
        """Lines whose sku or product id is in ``products`` or whose category is in ``categories``."""
        found: set[int] = set()
        if products:
            _collect(found, products, self._by_product)
        if categories:
            _collect(found, categories, self._by_category)
        return found


def _collect(found: set[int], wanted: frozenset[str], present: dict[str, set[int]]) -> None:
    """Add the lines of the keys in both, walking the smaller side (a promotion may list
    thousands of products)."""
    if len(wanted) <= len(present):
        for key in wanted:
            lines = present.get(key)
            if lines is not None:
                found |= lines
    else:
        for key, lines in present.items():
            if key in wanted:
                found |= lines


class Selection:
    """The lines of one cart one promotion may touch: those not excluded (``allowed``), and of
    those the ones matching its filters (``matching``; all allowed ones without filters).
    Lists are built only when asked for: most promotions are refused on totals alone."""

    __slots__ = ("_allowed", "_excluded", "_lines", "matching")

    def __init__(self, lines: LineIndex, excluded: set[int], matching: list[int] | None) -> None:
        self._lines = lines
        self._excluded = excluded
        self._allowed: list[int] | None = None if excluded else lines.indexes
        self.matching = matching  # None: no filters, every allowed line

    @property
    def allowed(self) -> list[int]:
        if self._allowed is None:
            excluded = self._excluded
            self._allowed = [i for i in self._lines.indexes if i not in excluded]
        return self._allowed

    @property
    def matched(self) -> list[int]:
        return self.allowed if self.matching is None else self.matching

    def quantity(self) -> int:
        lines = self._lines
        if self.matching is None:
            return lines.total_quantity - sum(lines.quantities[i] for i in self._excluded)
        return sum(lines.quantities[i] for i in self.matching)

    def subtotal(self) -> Decimal:
        """The matching lines' undiscounted value, as their sum from zero would read."""
        lines = self._lines
        if self.matching is None:
            excluded = self._excluded
            if not excluded:
                return lines.total_value
            if lines.uniform and len(excluded) < len(lines.indexes):
                return lines.total_value - sum((lines.values[i] for i in excluded), Decimal(0))
        return sum((lines.values[i] for i in self.matched), Decimal(0))


NO_MATCHING_ITEMS = Refusal(RejectReason.NO_MATCHING_ITEMS, "no item in the cart qualifies")
_NOT_FIRST_ORDER = Refusal(RejectReason.NOT_FIRST_ORDER, "only for a first order")
_NOT_IN_SEGMENTS = Refusal(RejectReason.SEGMENT_NOT_ELIGIBLE, "not for this member's segments")


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

    @property
    def excludes_lines(self) -> bool:
        return bool(self.exclude_products or self.exclude_categories)

    def select(self, cart_lines: LineIndex) -> Selection:
        """The lines not excluded, and those that also match the filters."""
        excluded = (
            cart_lines.having(self.exclude_products, self.exclude_categories)
            if self.excludes_lines
            else _NONE
        )
        if not self.filters_lines:
            return Selection(cart_lines, excluded, None)
        included = cart_lines.having(self.products, self.categories)
        return Selection(cart_lines, excluded, sorted(included - excluded))

    @property
    def has_audience(self) -> bool:
        """Whether any of the date window, tier, first order and segment checks applies."""
        return (
            self.starts_at is not None
            or self.ends_at is not None
            or bool(self.tiers)
            or self.first_order_only
            or bool(self.segments)
        )

    def audience_refusal(self, member: MemberFacts, now: datetime) -> Refusal | None:
        """Whether this buyer may have the promotion now: date window, tier, first order, segment."""
        return Audience(self).refusal(member, now)

    def cart_refusal(
        self,
        currency: str,
        lines: Selection,
        check_expression: ExpressionCheck | None,
    ) -> Refusal | None:
        """Whether the cart qualifies: matching items, quantity, subtotal, then the expression."""
        if self.filters_lines and not lines.matching:
            return NO_MATCHING_ITEMS
        if self.min_quantity is not None:
            quantity = lines.quantity()
            if quantity < self.min_quantity:
                return Refusal(
                    RejectReason.MIN_QUANTITY_NOT_MET,
                    f"needs {self.min_quantity} qualifying items, the cart has {quantity}",
                )
        if self.min_subtotal is not None:
            subtotal = lines.subtotal()
            if subtotal < self.min_subtotal:
                short = self.min_subtotal - subtotal
                return Refusal(
                    RejectReason.MIN_SUBTOTAL_NOT_MET,
                    f"add {short} {currency} of qualifying items to reach "
                    f"{self.min_subtotal} {currency}",
                )
        return self._expression_refusal(check_expression)

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


class Audience:
    """The audience checks of one promotion's conditions, with the refusals they give built
    once: their texts depend on the promotion only (a prepared promotion set keeps one)."""

    __slots__ = (
        "ended",
        "ends_at",
        "first_order_only",
        "not_started",
        "segments",
        "starts_at",
        "tier",
        "tiers",
    )

    def __init__(self, conditions: Conditions) -> None:
        self.starts_at = conditions.starts_at
        self.ends_at = conditions.ends_at
        self.tiers = conditions.tiers
        self.first_order_only = conditions.first_order_only
        self.segments = conditions.segments
        self.not_started = (
            None
            if self.starts_at is None
            else Refusal(RejectReason.NOT_STARTED, f"starts at {self.starts_at.isoformat()}")
        )
        self.ended = (
            None
            if self.ends_at is None
            else Refusal(RejectReason.ENDED, f"ended at {self.ends_at.isoformat()}")
        )
        self.tier = (
            Refusal(
                RejectReason.TIER_NOT_ELIGIBLE, f"only for tiers: {', '.join(sorted(self.tiers))}"
            )
            if self.tiers
            else None
        )

    def refusal(self, member: MemberFacts, now: datetime) -> Refusal | None:
        """Whether this buyer may have the promotion now: date window, tier, first order, segment."""
        if self.starts_at is not None and now < self.starts_at:
            return self.not_started
        if self.ends_at is not None and now >= self.ends_at:
            return self.ended
        if self.tiers and member.tier not in self.tiers:
            return self.tier
        if self.first_order_only and not member.is_first_order:
            return _NOT_FIRST_ORDER
        if self.segments and not self.segments & member.segments:
            return _NOT_IN_SEGMENTS
        return None
