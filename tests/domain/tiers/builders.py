"""Small builders for tier domain tests: a ladder from a few settings, instants in Warsaw time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.domain.tiers.ladder import TierLadder

WARSAW = ZoneInfo("Europe/Warsaw")


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A wall-clock instant in Warsaw."""
    return datetime(year, month, day, hour, minute, tzinfo=WARSAW)


def ladder(
    metric: str = "points_earned",
    window: dict[str, Any] | None = None,
    review: dict[str, Any] | None = None,
    thresholds: tuple[Any, ...] = (100, 500, 1000),
    currency: str | None = None,
) -> TierLadder:
    names = ("silver", "gold", "platinum")
    data: dict[str, Any] = {
        "metric": metric,
        "window": window or {"kind": "lifetime"},
        "levels": [
            {"id": names[i], "name": names[i].title(), "threshold": threshold}
            for i, threshold in enumerate(thresholds)
        ],
    }
    if review is not None:
        data["review"] = review
    if currency is not None:
        data["currency"] = currency
    return TierLadder.from_dict(data)
