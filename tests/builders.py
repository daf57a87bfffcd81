"""Builders for events in the JSON shape the API takes, turned into domain events the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from loyalty.api.schemas import EventIn, to_domain
from loyalty.domain.events import InboundEvent

_adapter: TypeAdapter[Any] = TypeAdapter(EventIn)


def order_paid_json(
    event_id: str,
    member: str,
    order_id: str,
    lines: list[tuple[str, int, str]],
    at: datetime,
    *,
    shipping: str = "0",
    tax: str = "0",
    currency: str = "PLN",
    email: str | None = None,
) -> dict[str, Any]:
    member_json: dict[str, Any] = {"external_id": member}
    if email:
        member_json["email"] = email
    return {
        "id": event_id,
        "type": "order.paid",
        "occurred_at": at.isoformat(),
        "member": member_json,
        "data": {
            "order_id": order_id,
            "currency": currency,
            "lines": [{"sku": sku, "quantity": q, "unit_price": price} for sku, q, price in lines],
            "shipping": shipping,
            "tax": tax,
        },
    }


def refund_json(
    event_id: str,
    order_id: str,
    refund_id: str,
    at: datetime,
    *,
    lines: list[tuple[str, int]] | None = None,
    amount: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"order_id": order_id, "refund_id": refund_id}
    if lines is not None:
        data["lines"] = [{"sku": sku, "quantity": q} for sku, q in lines]
    if amount is not None:
        data["amount"] = amount
    return {"id": event_id, "type": "order.refunded", "occurred_at": at.isoformat(), "data": data}


def cancel_json(event_id: str, order_id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.cancelled",
        "occurred_at": at.isoformat(),
        "data": {"order_id": order_id},
    }


def event(body: dict[str, Any]) -> InboundEvent:
    return to_domain(_adapter.validate_python(body))


def order_paid(*args: Any, **kwargs: Any) -> InboundEvent:
    return event(order_paid_json(*args, **kwargs))


def refund(*args: Any, **kwargs: Any) -> InboundEvent:
    return event(refund_json(*args, **kwargs))


def cancel(*args: Any, **kwargs: Any) -> InboundEvent:
    return event(cancel_json(*args, **kwargs))
