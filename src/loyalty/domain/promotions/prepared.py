"""Promotions prepared once for many carts (services cache one per tenant).

What every evaluation would otherwise redo: the evaluation order (priority, then id), the
lookup by id, the codes of the code promotions, and an index of the promotions that filter
lines by the products and categories they need. With it, a cart finds in a few dictionary
lookups which of those promotions any of its lines can match; the others are refused for
having no matching item without their filters being looked at, exactly as the full check
would refuse them. Each promotion also gets a ``Plan``: which checks apply to it at all, its
audience refusals built once, and the rejection records it gives again and again.
"""

from __future__ import annotations

from collections.abc import Iterable

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.promotions.cart import normalize_code
from loyalty.domain.promotions.conditions import Audience, LineIndex
from loyalty.domain.promotions.promotion import Promotion, Trigger
from loyalty.domain.promotions.reasons import Refusal
from loyalty.domain.promotions.results import RejectedPromotion

_KEPT_RECORDS = 64  # per promotion: the fixed refusals number a handful, plus one per blocker


class Plan:
    """One promotion as the engine tries it, worked out once: whether it is automatic, which
    of the currency, audience, line filter and exclusion checks apply at all, and its
    rejection records for refusals whose text does not depend on the cart."""

    __slots__ = ("_records", "audience", "automatic", "excludes", "filters", "id", "promotion")

    def __init__(self, promotion: Promotion) -> None:
        conditions = promotion.conditions
        self.promotion = promotion
        self.id = promotion.id
        self.automatic = promotion.trigger is Trigger.AUTOMATIC
        self.audience = Audience(conditions) if conditions.has_audience else None
        self.filters = conditions.filters_lines
        self.excludes = conditions.excludes_lines
        self._records: dict[Refusal, RejectedPromotion] = {}

    def rejected(self, code: str | None, refusal: Refusal, *, keep: bool) -> RejectedPromotion:
        """The record of this promotion refused for ``refusal``. ``keep``: the refusal's text
        depends on the promotion only (not on the cart's amounts), so an automatic
        promotion's record is built once and handed out again (records are immutable)."""
        if code is None and keep:
            record = self._records.get(refusal)
            if record is None:
                record = self._record(None, refusal)
                if len(self._records) < _KEPT_RECORDS:
                    self._records[refusal] = record
            return record
        return self._record(code, refusal)

    def _record(self, code: str | None, refusal: Refusal) -> RejectedPromotion:
        promotion = self.promotion
        return RejectedPromotion(
            promotion.id, promotion.version, promotion.name, code, refusal.reason, refusal.message
        )


class PromotionSet:
    """``prefilter=False`` leaves the index out: every promotion's filters are then checked
    against the cart (the result is the same; tests compare the two)."""

    __slots__ = (
        "_by_category",
        "_by_product",
        "by_id",
        "codes",
        "ordered",
        "plans",
        "prefilter",
        "promotions",
    )

    def __init__(self, promotions: Iterable[Promotion], *, prefilter: bool = True) -> None:
        self.promotions = tuple(promotions)
        self.by_id = {promotion.id: promotion for promotion in self.promotions}
        if len(self.by_id) != len(self.promotions):
            raise ValidationFailed("promotion ids must be unique", field="promotions")
        self.ordered = tuple(sorted(self.promotions, key=lambda p: (-p.priority, p.id)))
        self.plans = tuple(Plan(promotion) for promotion in self.ordered)
        # the code promotions' own codes, normalised (the last promotion listing a code wins)
        self.codes = {
            normalize_code(code): promotion
            for promotion in self.promotions
            if promotion.trigger is Trigger.CODE
            for code in promotion.codes
        }
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
