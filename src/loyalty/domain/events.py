"""Inbound store events, already validated: the envelope and one payload per type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.orders import PaidOrder
from loyalty.domain.referrals.identity import Address

EVENT_TYPES = (
    "customer.created",
    "customer.updated",
    "order.paid",
    "order.refunded",
    "order.cancelled",
)
# Paid membership billing events (POST /v1/events and the generic connector; the platform
# connectors do not send them).
MEMBERSHIP_EVENT_TYPES = (
    "membership.started",
    "membership.renewed",
    "membership.cancelled",
    "membership.expired",
)


@dataclass(frozen=True, slots=True)
class MemberRef:
    """Who the event is about; profile fields ride along and fill the member's profile."""

    external_id: str
    profile: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReferralData:
    """What a sign-up or an order may carry for referrals: the code the customer came with,
    and the hashed device id / IP and shipping address the self-referral checks compare."""

    code: str | None = None
    device_hash: str | None = None
    ip_hash: str | None = None
    shipping_address: Address | None = None


@dataclass(frozen=True, slots=True)
class CustomerChanged:
    profile: dict[str, Any]
    referral: ReferralData | None = None


@dataclass(frozen=True, slots=True)
class OrderPaid:
    order: PaidOrder
    earn: bool = True  # False: history loaded for analytics only, no points
    referral: ReferralData | None = None
    checkout_id: str | None = None  # the checkout whose held codes and points it commits


@dataclass(frozen=True, slots=True)
class OrderRefunded:
    order_id: str
    refund_id: str
    lines: tuple[tuple[str, int], ...] | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    order_id: str
    checkout_id: str | None = None  # releases what the checkout holds, paid or not


@dataclass(frozen=True, slots=True)
class MembershipChanged:
    membership_id: str  # the store's subscription id
    plan_id: int | None = None  # membership.started only
    immediately: bool = False  # membership.cancelled: end the benefits now, not at term end


@dataclass(frozen=True, slots=True)
class ActionPerformed:
    """A member did something earning rules may reward (``review.approved``, ``custom.<name>``,
    ``member.birthday``...); ``data`` is the event's own payload, ``event.data`` in conditions."""

    data: dict[str, Any] = field(default_factory=dict)


Payload = (
    CustomerChanged
    | OrderPaid
    | OrderRefunded
    | OrderCancelled
    | MembershipChanged
    | ActionPerformed
)


@dataclass(frozen=True, slots=True)
class InboundEvent:
    source: str  # "api", or a store platform
    event_id: str
    type: str
    occurred_at: datetime
    member: MemberRef | None
    payload: Payload
    body_hash: str  # of the canonical body: the same id with another body is a conflict
