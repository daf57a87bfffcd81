"""Whether a promotion may join those already applied to the cart.

Promotions are tried in priority order and the first to qualify wins a conflict: an exclusive
promotion applies only if nothing applied before it and then blocks every later one; a
promotion with ``combines_with`` joins only promotions that name each other.
"""

from __future__ import annotations

from functools import lru_cache

from loyalty.domain.promotions.promotion import Promotion
from loyalty.domain.promotions.reasons import Refusal, RejectReason


class Stack:
    """The promotions applied so far, kept so each check costs set lookups, not a pairwise scan."""

    def __init__(self) -> None:
        self._applied: list[Promotion] = []
        self._ids: set[str] = set()
        self._restricted: list[Promotion] = []  # applied ones with a combines_with list
        self._exclusive: Promotion | None = None

    def add(self, promotion: Promotion) -> None:
        self._applied.append(promotion)
        self._ids.add(promotion.id)
        if promotion.combines_with is not None:
            self._restricted.append(promotion)
        if promotion.exclusive:
            self._exclusive = promotion

    def refusal(self, candidate: Promotion) -> Refusal | None:
        if self._exclusive is not None:
            return _blocked_by(self._exclusive.id)
        if candidate.exclusive and self._applied:
            return _not_alone(self._applied[0].id)
        conflict = self._conflict(candidate)
        if conflict is not None:
            return _not_combinable(conflict.id)
        return None

    def _conflict(self, candidate: Promotion) -> Promotion | None:
        """The first applied promotion that refuses the candidate or that it refuses."""
        allowed = candidate.combines_with
        if allowed is not None and not self._ids <= allowed:
            return next(other for other in self._applied if other.id not in allowed)
        refusing = (other for other in self._restricted if not other.allows(candidate))
        return next(refusing, None)


# A refusal's text names the promotion in the way, so the same few come back cart after cart:
# each is built once (and the rejection records a prepared set keeps for it are found again).


@lru_cache(maxsize=4096)
def _blocked_by(exclusive_id: str) -> Refusal:
    return Refusal(
        RejectReason.BLOCKED_BY_EXCLUSIVE,
        f"promotion '{exclusive_id}' already applies and combines with nothing",
    )


@lru_cache(maxsize=4096)
def _not_alone(first_id: str) -> Refusal:
    return Refusal(
        RejectReason.EXCLUSIVE_NOT_ALONE,
        f"applies only alone, but promotion '{first_id}' already applies",
    )


@lru_cache(maxsize=4096)
def _not_combinable(other_id: str) -> Refusal:
    return Refusal(RejectReason.NOT_COMBINABLE, f"does not combine with promotion '{other_id}'")
