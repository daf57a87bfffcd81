"""What an adapter returns: events to ingest, guest orders to keep, or why it ignored a call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from loyalty.domain.events import InboundEvent

Headers = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class GuestOrder:
    """A paid order from a guest checkout that no member could be named for.

    ``event.member`` is None. The caller keeps the event with the (normalised) email so the
    order can be claimed later by the member who owns that address.
    """

    event: InboundEvent
    email: str | None


@dataclass(frozen=True, slots=True)
class AdapterResult:
    """Events in the order they must be applied, or the reason the delivery changes nothing.

    An ignored delivery (a test order, a topic we do not use, WooCommerce's ping) should still
    be answered 200 so the store does not retry it.
    """

    events: tuple[InboundEvent | GuestOrder, ...] = ()
    ignored: str | None = None

    @classmethod
    def of(cls, *events: InboundEvent | GuestOrder) -> AdapterResult:
        return cls(events=events)

    @classmethod
    def ignore(cls, reason: str) -> AdapterResult:
        return cls(ignored=reason)
