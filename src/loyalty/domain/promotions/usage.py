"""Usage limits as the caller counted them: the engine only reads what is left."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loyalty.domain.promotions.reasons import Refusal, RejectReason


@dataclass(frozen=True, slots=True)
class UsageFacts:
    """What is left of a promotion's limits, as counted by the caller. None means unlimited."""

    global_remaining: int | None = None
    member_remaining: int | None = None
    budget_remaining: Decimal | None = None  # money, in the cart's currency

    def refusal(self) -> Refusal | None:
        if self.global_remaining is not None and self.global_remaining <= 0:
            return Refusal(RejectReason.GLOBAL_LIMIT_REACHED, "this promotion has been used up")
        if self.member_remaining is not None and self.member_remaining <= 0:
            return Refusal(
                RejectReason.MEMBER_LIMIT_REACHED, "the member has used this promotion already"
            )
        if self.budget_remaining is not None and self.budget_remaining <= 0:
            return Refusal(RejectReason.BUDGET_EXHAUSTED, "this promotion's budget is spent")
        return None
