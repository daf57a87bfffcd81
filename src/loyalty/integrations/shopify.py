"""Shopify webhooks: orders/paid, orders/cancelled, refunds/create, customers/create|update.

Shopify signs the raw body with the app's client secret; ``X-Shopify-Hmac-Sha256`` is the
base64 HMAC-SHA256. Only the body is signed, not the headers. ``X-Shopify-Webhook-Id`` names the
delivery and stays the same when Shopify retries it, so it is our event id. Money is read in the
shop's currency (``currency``, ``price``, ``total_price``), never the presentment currency.

A paid order carries our checkout id (to commit what ``/v1/checkouts`` held for it) from the
note attribute named by the connector's ``checkout_key`` (default ``loyalty_checkout_id``),
else the order's ``checkout_token``, else its ``checkout_id``; and the referral code the
customer came with from the note attribute ``referral_key`` (default ``loyalty_referral``),
else the ``ref`` query parameter (``referral_param``) of the order's ``landing_site``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loyalty.domain.connectors import HookOptions
from loyalty.domain.events import (
    CustomerChanged,
    InboundEvent,
    MemberRef,
    OrderCancelled,
    OrderRefunded,
)
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.referrals.identity import Address
from loyalty.integrations import _common
from loyalty.integrations._fields import JsonObject, parse_json
from loyalty.integrations._signatures import header, verify_base64
from loyalty.integrations.errors import MalformedPayload
from loyalty.integrations.results import AdapterResult, Headers

SOURCE = "shopify"
SIGNATURE_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"

# financial_status of an order that never earned: cancelling it has nothing to take back.
_NEVER_PAID = frozenset({"pending", "authorized", "partially_paid", "voided", "expired"})


def verify(headers: Headers, raw_body: bytes, secrets: Sequence[str]) -> None:
    """Raise ``SignatureInvalid`` unless the body is signed by one of ``secrets``.

    Pass the current and the previous app secret during a rotation.
    """
    verify_base64(raw_body, header(headers, SIGNATURE_HEADER), secrets, SIGNATURE_HEADER)


def to_events(
    headers: Headers,
    raw_body: bytes,
    *,
    guest_matching: bool,
    options: HookOptions | None = None,
) -> AdapterResult:
    """Map a verified delivery; call ``verify`` on the same bytes first."""
    topic = _required_header(headers, TOPIC_HEADER).lower()
    mapper = _TOPICS.get(topic)
    if mapper is None:
        return AdapterResult.ignore(f"Shopify topic '{topic}' is not used by the programme")
    delivery = _Delivery(
        event_id=_required_header(headers, WEBHOOK_ID_HEADER),
        body_hash=_common.body_hash(raw_body),
        guest_matching=guest_matching,
        options=options or HookOptions(),
    )
    return mapper(delivery, JsonObject(parse_json(raw_body)))


@dataclass(frozen=True, slots=True)
class _Delivery:
    event_id: str
    body_hash: str
    guest_matching: bool
    options: HookOptions


def _required_header(headers: Headers, name: str) -> str:
    value = header(headers, name)
    if value is None:
        raise MalformedPayload(f"the {name} header is missing", field=name)
    return value


# --- orders ---------------------------------------------------------------------------------


def _order_paid(delivery: _Delivery, order: JsonObject) -> AdapterResult:
    if order.flag("test"):
        return AdapterResult.ignore(f"order {order.ident('id')} is a test order")
    item = _common.order_paid(
        source=SOURCE,
        event_id=delivery.event_id,
        occurred_at=order.first_timestamp("updated_at", "processed_at", "created_at"),
        order=paid_order(order),
        buyer=_buyer(order),
        guest_matching=delivery.guest_matching,
        body_hash=delivery.body_hash,
        checkout_id=checkout_id(order, delivery.options),
        referral=_common.referral(
            referral_code(order, delivery.options),
            ip_hash=_common.ip_hash(_browser_ip(order)),
            shipping_address=shipping_address(order),
        ),
    )
    return AdapterResult.of(item)


def _browser_ip(order: JsonObject) -> Any:
    """The buyer's IP: the order's ``browser_ip``, else ``client_details.browser_ip``."""
    client = order.get("client_details")
    return order.get("browser_ip") or (
        client.get("browser_ip") if isinstance(client, dict) else None
    )


def shipping_address(order: JsonObject) -> Address | None:
    """The order's ``shipping_address`` (absent when nothing is shipped)."""
    address = order.get("shipping_address")
    if not isinstance(address, dict):
        return None
    return _common.shipping_address(
        line1=address.get("address1"),
        line2=address.get("address2"),
        city=address.get("city"),
        postal_code=address.get("zip"),
        country=address.get("country_code"),
    )


def _note_attribute(order: JsonObject, name: str) -> Any:
    """The value of the order's note attribute ``name`` (cart attributes set by the shop)."""
    for attribute in order.objs("note_attributes"):
        if attribute.get("name") == name:
            return attribute.get("value")
    return None


def checkout_id(order: JsonObject, options: HookOptions) -> str | None:
    return _common.first_of(
        _common.checkout_ref(_note_attribute(order, options.checkout_field(SOURCE))),
        _common.checkout_ref(order.get("checkout_token")),
        _common.checkout_ref(order.get("checkout_id")),
    )


def referral_code(order: JsonObject, options: HookOptions) -> str | None:
    return _common.first_of(
        _common.referral_code(_note_attribute(order, options.referral_field(SOURCE))),
        _common.referral_code(_query_param(order.get("landing_site"), options.link_param())),
    )


def _query_param(landing_site: Any, name: str) -> str | None:
    """``ref`` from a landing site such as ``/products/mug?ref=ANNA-7Q2`` (or a full URL)."""
    if not isinstance(landing_site, str) or "?" not in landing_site:
        return None
    values = parse_qs(urlsplit(landing_site).query).get(name)
    return values[0] if values else None


def paid_order(order: JsonObject) -> PaidOrder:
    """The order as the ledger sees it; with ``taxes_included`` the tax leaves the line prices."""
    taxes_included = order.flag("taxes_included")
    lines = tuple(
        _line(item, taxes_included)
        for item in order.objs("line_items")
        if item.integer("quantity") > 0  # nothing to earn on a line with no units
    )
    return PaidOrder(
        order_id=order.ident("id"),
        currency=order.text("currency"),
        lines=lines,
        shipping=_shipping(order, taxes_included),
        tax=order.opt_money("total_tax") or Decimal(0),
        total=order.opt_money("total_price"),
    )


def _line(item: JsonObject, taxes_included: bool) -> OrderLine:
    quantity = item.integer("quantity")
    gross = item.money("price") * quantity
    net = gross - _sum(item.objs("discount_allocations"), "amount")
    if taxes_included:
        tax = _sum(item.objs("tax_lines"), "price")
        gross, net = gross - tax, net - tax
    return _common.order_line(
        sku=sku(item),
        quantity=quantity,
        gross=gross,
        net=net,
        product_id=item.opt_ident("product_id"),
        category="gift_card" if item.flag("gift_card") else None,
        brand=_brand(item.opt_text("vendor")),
    )


def _brand(vendor: str | None) -> str | None:
    """Shopify's ``vendor`` is the product's brand (earning rules can select lines by it)."""
    return vendor[: _common.MAX_ID_LENGTH] if vendor else None


def sku(item: JsonObject) -> str:
    """A line item's SKU, else its variant, product or line id (the same for its refunds)."""
    return _common.sku_or_id(
        item.opt_text("sku"),
        variant=item.opt_ident("variant_id"),
        product=item.opt_ident("product_id"),
        line=item.opt_ident("id"),
    )


def _shipping(order: JsonObject, taxes_included: bool) -> Decimal:
    """Shipping after its discounts; ``total_shipping_price_set`` when no lines are sent."""
    if not order.has("shipping_lines"):
        shipping_set = order.opt_obj("total_shipping_price_set")
        if shipping_set is None:
            return Decimal(0)
        return shipping_set.obj("shop_money").money("amount")
    total = Decimal(0)
    for line in order.objs("shipping_lines"):
        total += line.money("price") - _sum(line.objs("discount_allocations"), "amount")
        if taxes_included:
            total -= _sum(line.objs("tax_lines"), "price")
    return max(total, Decimal(0))


def _sum(items: list[JsonObject], key: str) -> Decimal:
    return sum((item.money(key) for item in items), Decimal(0))


def _buyer(order: JsonObject) -> _common.Buyer:
    customer = order.opt_obj("customer") or JsonObject({}, "customer")
    address = order.opt_obj("billing_address") or JsonObject({}, "billing_address")
    email = customer.opt_text("email") or order.opt_text("email") or order.opt_text("contact_email")
    return _common.Buyer(
        customer_id=customer.opt_ident("id"),
        email=_common.guest_email(email),
        profile=_common.profile(
            email=email,
            phone=customer.opt_text("phone") or order.opt_text("phone"),
            first_name=customer.opt_text("first_name") or address.opt_text("first_name"),
            last_name=customer.opt_text("last_name") or address.opt_text("last_name"),
        ),
    )


def _order_cancelled(delivery: _Delivery, order: JsonObject) -> AdapterResult:
    order_id = order.ident("id")
    if order.flag("test"):
        return AdapterResult.ignore(f"order {order_id} is a test order")
    status = order.opt_text("financial_status")
    if status in _NEVER_PAID:
        return AdapterResult.ignore(f"order {order_id} was cancelled unpaid ({status})")
    event = InboundEvent(
        source=SOURCE,
        event_id=delivery.event_id,
        type="order.cancelled",
        occurred_at=order.first_timestamp("cancelled_at", "updated_at"),
        member=None,
        payload=OrderCancelled(order_id),
        body_hash=delivery.body_hash,
    )
    return AdapterResult.of(event)


# --- refunds --------------------------------------------------------------------------------


def _refund_created(delivery: _Delivery, refund: JsonObject) -> AdapterResult:
    """A refund names its lines (``refund_line_items``) and the money in ``transactions``.

    Lines win when every refunded line item is included, since they say what came back; a
    refund without lines (shipping, goodwill) is taken by the money actually refunded.
    """
    order_id, refund_id = refund.ident("order_id"), refund.ident("id")
    transactions = [
        t
        for t in refund.objs("transactions")
        if t.opt_text("kind") == "refund" and t.opt_text("status") == "success"
    ]
    if transactions and all(t.flag("test") for t in transactions):
        return AdapterResult.ignore(f"refund {refund_id} is a test refund")
    items = [r for r in refund.objs("refund_line_items") if r.integer("quantity") > 0]
    amount = _sum(transactions, "amount")
    if items and all(r.has("line_item") for r in items):
        lines = tuple((sku(r.obj("line_item")), r.integer("quantity")) for r in items)
        payload = OrderRefunded(order_id, refund_id, lines=lines)
    elif amount > 0:
        payload = OrderRefunded(order_id, refund_id, amount=amount)
    elif items:
        raise MalformedPayload(
            f"refund {refund_id} lists refund_line_items without their line_item and refunds no "
            "money, so there is no way to know what it returned",
            field="refund_line_items",
        )
    else:
        return AdapterResult.ignore(f"refund {refund_id} returns neither money nor items")
    event = InboundEvent(
        source=SOURCE,
        event_id=delivery.event_id,
        type="order.refunded",
        occurred_at=refund.first_timestamp("processed_at", "created_at"),
        member=None,
        payload=payload,
        body_hash=delivery.body_hash,
    )
    return AdapterResult.of(event)


# --- customers ------------------------------------------------------------------------------


def _customer_event(type_: str) -> Callable[[_Delivery, JsonObject], AdapterResult]:
    def mapper(delivery: _Delivery, customer: JsonObject) -> AdapterResult:
        event = InboundEvent(
            source=SOURCE,
            event_id=delivery.event_id,
            type=type_,
            occurred_at=customer.first_timestamp("updated_at", "created_at"),
            member=MemberRef(customer.ident("id")),
            payload=CustomerChanged(customer_profile(customer)),
            body_hash=delivery.body_hash,
        )
        return AdapterResult.of(event)

    return mapper


def customer_profile(customer: JsonObject) -> dict[str, Any]:
    return _common.profile(
        email=customer.opt_text("email"),
        phone=customer.opt_text("phone"),
        first_name=customer.opt_text("first_name"),
        last_name=customer.opt_text("last_name"),
        consents=_consents(customer),
    )


_CONSENT_STATES = {"subscribed": True, "not_subscribed": False, "unsubscribed": False}


def _consents(customer: JsonObject) -> dict[str, bool]:
    """Marketing consent per channel; states like 'pending' (double opt-in) say nothing yet."""
    consents: dict[str, bool] = {}
    for channel, key in (("email", "email_marketing_consent"), ("sms", "sms_marketing_consent")):
        consent = customer.opt_obj(key)
        state = consent.opt_text("state") if consent else None
        if state in _CONSENT_STATES:
            consents[channel] = _CONSENT_STATES[state]
    legacy = customer.get("accepts_marketing")
    if "email" not in consents and isinstance(legacy, bool):
        consents["email"] = legacy
    return consents


_TOPICS: dict[str, Callable[[_Delivery, JsonObject], AdapterResult]] = {
    "orders/paid": _order_paid,
    "orders/cancelled": _order_cancelled,
    "refunds/create": _refund_created,
    "customers/create": _customer_event("customer.created"),
    "customers/update": _customer_event("customer.updated"),
}
