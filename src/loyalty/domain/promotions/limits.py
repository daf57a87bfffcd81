"""How much a promotion may be used: orders overall, orders per member, money, uses per code."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loyalty.domain.promotions._parse import Fields, decimal_text
from loyalty.domain.promotions.reasons import InvalidPromotion
from loyalty.domain.promotions.usage import UsageFacts


@dataclass(frozen=True, slots=True)
class PromotionHolds:
    """What open checkouts hold of one promotion: uses, the buyer's own uses, money."""

    uses: int = 0
    member_uses: int = 0
    budget: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class PromotionLimits:
    """None means unlimited. ``code_uses``: how often each code works (1 = single use)."""

    uses: int | None = None
    uses_per_member: int | None = None
    budget: Decimal | None = None
    code_uses: int | None = None

    def __post_init__(self) -> None:
        for name in ("uses", "uses_per_member", "code_uses"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidPromotion("must be at least 1", field=name)
        if self.budget is not None and self.budget <= 0:
            raise InvalidPromotion("must be more than 0", field="budget")

    @property
    def limited(self) -> bool:
        return self.uses is not None or self.uses_per_member is not None or self.budget is not None

    def usage(
        self,
        uses: int,
        budget_spent: Decimal,
        member_uses: int | None,
        *,
        held: PromotionHolds | None = None,
    ) -> UsageFacts:
        """What is left, given the counters; ``member_uses`` None for a guest (not counted).

        ``held``: what open checkouts hold, counted as taken on top of ``uses``,
        ``budget_spent`` and ``member_uses``."""
        held = held or PromotionHolds()
        member_left = None
        if self.uses_per_member is not None and member_uses is not None:
            member_left = self.uses_per_member - member_uses - held.member_uses
        return UsageFacts(
            global_remaining=None if self.uses is None else self.uses - uses - held.uses,
            member_remaining=member_left,
            budget_remaining=(
                None if self.budget is None else self.budget - budget_spent - held.budget
            ),
            uses_held=held.uses,
            member_held=held.member_uses if member_uses is not None else 0,
            budget_held=held.budget,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "uses": self.uses,
            "uses_per_member": self.uses_per_member,
            "budget": decimal_text(self.budget),
            "code_uses": self.code_uses,
        }

    @classmethod
    def from_dict(cls, data: object) -> PromotionLimits:
        fields = Fields(data)
        limits = cls(
            uses=fields.opt_int("uses"),
            uses_per_member=fields.opt_int("uses_per_member"),
            budget=fields.opt_decimal("budget"),
            code_uses=fields.opt_int("code_uses"),
        )
        fields.done()
        return limits
