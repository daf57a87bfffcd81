"""Inbound store events, already validated: the envelope and one payload per type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.orders import PaidOrder

EVENT_TYPES = (
    "customer.created",
    "customer.updated",
    "order.paid",
    "order.refunded",
    "order.cancelled",
)


@dataclass(frozen=True, slots=True)
class MemberRef:
    """Who the event is about; profile fields ride along and fill the member's profile."""

    external_id: str
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CustomerChanged:
    profile: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OrderPaid:
    order: PaidOrder
    earn: bool = True  # False: history loaded for analytics only, no points


@dataclass(frozen=True, slots=True)
class OrderRefunded:
    order_id: str
    refund_id: str
    lines: tuple[tuple[str, int], ...] | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    order_id: str


@dataclass(frozen=True, slots=True)
class ActionPerformed:
    """A member did something earning rules may reward (``review.approved``, ``custom.<name>``,
    ``member.birthday``...); ``data`` is the event's own payload, ``event.data`` in conditions."""

    data: dict[str, Any] = field(default_factory=dict)


Payload = CustomerChanged | OrderPaid | OrderRefunded | OrderCancelled | ActionPerformed


@dataclass(frozen=True, slots=True)
class InboundEvent:
    source: str  # "api", or a store platform
    event_id: str
    type: str
    occurred_at: datetime
    member: MemberRef | None
    payload: Payload
    body_hash: str  # of the canonical body: the same id with another body is a conflict
