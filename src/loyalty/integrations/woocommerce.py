"""WooCommerce webhooks: order.created / order.updated, customer.created / customer.updated.

WooCommerce signs the raw body with the webhook's secret; ``X-WC-Webhook-Signature`` is the
base64 HMAC-SHA256. Each delivery gets a fresh ``X-WC-Webhook-Delivery-ID``, which is our event
id. Orders arrive whole (REST API v3 shape) on every change, so one delivery can carry several
facts: the payment (status processing/completed with ``date_paid_gmt``), each refund in
``refunds`` (negative ``total``, no line detail: reversed by amount) and a cancellation. Each
becomes its own event; the ledger ignores an order or refund id it has already applied, so the
same facts repeated by later deliveries change nothing.

A paid order carries our checkout id and the customer's referral code in its ``meta_data``
under the connector's ``checkout_key`` and ``referral_key`` (defaults ``_loyalty_checkout_id``
and ``_loyalty_referral``), as the shop's plugin or theme stores them on the order.

When a webhook is created WooCommerce posts an unsigned form body ``webhook_id=<id>`` and keeps
the webhook only if it gets a 200: that ping passes ``verify`` and maps to an ignored result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.connectors import HookOptions
from loyalty.domain.events import (
    CustomerChanged,
    InboundEvent,
    MemberRef,
    OrderCancelled,
    OrderRefunded,
    Payload,
)
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.referrals.identity import Address
from loyalty.integrations import _common
from loyalty.integrations._fields import JsonObject, id_of, parse_json, timestamp_of
from loyalty.integrations._signatures import header, verify_base64
from loyalty.integrations.errors import MalformedPayload
from loyalty.integrations.results import AdapterResult, GuestOrder, Headers

SOURCE = "woocommerce"
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
DELIVERY_HEADER = "X-WC-Webhook-Delivery-ID"

PAID_STATUSES = frozenset({"processing", "completed"})
_PING = re.compile(rb"webhook_id=(\d+)")


def ping_webhook_id(raw_body: bytes) -> str | None:
    """The webhook id of WooCommerce's creation ping (``webhook_id=12``), else None."""
    match = _PING.fullmatch(raw_body.strip())
    return match.group(1).decode() if match else None


def verify(headers: Headers, raw_body: bytes, secrets: Sequence[str]) -> None:
    """Raise ``SignatureInvalid`` unless the body is signed by one of ``secrets``.

    The unsigned creation ping passes: WooCommerce does not sign it, it must get a 200, and
    ``to_events`` maps it to nothing.
    """
    signature = header(headers, SIGNATURE_HEADER)
    if signature is None and ping_webhook_id(raw_body) is not None:
        return
    verify_base64(raw_body, signature, secrets, SIGNATURE_HEADER)


def to_events(
    headers: Headers,
    raw_body: bytes,
    *,
    guest_matching: bool,
    options: HookOptions | None = None,
) -> AdapterResult:
    """Map a verified delivery; call ``verify`` on the same bytes first."""
    webhook_id = ping_webhook_id(raw_body)
    if webhook_id is not None:
        return AdapterResult.ignore(f"WooCommerce ping for webhook {webhook_id}")
    topic = _required_header(headers, TOPIC_HEADER).lower()
    mapper = _TOPICS.get(topic)
    if mapper is None:
        return AdapterResult.ignore(f"WooCommerce topic '{topic}' is not used by the programme")
    delivery = _Delivery(
        delivery_id=_required_header(headers, DELIVERY_HEADER),
        body_hash=_common.body_hash(raw_body),
        guest_matching=guest_matching,
        options=options or HookOptions(),
    )
    return mapper(delivery, JsonObject(parse_json(raw_body)))


@dataclass(frozen=True, slots=True)
class _Delivery:
    delivery_id: str
    body_hash: str
    guest_matching: bool
    options: HookOptions

    def event(
        self, suffix: str, type_: str, at: datetime, payload: Payload, member: MemberRef | None
    ) -> InboundEvent:
        return InboundEvent(
            source=SOURCE,
            event_id=_common.event_id(self.delivery_id, suffix) if suffix else self.delivery_id,
            type=type_,
            occurred_at=at,
            member=member,
            payload=payload,
            body_hash=self.body_hash,
        )


def shipping_address(order: JsonObject) -> Address | None:
    """The order's ``shipping`` address (all fields empty when nothing is shipped)."""
    address = order.get("shipping")
    if not isinstance(address, dict):
        return None
    return _common.shipping_address(
        line1=address.get("address_1"),
        line2=address.get("address_2"),
        city=address.get("city"),
        postal_code=address.get("postcode"),
        country=address.get("country"),
    )


def _required_header(headers: Headers, name: str) -> str:
    value = header(headers, name)
    if value is None:
        raise MalformedPayload(f"the {name} header is missing", field=name)
    return value


# --- orders ---------------------------------------------------------------------------------


def _order(delivery: _Delivery, order: JsonObject) -> AdapterResult:
    order_id, status = order.ident("id"), order.text("status").lower()
    paid_at = _time(order, "date_paid_gmt")
    if paid_at is None:
        return AdapterResult.ignore(f"order {order_id} is {status} and has not been paid")
    changed_at = _time(order, "date_modified_gmt") or paid_at
    events: list[InboundEvent | GuestOrder] = []
    if status in PAID_STATUSES:
        events.append(
            _common.order_paid(
                source=SOURCE,
                event_id=_common.event_id(delivery.delivery_id, "paid"),
                occurred_at=paid_at,
                order=paid_order(order),
                buyer=_buyer(order),
                guest_matching=delivery.guest_matching,
                body_hash=delivery.body_hash,
                checkout_id=_common.checkout_ref(
                    meta_value(order, delivery.options.checkout_field(SOURCE))
                ),
                referral=_common.referral(
                    _common.referral_code(
                        meta_value(order, delivery.options.referral_field(SOURCE))
                    ),
                    ip_hash=_common.ip_hash(order.get("customer_ip_address")),
                    shipping_address=shipping_address(order),
                ),
            )
        )
    for refund_id, amount in refunds(order):
        refund = OrderRefunded(order_id, refund_id, amount=amount)
        events.append(
            delivery.event(f"refund:{refund_id}", "order.refunded", changed_at, refund, None)
        )
    if status == "cancelled":
        cancel = OrderCancelled(order_id)
        events.append(delivery.event("cancelled", "order.cancelled", changed_at, cancel, None))
    if not events:
        return AdapterResult.ignore(f"order {order_id} is {status}: nothing for the programme")
    return AdapterResult(events=tuple(events))


def meta_value(order: JsonObject, key: str) -> Any:
    """The value of the order's ``meta_data`` entry ``key`` (the first one if it repeats, as
    WooCommerce's ``get_meta`` reads it), or None."""
    for meta in order.objs("meta_data"):
        if meta.get("key") == key:
            return meta.get("value")
    return None


def paid_order(order: JsonObject) -> PaidOrder:
    """Line ``subtotal``/``total`` are before/after coupons and always exclude tax."""
    return PaidOrder(
        order_id=order.ident("id"),
        currency=order.text("currency"),
        lines=tuple(
            _line(item) for item in order.objs("line_items") if item.integer("quantity") > 0
        ),
        shipping=order.opt_money("shipping_total") or Decimal(0),
        tax=order.opt_money("total_tax") or Decimal(0),
        total=order.opt_money("total"),
    )


def _line(item: JsonObject) -> OrderLine:
    quantity = item.integer("quantity")
    product_id = _woo_id(item, "product_id")
    return _common.order_line(
        sku=_common.sku_or_id(
            item.opt_text("sku"),
            variant=_woo_id(item, "variation_id"),
            product=product_id,
            line=_woo_id(item, "id"),
        ),
        quantity=quantity,
        gross=item.money("subtotal"),
        net=item.money("total"),
        product_id=product_id,
    )


def refunds(order: JsonObject) -> list[tuple[str, Decimal]]:
    """(refund id, amount) oldest first; WooCommerce lists them newest first, totals negative."""
    found: list[tuple[str, Decimal]] = []
    for refund in order.objs("refunds"):
        amount = abs(refund.money("total"))
        if amount > 0:
            found.append((refund.ident("id"), amount))
    return sorted(found, key=lambda pair: (len(pair[0]), pair[0]))


def _buyer(order: JsonObject) -> _common.Buyer:
    billing = order.opt_obj("billing") or JsonObject({}, "billing")
    email = billing.opt_text("email")
    return _common.Buyer(
        customer_id=_woo_id(order, "customer_id"),  # 0 for a guest checkout
        email=_common.guest_email(email),
        profile=_common.profile(
            email=email,
            phone=billing.opt_text("phone"),
            first_name=billing.opt_text("first_name"),
            last_name=billing.opt_text("last_name"),
        ),
    )


# --- customers ------------------------------------------------------------------------------


def _customer_event(type_: str) -> Callable[[_Delivery, JsonObject], AdapterResult]:
    def mapper(delivery: _Delivery, customer: JsonObject) -> AdapterResult:
        customer_id = _woo_id(customer, "id")
        if customer_id is None:
            raise MalformedPayload("customer id is required", field="id")
        billing = customer.opt_obj("billing") or JsonObject({}, "billing")
        profile = _common.profile(
            email=customer.opt_text("email") or billing.opt_text("email"),
            phone=billing.opt_text("phone"),
            first_name=customer.opt_text("first_name") or billing.opt_text("first_name"),
            last_name=customer.opt_text("last_name") or billing.opt_text("last_name"),
        )
        keys = ("date_modified_gmt", "date_created_gmt")
        if type_ == "customer.created":
            keys = ("date_created_gmt", "date_modified_gmt")
        at = next((t for key in keys if (t := _time(customer, key)) is not None), None)
        if at is None:
            raise MalformedPayload(f"{keys[0]} is required", field=keys[0])
        member = MemberRef(customer_id)
        return AdapterResult.of(delivery.event("", type_, at, CustomerChanged(profile), member))

    return mapper


# --- WooCommerce's conventions --------------------------------------------------------------


def _woo_id(resource: JsonObject, key: str) -> str | None:
    """WooCommerce writes 0 for "none" (guest customer, no variation, deleted product)."""
    value = resource.get(key)
    if value in (None, 0, "0", ""):
        return None
    return id_of(value, f"{resource.path}.{key}" if resource.path else key)


def _time(resource: JsonObject, key: str) -> datetime | None:
    """A ``*_gmt`` date: ISO without offset, in UTC; null (or false, in old versions) if unset."""
    value = resource.get(key)
    if value in (None, False, ""):
        return None
    return timestamp_of(
        value, f"{resource.path}.{key}" if resource.path else key, naive_is_utc=True
    )


_TOPICS: dict[str, Callable[[_Delivery, JsonObject], AdapterResult]] = {
    "order.created": _order,
    "order.updated": _order,
    "customer.created": _customer_event("customer.created"),
    "customer.updated": _customer_event("customer.updated"),
}
