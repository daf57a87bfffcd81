from __future__ import annotations

import hashlib
import json
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
from loyalty.integrations import saleor
from loyalty.integrations.errors import MalformedPayload, SignatureInvalid
from loyalty.integrations.results import AdapterResult, GuestOrder
from tests.integrations.support import OLD_SECRET, SECRET, hex_hmac, raw

ORDER_ID = "T3JkZXI6OWY4YzFhYjItMzQ1Ni00ZjI0LWI4ZWMtYjRmNDk3ZDNkMGQy"


def headers(event: str, body: bytes, *, secret: str = SECRET) -> dict[str, str]:
    signature = hex_hmac(body, secret)
    return {
        "Content-Type": "application/json",
        "Saleor-Event": event,
        "Saleor-Domain": "shop.example.com",
        "Saleor-Signature": signature,
        "Saleor-Api-Url": "https://shop.example.com/graphql/",
        "X-Saleor-Event": event,
        "X-Saleor-Domain": "shop.example.com",
        "X-Saleor-Signature": signature,
    }


def receive(event: str, body: bytes, *, guest_matching: bool = False) -> AdapterResult:
    sent = headers(event, body)
    saleor.verify(sent, body, [SECRET])
    return saleor.to_events(sent, body, guest_matching=guest_matching)


def events_of(result: AdapterResult) -> list[InboundEvent]:
    assert result.ignored is None
    return [e for e in result.events if isinstance(e, InboundEvent)]


def changed(name: str, **order_changes: object) -> bytes:
    body = json.loads(raw(name))
    body["order"].update(order_changes)
    return json.dumps(body).encode()


# --- signatures -----------------------------------------------------------------------------


def test_the_hex_hmac_verifies_with_either_secret_during_a_rotation() -> None:
    body = raw("saleor/order_fully_paid.json")
    saleor.verify(headers("order_fully_paid", body), body, [SECRET, OLD_SECRET])
    old = headers("order_fully_paid", body, secret=OLD_SECRET)
    saleor.verify(old, body, [SECRET, OLD_SECRET])
    with pytest.raises(SignatureInvalid):
        saleor.verify(old, body, [SECRET])


def test_only_the_deprecated_x_header_still_verifies() -> None:
    body = raw("saleor/order_fully_paid.json")
    sent = {"X-Saleor-Event": "order_fully_paid", "X-Saleor-Signature": hex_hmac(body)}
    saleor.verify(sent, body, [SECRET])


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "missing"),
        ("zz" * 32, "not a hex digest"),
        (hex_hmac(b"{}"), "does not match"),
        ("eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ..c2lnbmF0dXJl", "JWS"),
    ],
)
def test_a_missing_wrong_or_jws_signature_is_refused(signature: str | None, reason: str) -> None:
    body = raw("saleor/order_fully_paid.json")
    sent = {"Saleor-Event": "order_fully_paid"}
    if signature is not None:
        sent["Saleor-Signature"] = signature
    with pytest.raises(SignatureInvalid, match=reason):
        saleor.verify(sent, body, [SECRET])


# --- ORDER_FULLY_PAID -----------------------------------------------------------------------


def test_a_fully_paid_order_maps_to_order_paid() -> None:
    body = raw("saleor/order_fully_paid.json")
    (event,) = events_of(receive("order_fully_paid", body))
    digest = hashlib.sha256(body).hexdigest()
    assert (event.source, event.type) == ("saleor", "order.paid")
    assert event.event_id == f"order_fully_paid:{ORDER_ID}:{digest[:32]}"
    assert event.body_hash == digest
    assert event.occurred_at == datetime(2026, 2, 27, 14, 15, 10, 123456, tzinfo=UTC)
    assert event.member is not None
    assert event.member.external_id == "VXNlcjoxMjM="
    assert event.member.profile == {
        "email": "anna.kowalska@example.com",
        "locale": "pl-PL",
        "first_name": "Anna",
        "last_name": "Kowalska",
    }
    assert isinstance(event.payload, OrderPaid)
    order = event.payload.order
    assert (order.order_id, order.currency) == (ORDER_ID, "PLN")
    (line,) = order.lines
    assert (line.sku, line.quantity, line.unit_price, line.net) == (
        "KUBEK-01",
        2,
        Decimal("48.78"),
        Decimal("81.3"),
    )
    assert (line.product_id, line.category) == ("UHJvZHVjdDo3", "Mugs")
    assert (order.shipping, order.tax, order.total) == (
        Decimal("12.2"),
        Decimal("21.5"),
        Decimal("115.0"),
    )
    assert order.lines_net + order.shipping + order.tax == order.total


def test_graphql_floats_arrive_as_exact_decimals() -> None:
    (event,) = events_of(receive("ORDER_FULLY_PAID", raw("saleor/order_fully_paid.json")))
    assert isinstance(event.payload, OrderPaid)
    assert type(event.payload.order.shipping) is Decimal
    assert str(event.payload.order.lines[0].discount) == "16.26"  # 2 x 48.78 - 81.30


def test_a_guest_order_is_kept_or_matched_by_user_email() -> None:
    body = changed("saleor/order_fully_paid.json", user=None)
    (guest,) = receive("order_fully_paid", body).events
    assert isinstance(guest, GuestOrder)
    assert guest.email == "anna.kowalska@example.com"
    (matched,) = events_of(receive("order_fully_paid", body, guest_matching=True))
    assert matched.member is not None
    assert matched.member.external_id == "email:anna.kowalska@example.com"


def test_a_redelivery_keeps_the_event_id_and_a_new_event_gets_another() -> None:
    body = raw("saleor/order_fully_paid.json")
    first = receive("order_fully_paid", body)
    assert receive("order_fully_paid", body) == first
    later = changed("saleor/order_fully_paid.json", updatedAt="2026-02-28T10:00:00+00:00")
    assert events_of(receive("order_fully_paid", later))[0].event_id != (
        events_of(first)[0].event_id
    )


def test_a_payload_still_wrapped_in_data_event_is_read_too() -> None:
    wrapped = b'{"data": {"event": ' + raw("saleor/order_fully_paid.json") + b"}}"
    (event,) = events_of(receive("order_fully_paid", wrapped))
    assert isinstance(event.payload, OrderPaid)


# --- refunds and cancellation ---------------------------------------------------------------


def test_each_completed_granted_refund_becomes_a_refund_by_amount() -> None:
    # given one granted refund done and one still pending
    events = events_of(receive("order_refunded", raw("saleor/order_refunded.json")))
    # then only the completed one is reversed
    (event,) = events
    assert event.type == "order.refunded"
    assert event.payload == OrderRefunded(
        ORDER_ID, "T3JkZXJHcmFudGVkUmVmdW5kOjE=", amount=Decimal(30)
    )
    assert event.event_id.endswith(":refund:T3JkZXJHcmFudGVkUmVmdW5kOjE=")
    assert event.occurred_at == datetime(2026, 3, 2, 9, 28, tzinfo=UTC)


def test_a_full_refund_known_only_by_total_refunded_takes_everything_back() -> None:
    body = raw("saleor/order_fully_refunded_total_only.json")
    (event,) = events_of(receive("order_fully_refunded", body))
    assert event.type == "order.cancelled"
    assert event.payload == OrderCancelled(ORDER_ID)


def test_a_partial_refund_without_granted_refunds_cannot_be_measured() -> None:
    body = changed("saleor/order_fully_refunded_total_only.json", totalRefunded={"amount": 40.0})
    with pytest.raises(MalformedPayload, match="grantedRefunds"):
        receive("order_refunded", body)


def test_a_refund_payload_with_no_refund_fields_is_malformed() -> None:
    body = changed("saleor/order_fully_refunded_total_only.json", totalRefunded=None)
    with pytest.raises(MalformedPayload, match="neither"):
        receive("order_refunded", body)


def test_a_cancelled_order_that_was_charged_maps_to_order_cancelled() -> None:
    (event,) = events_of(receive("order_cancelled", raw("saleor/order_cancelled.json")))
    assert event.payload == OrderCancelled(ORDER_ID)
    assert event.occurred_at == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)


def test_a_cancelled_order_with_nothing_charged_is_ignored() -> None:
    body = changed("saleor/order_cancelled.json", chargeStatus="NONE")
    assert receive("order_cancelled", body).ignored == (
        f"order {ORDER_ID} was cancelled with nothing charged"
    )


# --- customers and the rest -----------------------------------------------------------------


def test_a_new_customer_becomes_customer_created() -> None:
    (event,) = events_of(receive("customer_created", raw("saleor/customer_created.json")))
    assert event.type == "customer.created"
    assert event.member is not None
    assert event.member.external_id == "VXNlcjoxMjM="
    assert event.payload == CustomerChanged(
        {
            "email": "anna.kowalska@example.com",
            "locale": "pl-PL",
            "first_name": "Anna",
            "last_name": "Kowalska",
        }
    )


def test_other_events_are_ignored_and_a_missing_event_header_is_malformed() -> None:
    assert receive("product_updated", b"{}").ignored == (
        "Saleor event 'product_updated' is not used by the programme"
    )
    with pytest.raises(MalformedPayload, match="Saleor-Event"):
        saleor.to_events({}, b"{}", guest_matching=False)
