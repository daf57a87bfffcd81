"""Promotions prepared once for many carts (services cache one per tenant).

What every evaluation would otherwise redo: the evaluation order (priority, then id), the
lookup by id, and an index of the promotions that filter lines by the products and categories
they need. With it, a cart finds in a few dictionary lookups which of those promotions any of
its lines can match; the others are refused for having no matching item
without their filters being looked at, exactly as the full check would refuse them.
"""

from __future__ import annotations

from collections.abc import Iterable

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.promotions.conditions import LineIndex
from loyalty.domain.promotions.promotion import Promotion


class PromotionSet:
    """``prefilter=False`` leaves the index out: every promotion's filters are then checked
    against the cart (the result is the same; tests compare the two)."""

    __slots__ = ("_by_category", "_by_product", "by_id", "ordered", "prefilter", "promotions")

    def __init__(self, promotions: Iterable[Promotion], *, prefilter: bool = True) -> None:
        self.promotions = tuple(promotions)
        self.by_id = {promotion.id: promotion for promotion in self.promotions}
        if len(self.by_id) != len(self.promotions):
            raise ValidationFailed("promotion ids must be unique", field="promotions")
        self.ordered = tuple(sorted(self.promotions, key=lambda p: (-p.priority, p.id)))
        self.prefilter = prefilter
        self._by_product: dict[str, set[str]] = {}
        self._by_category: dict[str, set[str]] = {}
        for promotion in self.promotions:
            conditions = promotion.conditions
            if not conditions.filters_lines:
                continue
            for product in conditions.products:
                self._by_product.setdefault(product, set()).add(promotion.id)
            for category in conditions.categories:
                self._by_category.setdefault(category, set()).add(promotion.id)

    def could_match(self, lines: LineIndex) -> set[str] | None:
        """Ids of the promotions with line filters that some line of the cart meets (before
        exclusions); a filtering promotion not in it matches no line.
        None without the prefilter: nothing is known, every promotion is checked."""
        if not self.prefilter:
            return None
        found: set[str] = set()
        for index, keys in (
            (self._by_product, lines.products),
            (self._by_category, lines.categories),
        ):
            if not index:
                continue
            for key in keys:
                ids = index.get(key)
                if ids is not None:
                    found |= ids
        return found
