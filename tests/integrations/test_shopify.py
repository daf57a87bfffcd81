from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from loyalty.domain.errors import ErrorCode
from loyalty.domain.events import (
    CustomerChanged,
    InboundEvent,
    OrderCancelled,
    OrderPaid,
    OrderRefunded,
)
from loyalty.domain.orders import OrderLine
from loyalty.integrations import shopify
from loyalty.integrations.errors import MalformedJson, MalformedPayload, SignatureInvalid
from loyalty.integrations.results import AdapterResult, GuestOrder
from tests.integrations.support import OLD_SECRET, SECRET, base64_hmac, edited, raw

EST = timezone(timedelta(hours=-5))
WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def headers(topic: str, body: bytes, *, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64_hmac(body, secret),
        "X-Shopify-Shop-Domain": "bobs-store.myshopify.com",
        "X-Shopify-API-Version": "2026-01",
        "X-Shopify-Webhook-Id": WEBHOOK_ID,
        "X-Shopify-Event-Id": "7b8c9d0a-1234-5678-90ab-cdef12345678",
        "X-Shopify-Triggered-At": "2026-02-27T15:16:05.123Z",
    }


def receive(topic: str, body: bytes, *, guest_matching: bool = False) -> AdapterResult:
    sent = headers(topic, body)
    shopify.verify(sent, body, [SECRET])
    return shopify.to_events(sent, body, guest_matching=guest_matching)


def only_event(result: AdapterResult) -> InboundEvent:
    assert result.ignored is None
    (event,) = result.events
    assert isinstance(event, InboundEvent)
    return event


# --- signatures -----------------------------------------------------------------------------


def test_a_body_signed_with_the_app_secret_verifies() -> None:
    body = raw("shopify/orders_paid.json")
    shopify.verify(headers("orders/paid", body), body, [SECRET])


def test_the_old_secret_still_verifies_during_a_rotation() -> None:
    # given a delivery signed with the secret being rotated out
    body = raw("shopify/orders_paid.json")
    sent = headers("orders/paid", body, secret=OLD_SECRET)
    # then it verifies while both secrets are configured, and not after
    shopify.verify(sent, body, [SECRET, OLD_SECRET])
    with pytest.raises(SignatureInvalid):
        shopify.verify(sent, body, [SECRET])


def test_header_names_are_case_insensitive() -> None:
    body = raw("shopify/orders_paid.json")
    sent = {k.lower(): v for k, v in headers("orders/paid", body).items()}
    shopify.verify(sent, body, [SECRET])
    assert only_event(shopify.to_events(sent, body, guest_matching=False)).event_id == WEBHOOK_ID


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing"),
        (base64_hmac(b"{}"), "does not match"),
        (base64_hmac(raw("shopify/orders_paid.json"), "another app"), "does not match"),
        ("not base64!", "not base64"),
        # the hex digest of the right HMAC is not what Shopify sends
        (hashlib.sha256(b"x").hexdigest(), "does not match"),
    ],
)
def test_a_missing_or_wrong_signature_is_refused(signature: str | None, reason: str) -> None:
    body = raw("shopify/orders_paid.json")
    sent = headers("orders/paid", body)
    del sent["X-Shopify-Hmac-Sha256"]
    if signature is not None:
        sent["X-Shopify-Hmac-Sha256"] = signature
    with pytest.raises(SignatureInvalid, match=reason) as caught:
        shopify.verify(sent, body, [SECRET])
    assert caught.value.code == "invalid_signature"


def test_a_body_changed_after_signing_is_refused() -> None:
    body = raw("shopify/orders_paid.json")
    sent = headers("orders/paid", body)
    tampered = body.replace(b'"total_price": "461.43"', b'"total_price": "9461.43"')
    with pytest.raises(SignatureInvalid):
        shopify.verify(sent, tampered, [SECRET])


def test_no_configured_secret_refuses_everything() -> None:
    body = raw("shopify/orders_paid.json")
    with pytest.raises(SignatureInvalid, match="no signing secret"):
        shopify.verify(headers("orders/paid", body), body, ["", ""])


# --- orders/paid ----------------------------------------------------------------------------


def test_a_paid_order_maps_to_order_paid_for_the_customer() -> None:
    body = raw("shopify/orders_paid.json")
    event = only_event(receive("orders/paid", body))
    assert event.source == "shopify"
    assert event.event_id == WEBHOOK_ID
    assert event.type == "order.paid"
    assert event.occurred_at == datetime(2026, 2, 27, 10, 16, 5, tzinfo=EST)
    assert event.body_hash == hashlib.sha256(body).hexdigest()
    assert event.member is not None
    assert event.member.external_id == "115310627314723954"
    assert event.member.profile == {
        "email": "bob.norman@mail.example.com",
        "phone": "+16136120707",
        "first_name": "Bob",
        "last_name": "Norman",
    }
    assert isinstance(event.payload, OrderPaid)
    order = event.payload.order
    assert order.order_id == "820982911946154508"
    assert order.currency == "USD"
    assert order.lines == (
        OrderLine(
            "IPOD2008PINK", 2, Decimal("199.00"), Decimal("10.00"), "632910392", brand="Apple"
        ),
        OrderLine(
            "variant:642667041472713922", 1, Decimal("29.99"), Decimal("0"), "788032119674292922"
        ),
    )
    assert (order.shipping, order.tax, order.total) == (
        Decimal("10.00"),
        Decimal("33.44"),
        Decimal("461.43"),
    )
    assert order.charged_total == order.lines_net + order.shipping + order.tax


def test_64_bit_ids_keep_every_digit() -> None:
    # given the documented example id, which a float would turn into ...496
    body = raw("shopify/orders_paid.json")
    assert str(int(float(json.loads(body)["id"]))) != "820982911946154508"
    # then the order id is exact
    event = only_event(receive("orders/paid", body))
    assert isinstance(event.payload, OrderPaid)
    assert event.payload.order.order_id == "820982911946154508"


def test_money_is_decimal_never_float() -> None:
    event = only_event(receive("orders/paid", raw("shopify/orders_paid.json")))
    assert isinstance(event.payload, OrderPaid)
    order = event.payload.order
    amounts = [order.shipping, order.tax, order.total]
    amounts += [x for line in order.lines for x in (line.unit_price, line.discount)]
    assert all(type(amount) is Decimal for amount in amounts)


def test_tax_included_prices_lose_their_tax_so_it_is_not_counted_twice() -> None:
    event = only_event(receive("orders/paid", raw("shopify/orders_paid_taxes_included.json")))
    assert isinstance(event.payload, OrderPaid)
    order = event.payload.order
    shirt, gift_card = order.lines
    assert (shirt.sku, shirt.quantity, shirt.unit_price, shirt.net) == (
        "TEE-BLK-M",
        2,
        Decimal(20),
        Decimal(40),
    )
    assert (gift_card.sku, gift_card.category) == ("variant:42000000000002", "gift_card")
    assert (order.shipping, order.tax, order.total) == (Decimal(5), Decimal(9), Decimal(54))
    assert order.lines_net + order.shipping + order.tax == order.total


def test_a_test_order_is_ignored() -> None:
    result = receive("orders/paid", edited("shopify/orders_paid.json", test=True))
    assert result.events == ()
    assert result.ignored == "order 820982911946154508 is a test order"


def test_a_guest_order_is_kept_for_a_claim_when_guests_are_not_matched() -> None:
    result = receive("orders/paid", raw("shopify/orders_paid_guest.json"), guest_matching=False)
    (guest,) = result.events
    assert isinstance(guest, GuestOrder)
    assert guest.email == "guest.shopper@example.com"
    assert guest.event.member is None
    assert guest.event.type == "order.paid"
    assert isinstance(guest.event.payload, OrderPaid)
    order = guest.event.payload.order
    assert (order.order_id, order.currency, order.shipping) == (
        "5100431290486103",
        "EUR",
        Decimal("5.00"),
    )


def test_a_guest_order_goes_to_the_member_of_its_email_when_guests_are_matched() -> None:
    event = only_event(
        receive("orders/paid", raw("shopify/orders_paid_guest.json"), guest_matching=True)
    )
    assert event.member is not None
    assert event.member.external_id == "email:guest.shopper@example.com"
    assert event.member.profile == {
        "email": "guest.shopper@example.com",
        "first_name": "Greta",
        "last_name": "Guest",
    }


def test_a_redelivery_maps_to_the_same_event() -> None:
    body = raw("shopify/orders_paid.json")
    assert receive("orders/paid", body) == receive("orders/paid", body)


def test_another_delivery_of_the_same_order_is_another_event() -> None:
    body = raw("shopify/orders_paid.json")
    sent = headers("orders/paid", body) | {"X-Shopify-Webhook-Id": "another-delivery"}
    event = only_event(shopify.to_events(sent, body, guest_matching=False))
    assert event.event_id == "another-delivery"


# --- orders/cancelled and refunds/create ----------------------------------------------------


def test_a_cancelled_paid_order_maps_to_order_cancelled() -> None:
    event = only_event(receive("orders/cancelled", raw("shopify/orders_cancelled.json")))
    assert event.type == "order.cancelled"
    assert event.payload == OrderCancelled("820982911946154508")
    assert event.occurred_at == datetime(2026, 3, 5, 12, 0, tzinfo=EST)


def test_cancelling_an_order_that_was_never_paid_is_ignored() -> None:
    body = edited("shopify/orders_cancelled.json", financial_status="voided")
    result = receive("orders/cancelled", body)
    assert result.ignored == "order 820982911946154508 was cancelled unpaid (voided)"


def test_a_partial_refund_names_the_lines_it_returns() -> None:
    event = only_event(receive("refunds/create", raw("shopify/refunds_create_partial.json")))
    assert event.type == "order.refunded"
    assert event.member is None
    assert event.occurred_at == datetime(2026, 3, 3, 11, 20, tzinfo=EST)
    assert event.payload == OrderRefunded(
        "820982911946154508", "929361464", lines=(("IPOD2008PINK", 1),)
    )


def test_a_refund_without_lines_takes_the_money_of_its_successful_transactions() -> None:
    event = only_event(receive("refunds/create", raw("shopify/refunds_create_shipping_only.json")))
    assert event.payload == OrderRefunded(
        "820982911946154508", "929361470", amount=Decimal("10.00")
    )


def test_a_refund_of_test_transactions_is_ignored() -> None:
    refund = json.loads(raw("shopify/refunds_create_partial.json"))
    refund["transactions"][0]["test"] = True
    result = receive("refunds/create", json.dumps(refund).encode())
    assert result.ignored == "refund 929361464 is a test refund"


def test_a_refund_of_nothing_is_ignored() -> None:
    body = edited(
        "shopify/refunds_create_shipping_only.json", transactions=[], refund_line_items=[]
    )
    assert receive("refunds/create", body).ignored == (
        "refund 929361470 returns neither money nor items"
    )


def test_a_refund_whose_lines_cannot_be_named_is_malformed() -> None:
    refund = json.loads(raw("shopify/refunds_create_partial.json"))
    del refund["refund_line_items"][0]["line_item"]
    refund["transactions"] = []
    with pytest.raises(MalformedPayload, match="without their line_item"):
        receive("refunds/create", json.dumps(refund).encode())


# --- customers ------------------------------------------------------------------------------


def test_a_new_customer_becomes_customer_created_with_consents() -> None:
    event = only_event(receive("customers/create", raw("shopify/customers_create.json")))
    assert event.type == "customer.created"
    assert event.member is not None
    assert event.member.external_id == "706405506930370084"
    assert event.payload == CustomerChanged(
        {
            "email": "bob.norman@mail.example.com",
            "phone": "+16135550123",
            "first_name": "Bob",
            "last_name": "Norman",
            "consents": {"email": True, "sms": False},
        }
    )


def test_customers_update_is_customer_updated_and_a_bad_phone_is_left_out() -> None:
    body = edited("shopify/customers_create.json", phone="call me maybe")
    event = only_event(receive("customers/update", body))
    assert event.type == "customer.updated"
    assert isinstance(event.payload, CustomerChanged)
    assert "phone" not in event.payload.profile


# --- what is not ours -----------------------------------------------------------------------


def test_a_topic_we_do_not_use_is_ignored() -> None:
    result = receive("products/update", b'{"id": 632910392}')
    assert result == AdapterResult(
        ignored="Shopify topic 'products/update' is not used by the programme"
    )


def test_missing_headers_and_bad_json_are_malformed() -> None:
    body = raw("shopify/orders_paid.json")
    sent = headers("orders/paid", body)
    del sent["X-Shopify-Webhook-Id"]
    with pytest.raises(MalformedPayload, match="X-Shopify-Webhook-Id"):
        shopify.to_events(sent, body, guest_matching=False)
    with pytest.raises(MalformedJson) as caught:
        shopify.to_events(headers("orders/paid", b"{"), b"{", guest_matching=False)
    assert caught.value.code == ErrorCode.MALFORMED_JSON


def test_an_order_without_its_currency_names_the_field() -> None:
    order = json.loads(raw("shopify/orders_paid.json"))
    del order["currency"]
    with pytest.raises(MalformedPayload) as caught:
        receive("orders/paid", json.dumps(order).encode())
    assert caught.value.field == "currency"


def test_a_float_in_a_price_field_would_be_read_exactly() -> None:
    order = json.loads(raw("shopify/orders_paid.json"))
    order["line_items"][1]["price"] = "29.99"
    body = json.dumps(order).encode().replace(b'"29.99"', b"29.99")
    event = only_event(receive("orders/paid", body))
    assert isinstance(event.payload, OrderPaid)
    assert event.payload.order.lines[1].unit_price == Decimal("29.99")
