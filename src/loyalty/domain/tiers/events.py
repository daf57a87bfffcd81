"""``TierChanged``: the value a tier change produces, for history rows and ``tier.changed``
webhooks. Past tense: it records what happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar


class TierReason(StrEnum):
    QUALIFIED = "qualified"  # the metric reached a higher threshold: up at once
    REVIEW = "review"  # fell short at a review: down after the grace period
    REFUND = "refund"  # refunds took the member below the threshold (when configured)
    MANUAL = "manual"  # an admin set the tier
    # decisions that change nothing
    KEPT = "kept"  # a review found the member still qualifies
    PENDING = "pending"  # a review found a shortfall; the drop waits for the grace period
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class TierChanged:
    member_id: str
    from_tier: str | None
    to_tier: str | None
    reason: TierReason
    at: datetime  # when the change takes effect
    ladder_version: int

    type: ClassVar[str] = "tier.changed"

    def to_dict(self) -> dict[str, Any]:
        """The outbox payload."""
        return {
            "member_id": self.member_id,
            "from_tier": self.from_tier,
            "to_tier": self.to_tier,
            "reason": self.reason.value,
            "at": self.at.isoformat(),
            "ladder_version": self.ladder_version,
        }
