"""A physical gift's way to the member: pending -> shipped -> delivered, or cancelled.

A pending gift may be cancelled (out of stock at the warehouse, member asked): the service
then returns the redemption's points. A shipped parcel may still be cancelled (lost, sent
back); whether points come back then is the programme's call, so ``refunds_points`` only
answers for the clear case.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from loyalty.domain.rewards.errors import IllegalFulfilmentTransition


class FulfilmentStatus(StrEnum):
    PENDING = "pending"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


_NEXT: dict[FulfilmentStatus, frozenset[FulfilmentStatus]] = {
    FulfilmentStatus.PENDING: frozenset({FulfilmentStatus.SHIPPED, FulfilmentStatus.CANCELLED}),
    FulfilmentStatus.SHIPPED: frozenset({FulfilmentStatus.DELIVERED, FulfilmentStatus.CANCELLED}),
    FulfilmentStatus.DELIVERED: frozenset(),
    FulfilmentStatus.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Fulfilment:
    status: FulfilmentStatus = FulfilmentStatus.PENDING
    carrier: str | None = None
    tracking: str | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @property
    def refunds_points(self) -> bool:
        """Cancelled before it left: the points go back."""
        return self.status is FulfilmentStatus.CANCELLED and self.shipped_at is None


def ship(
    fulfilment: Fulfilment,
    now: datetime,
    *,
    carrier: str | None = None,
    tracking: str | None = None,
) -> Fulfilment:
    _check(fulfilment, FulfilmentStatus.SHIPPED)
    return replace(
        fulfilment,
        status=FulfilmentStatus.SHIPPED,
        shipped_at=now,
        carrier=carrier,
        tracking=tracking,
    )


def deliver(fulfilment: Fulfilment, now: datetime) -> Fulfilment:
    _check(fulfilment, FulfilmentStatus.DELIVERED)
    return replace(fulfilment, status=FulfilmentStatus.DELIVERED, delivered_at=now)


def cancel_fulfilment(fulfilment: Fulfilment, now: datetime, reason: str) -> Fulfilment:
    if not reason.strip():
        raise IllegalFulfilmentTransition("a cancellation needs a reason", field="reason")
    _check(fulfilment, FulfilmentStatus.CANCELLED)
    return replace(
        fulfilment, status=FulfilmentStatus.CANCELLED, cancelled_at=now, cancel_reason=reason
    )


def _check(fulfilment: Fulfilment, target: FulfilmentStatus) -> None:
    if target not in _NEXT[fulfilment.status]:
        raise IllegalFulfilmentTransition(
            f"a {fulfilment.status.value} gift cannot become {target.value}",
            field="status",
            fulfilment_status=fulfilment.status.value,
            target=target.value,
        )
