from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty.domain.events import (
    CustomerChanged,
    InboundEvent,
    OrderCancelled,
    OrderPaid,
    OrderRefunded,
)
from loyalty.integrations import woocommerce
from loyalty.integrations.errors import MalformedPayload, SignatureInvalid
from loyalty.integrations.results import AdapterResult, GuestOrder
from tests.integrations.support import OLD_SECRET, SECRET, base64_hmac, edited, raw

DELIVERY = "36e520ebabc2fa725092ff4a47acedf2"


def headers(topic: str, body: bytes, *, secret: str = SECRET) -> dict[str, str]:
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.6.1 Hookshot (WordPress/6.7.2)",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": base64_hmac(body, secret),
        "X-WC-Webhook-ID": "3",
        "X-WC-Webhook-Delivery-ID": DELIVERY,
    }


def receive(topic: str, body: bytes, *, guest_matching: bool = False) -> AdapterResult:
    sent = headers(topic, body)
    woocommerce.verify(sent, body, [SECRET])
    return woocommerce.to_events(sent, body, guest_matching=guest_matching)


def events_of(result: AdapterResult) -> list[InboundEvent]:
    assert result.ignored is None
    assert all(isinstance(e, InboundEvent) for e in result.events)
    return [e for e in result.events if isinstance(e, InboundEvent)]


# --- the ping and signatures ----------------------------------------------------------------


def test_the_creation_ping_is_accepted_unsigned_and_ignored() -> None:
    # given the form-encoded ping WooCommerce sends when a webhook is saved
    body = b"webhook_id=3"
    sent = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "WooCommerce"}
    # then it passes verification (it must get a 200) and maps to nothing
    woocommerce.verify(sent, body, [SECRET])
    result = woocommerce.to_events(sent, body, guest_matching=False)
    assert result == AdapterResult(ignored="WooCommerce ping for webhook 3")


def test_only_the_exact_ping_body_skips_the_signature() -> None:
    with pytest.raises(SignatureInvalid, match="missing"):
        woocommerce.verify({}, b"webhook_id=3&status=completed", [SECRET])
    with pytest.raises(SignatureInvalid, match="missing"):
        woocommerce.verify({}, raw("woocommerce/order_processing.json"), [SECRET])


def test_signatures_verify_with_the_current_or_the_old_secret() -> None:
    body = raw("woocommerce/order_processing.json")
    woocommerce.verify(headers("order.updated", body), body, [SECRET, OLD_SECRET])
    old = headers("order.updated", body, secret=OLD_SECRET)
    woocommerce.verify(old, body, [SECRET, OLD_SECRET])
    with pytest.raises(SignatureInvalid, match="does not match"):
        woocommerce.verify(old, body, [SECRET])


def test_a_changed_body_is_refused() -> None:
    body = raw("woocommerce/order_processing.json")
    with pytest.raises(SignatureInvalid):
        woocommerce.verify(headers("order.updated", body), body + b" ", [SECRET])


# --- orders ---------------------------------------------------------------------------------


def test_an_order_paid_at_checkout_maps_to_order_paid() -> None:
    (event,) = events_of(receive("order.created", raw("woocommerce/order_processing.json")))
    assert (event.source, event.type) == ("woocommerce", "order.paid")
    assert event.event_id == f"{DELIVERY}:paid"
    assert event.occurred_at == datetime(2026, 2, 27, 14, 15, 10, tzinfo=UTC)
    assert event.member is not None
    assert event.member.external_id == "26"
    assert event.member.profile == {
        "email": "joao.silva@example.com",
        "phone": "5555555555",
        "first_name": "João",
        "last_name": "Silva",
    }
    assert isinstance(event.payload, OrderPaid)
    order = event.payload.order
    assert (order.order_id, order.currency) == ("727", "USD")
    single, variation = order.lines
    assert (single.sku, single.quantity, single.unit_price, single.discount) == (
        "woo-single",
        2,
        Decimal("20.00"),
        Decimal("4.00"),
    )
    assert single.product_id == "93"
    # 10.00 for 3 units: the unit price rounds up, and the line still nets exactly 10.00
    assert (variation.sku, variation.unit_price, variation.net) == (
        "variant:23",
        Decimal("3.333334"),
        Decimal("10.00"),
    )
    assert (order.shipping, order.tax, order.total) == (
        Decimal("10.00"),
        Decimal("3.60"),
        Decimal("59.60"),
    )
    assert order.lines_net + order.shipping + order.tax == order.total


def test_refunds_become_one_event_each_by_amount_oldest_first() -> None:
    # given a completed order with two refunds, listed newest first with negative totals
    body = raw("woocommerce/order_partially_refunded.json")
    # when
    paid, first, second = events_of(receive("order.updated", body))
    # then the payment is repeated (the ledger ignores a known order) and each refund follows
    assert paid.type == "order.paid"
    assert [first.event_id, second.event_id] == [f"{DELIVERY}:refund:729", f"{DELIVERY}:refund:731"]
    assert first.payload == OrderRefunded("727", "729", amount=Decimal("10.00"))
    assert second.payload == OrderRefunded("727", "731", amount=Decimal("5.00"))
    assert first.occurred_at == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    assert first.member is None


def test_a_fully_refunded_order_only_reports_its_refunds() -> None:
    body = edited("woocommerce/order_partially_refunded.json", status="refunded")
    result = receive("order.updated", body)
    assert [e.type for e in events_of(result)] == ["order.refunded", "order.refunded"]


def test_a_paid_order_that_is_cancelled_maps_to_order_cancelled() -> None:
    body = edited("woocommerce/order_processing.json", status="cancelled")
    (event,) = events_of(receive("order.updated", body))
    assert event.event_id == f"{DELIVERY}:cancelled"
    assert event.payload == OrderCancelled("727")


def test_an_unpaid_order_is_ignored() -> None:
    result = receive("order.created", raw("woocommerce/order_pending.json"))
    assert result.ignored == "order 735 is pending and has not been paid"
    cancelled = edited("woocommerce/order_pending.json", status="cancelled")
    assert receive("order.updated", cancelled).ignored == (
        "order 735 is cancelled and has not been paid"
    )


def test_a_paid_order_on_hold_has_nothing_for_the_programme() -> None:
    body = edited("woocommerce/order_processing.json", status="on-hold")
    assert (
        receive("order.updated", body).ignored == "order 727 is on-hold: nothing for the programme"
    )


def test_a_guest_order_is_kept_with_its_email_or_matched_by_it() -> None:
    body = raw("woocommerce/order_guest.json")
    (guest,) = receive("order.created", body).events
    assert isinstance(guest, GuestOrder)
    assert guest.email == "guest.buyer@example.com"
    assert guest.event.member is None
    (matched,) = events_of(receive("order.created", body, guest_matching=True))
    assert matched.member is not None
    assert matched.member.external_id == "email:guest.buyer@example.com"


def test_a_redelivery_maps_to_the_same_events() -> None:
    body = raw("woocommerce/order_partially_refunded.json")
    assert receive("order.updated", body) == receive("order.updated", body)


def test_the_legacy_false_date_means_not_paid() -> None:
    body = edited("woocommerce/order_pending.json", date_paid_gmt=False)
    assert receive("order.updated", body).ignored is not None


# --- customers and the rest -----------------------------------------------------------------


def test_a_new_customer_becomes_customer_created() -> None:
    (event,) = events_of(receive("customer.created", raw("woocommerce/customer_created.json")))
    assert event.event_id == DELIVERY
    assert event.type == "customer.created"
    assert event.occurred_at == datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
    assert event.member is not None
    assert event.member.external_id == "25"
    assert event.payload == CustomerChanged(
        {
            "email": "john.doe@example.com",
            "phone": "5555555555",
            "first_name": "John",
            "last_name": "Doe",
        }
    )


def test_other_topics_are_ignored() -> None:
    body = b'{"id": 93}'
    assert receive("product.updated", body).ignored == (
        "WooCommerce topic 'product.updated' is not used by the programme"
    )
    assert receive("order.deleted", body).ignored is not None


def test_a_delivery_without_its_delivery_id_is_malformed() -> None:
    body = raw("woocommerce/order_processing.json")
    sent = headers("order.updated", body)
    del sent["X-WC-Webhook-Delivery-ID"]
    with pytest.raises(MalformedPayload, match="X-WC-Webhook-Delivery-ID"):
        woocommerce.to_events(sent, body, guest_matching=False)


def test_a_line_without_totals_names_the_field() -> None:
    body = raw("woocommerce/order_processing.json").replace(b'"subtotal": "40.00",', b"")
    with pytest.raises(MalformedPayload) as caught:
        receive("order.created", body)
    assert caught.value.field == "line_items[0].subtotal"
