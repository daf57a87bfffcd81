"""Usage limits as the caller counted them: the engine only reads what is left."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from loyalty.domain.promotions.reasons import Refusal, RejectReason


@dataclass(frozen=True, slots=True)
class UsageFacts:
    """What is left of a promotion's limits, as counted by the caller. None means unlimited.

    What open checkouts hold counts as taken; the ``*_held`` fields say how much of what is
    taken is only held, so that a refusal can say the rest may come back."""

    global_remaining: int | None = None
    member_remaining: int | None = None
    budget_remaining: Decimal | None = None  # money, in the cart's currency
    uses_held: int = 0
    member_held: int = 0
    budget_held: Decimal = Decimal(0)

    def refusal(self) -> Refusal | None:
        if self.global_remaining is not None and self.global_remaining <= 0:
            return Refusal(
                RejectReason.GLOBAL_LIMIT_REACHED,
                _held("this promotion has been used up", self.uses_held),
            )
        if self.member_remaining is not None and self.member_remaining <= 0:
            return Refusal(
                RejectReason.MEMBER_LIMIT_REACHED,
                _held("the member has used this promotion already", self.member_held),
            )
        if self.budget_remaining is not None and self.budget_remaining <= 0:
            return Refusal(
                RejectReason.BUDGET_EXHAUSTED,
                _held("this promotion's budget is spent", self.budget_held),
            )
        return None


def _held(message: str, held: int | Decimal) -> str:
    if held <= 0:
        return message
    return f"{message} (part of it is held by open checkouts and may come back)"
