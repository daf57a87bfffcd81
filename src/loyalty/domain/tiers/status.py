"""A member's tier state as stored: the tier, since when, the next review, a manual floor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ManualTier:
    """An admin's tier: the member is never below it while it lasts (``until`` exclusive;
    None: until an admin removes it). The member can still rise above it."""

    tier: str
    until: datetime | None
    set_at: datetime
    set_by: str | None = None
    note: str = ""

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class TierStatus:
    """``since`` is when the member reached ``tier`` (or lost the last one); ``review_at`` is
    when the tier is next reviewed (None without a tier). Instants are UTC."""

    member_id: str
    tier: str | None = None
    since: datetime | None = None
    review_at: datetime | None = None
    manual: ManualTier | None = None

    def floor(self, now: datetime) -> str | None:
        """The manual tier in force at ``now``, if any."""
        if self.manual is not None and self.manual.active(now):
            return self.manual.tier
        return None
