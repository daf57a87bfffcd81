"""Saleor webhooks (subscription payloads): ORDER_FULLY_PAID, ORDER_REFUNDED,
ORDER_FULLY_REFUNDED, ORDER_CANCELLED, CUSTOMER_CREATED and CUSTOMER_UPDATED.

Signature: without a ``secretKey`` on the webhook (Saleor's default since 3.5) ``Saleor-Signature``
is a detached JWS (RS256) checked against the JWKS of the API URL configured on the connector
(``jws.py``); a delivery whose ``Saleor-Api-Url`` names another instance is refused. With a
``secretKey`` (deprecated by Saleor) it is the hex HMAC-SHA256 of the raw body, checked against
the connector's secrets. The event type comes from the ``Saleor-Event`` header
(``order_fully_paid``; matched case-insensitively).

Saleor sends no delivery id. A retry re-sends the stored payload byte for byte, so the event id
is the event type, the object id and the body's SHA-256: equal for a redelivery, different for
any new event. Amounts are GraphQL floats; they are read as exact decimals, never floats.

The subscription query must select what is mapped here: for orders ``id``, ``user { id email
firstName lastName }``, ``userEmail``, ``lines { productSku quantity variant { id sku product
{ id category { name } } } unitPrice { net { amount } } undiscountedUnitPrice { net { amount } }
totalPrice { net { amount } } }``, ``shippingPrice { net { amount } }``, ``total { gross {
amount currency } net { amount } tax { amount } }``, ``chargeStatus``, and for refunds
``grantedRefunds { id status amount { amount } createdAt }`` and/or ``totalRefunded { amount }``;
``issuedAt`` on the event gives the time. For checkouts and referrals also select ``checkoutId``
and ``metadata { key value }`` (and ``privateMetadata { key value }``): the checkout id is the
metadata entry ``checkout_key`` (default ``loyalty_checkout_id``), else ``checkoutId``; the
referral code is the metadata entry ``referral_key`` (default ``loyalty_referral``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.domain.connectors import HookOptions, jwks_url, same_api_url
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
from loyalty.integrations._fields import JsonObject, parse_json
from loyalty.integrations._signatures import first_header, verify_hex
from loyalty.integrations.errors import MalformedPayload, SignatureInvalid
from loyalty.integrations.jws import JwksCache, verify_detached
from loyalty.integrations.results import AdapterResult, GuestOrder, Headers

SOURCE = "saleor"
SIGNATURE_HEADERS = ("Saleor-Signature", "X-Saleor-Signature")  # X- ones are deprecated
EVENT_HEADERS = ("Saleor-Event", "X-Saleor-Event")
API_URL_HEADER = "Saleor-Api-Url"

# Granted refunds count once their money has moved; older Saleor versions send no status.
_REFUNDED_STATUSES = frozenset({None, "SUCCESS"})


def verify(
    headers: Headers,
    raw_body: bytes,
    secrets: Sequence[str],
    *,
    api_url: str | None = None,
    keys: JwksCache | None = None,
) -> None:
    """Raise ``SignatureInvalid`` unless the body is signed: a JWS by the Saleor at ``api_url``
    (its keys fetched through ``keys``), or a hex HMAC by one of ``secrets``.

    ``KeysUnavailable`` when the JWKS cannot be fetched: the signature could not be judged.
    """
    signature = first_header(headers, *SIGNATURE_HEADERS)
    if signature is None or "." not in signature:
        verify_hex(raw_body, signature, secrets, SIGNATURE_HEADERS[0])
        return
    if api_url is None:
        raise SignatureInvalid(
            "Saleor signed this delivery with a JWS: set api_url on the saleor connector to "
            "the shop's GraphQL API URL so its public keys can be fetched"
        )
    named = first_header(headers, API_URL_HEADER)
    if named is not None and not same_api_url(named, api_url):
        raise SignatureInvalid(
            f"the delivery comes from the Saleor at {named}, but this connector is for {api_url}"
        )
    verify_detached(signature, raw_body, jwks_url(api_url), keys or JwksCache())


def to_events(
    headers: Headers,
    raw_body: bytes,
    *,
    guest_matching: bool,
    options: HookOptions | None = None,
) -> AdapterResult:
    """Map a verified delivery; call ``verify`` on the same bytes first."""
    event_type = first_header(headers, *EVENT_HEADERS)
    if event_type is None:
        raise MalformedPayload("the Saleor-Event header is missing", field="Saleor-Event")
    event_type = event_type.lower()
    mapper = _EVENTS.get(event_type)
    if mapper is None:
        return AdapterResult.ignore(f"Saleor event '{event_type}' is not used by the programme")
    body = _event_object(parse_json(raw_body))
    delivery = _Delivery(
        event_type, _common.body_hash(raw_body), guest_matching, body, options or HookOptions()
    )
    return mapper(delivery)


def _event_object(document: Any) -> JsonObject:
    """Saleor posts the subscription's ``event`` object; accept it still wrapped, too."""
    body = JsonObject(document)
    if body.has("data"):
        body = body.obj("data")
    if body.has("event"):
        body = body.obj("event")
    return body


@dataclass(frozen=True, slots=True)
class _Delivery:
    event_type: str
    body_hash: str
    guest_matching: bool
    body: JsonObject
    options: HookOptions

    def event_id(self, object_id: str, *more: str) -> str:
        return _common.event_id(self.event_type, object_id, self.body_hash[:32], *more)

    def issued_at(self, resource: JsonObject, *fallbacks: str) -> datetime:
        issued = self.body.opt_timestamp("issuedAt")
        return issued if issued is not None else resource.first_timestamp(*fallbacks)

    def event(
        self, event_id: str, type_: str, at: datetime, payload: Payload, member: MemberRef | None
    ) -> InboundEvent:
        return InboundEvent(SOURCE, event_id, type_, at, member, payload, self.body_hash)


# --- orders ---------------------------------------------------------------------------------


def _order_fully_paid(delivery: _Delivery) -> AdapterResult:
    order = delivery.body.obj("order")
    item = _common.order_paid(
        source=SOURCE,
        event_id=delivery.event_id(order.ident("id")),
        occurred_at=delivery.issued_at(order, "updatedAt", "created"),
        order=paid_order(order),
        buyer=_buyer(order),
        guest_matching=delivery.guest_matching,
        body_hash=delivery.body_hash,
        checkout_id=_common.first_of(
            _common.checkout_ref(metadata(order, delivery.options.checkout_field(SOURCE))),
            _common.checkout_ref(order.get("checkoutId")),
        ),
        referral=_common.referral(
            _common.referral_code(metadata(order, delivery.options.referral_field(SOURCE))),
            shipping_address=shipping_address(order),
        ),
    )
    return AdapterResult.of(item)


def shipping_address(order: JsonObject) -> Address | None:
    """The order's ``shippingAddress`` when the subscription query asks for it (Saleor sends
    no buyer IP or device on an order)."""
    address = order.get("shippingAddress")
    if not isinstance(address, dict):
        return None
    country = address.get("country")
    return _common.shipping_address(
        line1=address.get("streetAddress1"),
        line2=address.get("streetAddress2"),
        city=address.get("city"),
        postal_code=address.get("postalCode"),
        country=country.get("code") if isinstance(country, dict) else None,
    )


def metadata(order: JsonObject, key: str) -> Any:
    """The order's metadata entry ``key``: public ``metadata`` first, then ``privateMetadata``."""
    for field in ("metadata", "privateMetadata"):
        for item in order.objs(field):
            if item.get("key") == key:
                return item.get("value")
    return None


def paid_order(order: JsonObject) -> PaidOrder:
    """Net (tax-exclusive) line and shipping prices; the tax and the gross total as Saleor has them."""
    total = order.obj("total")
    gross = total.obj("gross")
    tax = total.opt_obj("tax")
    net = total.opt_obj("net")
    shipping = order.opt_obj("shippingPrice")
    return PaidOrder(
        order_id=order.ident("id"),
        currency=gross.opt_text("currency") or total.text("currency"),
        lines=tuple(_line(line) for line in order.objs("lines") if line.integer("quantity") > 0),
        shipping=shipping.obj("net").money("amount") if shipping else Decimal(0),
        tax=_amount(tax) if tax else (_amount(gross) - _amount(net) if net else Decimal(0)),
        total=_amount(gross),
    )


def _line(line: JsonObject) -> OrderLine:
    quantity = line.integer("quantity")
    unit = _net(line.obj("unitPrice"))
    undiscounted = line.opt_obj("undiscountedUnitPrice")
    total = line.opt_obj("totalPrice")
    variant = line.opt_obj("variant") or JsonObject({}, f"{line.path}.variant")
    product = variant.opt_obj("product") or JsonObject({}, f"{variant.path}.product")
    category = product.opt_obj("category")
    return _common.order_line(
        sku=sku(line),
        quantity=quantity,
        gross=(_net(undiscounted) if undiscounted else unit) * quantity,
        net=_net(total) if total else unit * quantity,
        product_id=product.opt_ident("id"),
        category=(category.opt_text("name") or category.opt_text("slug")) if category else None,
    )


def sku(line: JsonObject) -> str:
    variant = line.opt_obj("variant") or JsonObject({}, f"{line.path}.variant")
    return _common.sku_or_id(
        line.opt_text("productSku") or variant.opt_text("sku"),
        variant=variant.opt_ident("id") or line.opt_ident("productVariantId"),
        line=line.opt_ident("id"),
    )


def _net(taxed: JsonObject) -> Decimal:
    return _amount(taxed.obj("net"))


def _amount(money: JsonObject) -> Decimal:
    return money.money("amount")


def _buyer(order: JsonObject) -> _common.Buyer:
    user = order.opt_obj("user") or JsonObject({}, "order.user")
    email = user.opt_text("email") or order.opt_text("userEmail")
    return _common.Buyer(
        customer_id=user.opt_ident("id"),
        email=_common.guest_email(email),
        profile=_common.profile(
            email=email,
            first_name=user.opt_text("firstName"),
            last_name=user.opt_text("lastName"),
            locale=_locale(user.opt_text("languageCode")),
        ),
    )


def _order_cancelled(delivery: _Delivery) -> AdapterResult:
    order = delivery.body.obj("order")
    order_id = order.ident("id")
    if order.opt_text("chargeStatus") == "NONE":
        return AdapterResult.ignore(f"order {order_id} was cancelled with nothing charged")
    at = delivery.issued_at(order, "updatedAt", "created")
    event = delivery.event(
        delivery.event_id(order_id), "order.cancelled", at, OrderCancelled(order_id), None
    )
    return AdapterResult.of(event)


# --- refunds --------------------------------------------------------------------------------


def _order_refunded(delivery: _Delivery) -> AdapterResult:
    """One ``order.refunded`` per granted refund, by amount; else ``totalRefunded``.

    ``totalRefunded`` is a running total, which a pure mapping cannot turn into this refund's
    share; it is used only when the whole order is refunded, as a cancellation (which takes
    back whatever the order still holds, however much earlier refunds took).
    """
    order = delivery.body.obj("order")
    order_id = order.ident("id")
    events: list[InboundEvent | GuestOrder] = []
    for granted in order.objs("grantedRefunds"):
        amount = _amount(granted.obj("amount"))
        if granted.opt_text("status") not in _REFUNDED_STATUSES or amount <= 0:
            continue
        refund_id = granted.ident("id")
        at = granted.opt_timestamp("createdAt") or delivery.issued_at(order, "updatedAt")
        payload = OrderRefunded(order_id, refund_id, amount=amount)
        event_id = delivery.event_id(order_id, "refund", refund_id)
        events.append(delivery.event(event_id, "order.refunded", at, payload, None))
    if events:
        return AdapterResult(events=tuple(events))
    return _refunded_in_total(delivery, order)


def _refunded_in_total(delivery: _Delivery, order: JsonObject) -> AdapterResult:
    order_id = order.ident("id")
    refunded = order.opt_obj("totalRefunded")
    if refunded is None:
        if order.has("grantedRefunds"):
            return AdapterResult.ignore(f"order {order_id} has no completed granted refund")
        raise MalformedPayload(
            "the subscription payload has neither order.grantedRefunds nor order.totalRefunded",
            field="order.grantedRefunds",
        )
    amount = _amount(refunded)
    if amount <= 0:
        return AdapterResult.ignore(f"order {order_id} has nothing refunded")
    whole = _amount(order.obj("total").obj("gross"))
    if delivery.event_type != "order_fully_refunded" and amount < whole:
        raise MalformedPayload(
            f"order {order_id} is partly refunded ({amount} of {whole}) and the payload has no "
            "grantedRefunds to say by how much this time: add grantedRefunds { id status "
            "amount { amount } } to the subscription query",
            field="order.grantedRefunds",
        )
    at = delivery.issued_at(order, "updatedAt")
    event_id = delivery.event_id(order_id, "refunded")
    event = delivery.event(event_id, "order.cancelled", at, OrderCancelled(order_id), None)
    return AdapterResult.of(event)


# --- customers ------------------------------------------------------------------------------


def _customer_event(type_: str) -> Callable[[_Delivery], AdapterResult]:
    def mapper(delivery: _Delivery) -> AdapterResult:
        user = delivery.body.obj("user")
        user_id = user.ident("id")
        profile = _common.profile(
            email=user.opt_text("email"),
            first_name=user.opt_text("firstName"),
            last_name=user.opt_text("lastName"),
            locale=_locale(user.opt_text("languageCode")),
        )
        at = delivery.issued_at(user, "updatedAt", "dateJoined")
        event_id = delivery.event_id(user_id)
        event = delivery.event(event_id, type_, at, CustomerChanged(profile), MemberRef(user_id))
        return AdapterResult.of(event)

    return mapper


def _locale(language_code: str | None) -> str | None:
    """Saleor's ``LanguageCodeEnum`` (``EN``, ``PL_PL``) as a locale tag (``en``, ``pl-PL``)."""
    if not language_code:
        return None
    language, _, region = language_code.partition("_")
    return f"{language.lower()}-{region}" if region else language.lower()


_EVENTS: dict[str, Callable[[_Delivery], AdapterResult]] = {
    "order_fully_paid": _order_fully_paid,
    "order_refunded": _order_refunded,
    "order_fully_refunded": _order_refunded,
    "order_cancelled": _order_cancelled,
    "customer_created": _customer_event("customer.created"),
    "customer_updated": _customer_event("customer.updated"),
}
