from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty.domain.errors import UnknownCurrency, UnknownEventType
from loyalty.domain.events import (
    CustomerChanged,
    InboundEvent,
    MemberRef,
    OrderCancelled,
    OrderPaid,
    OrderRefunded,
)
from loyalty.domain.orders import OrderLine
from loyalty.integrations import generic
from loyalty.integrations.errors import MalformedPayload, SignatureInvalid
from loyalty.integrations.results import AdapterResult, GuestOrder
from tests.integrations.support import OLD_SECRET, SECRET, hex_hmac, raw

NOW = datetime(2026, 2, 27, 14, 20, tzinfo=UTC)
SENT_AT = int(NOW.timestamp()) - 30


def signed(body: bytes, *, secret: str = SECRET, at: int = SENT_AT) -> dict[str, str]:
    return {"Loyalty-Signature": generic.signature_header(body, secret, at)}


def receive(body: bytes, *, guest_matching: bool = False) -> AdapterResult:
    sent = signed(body)
    generic.verify(sent, body, [SECRET], now=NOW)
    return generic.to_events(sent, body, guest_matching=guest_matching)


def events_of(result: AdapterResult) -> list[InboundEvent]:
    return [e for e in result.events if isinstance(e, InboundEvent)]


def envelope(**changes: object) -> bytes:
    data = json.loads(raw("generic/order_paid.json"))
    data.update(changes)
    return json.dumps(data).encode()


# --- signatures -----------------------------------------------------------------------------


def test_a_fresh_signature_verifies() -> None:
    body = raw("generic/order_paid.json")
    generic.verify(signed(body), body, [SECRET], now=NOW)


def test_the_header_is_t_and_the_hex_hmac_of_t_dot_body() -> None:
    body = b'{"a":1}'
    expected = hex_hmac(b"1700000000." + body, SECRET)
    assert generic.signature_header(body, SECRET, 1700000000) == f"t=1700000000,v1={expected}"


def test_a_sender_rotating_its_secret_may_send_two_signatures() -> None:
    body = raw("generic/order_paid.json")
    old = signed(body, secret=OLD_SECRET)["Loyalty-Signature"]
    new = signed(body)["Loyalty-Signature"].split(",")[1]
    generic.verify({"Loyalty-Signature": f"{old},{new}"}, body, [SECRET], now=NOW)
    generic.verify(signed(body, secret=OLD_SECRET), body, [SECRET, OLD_SECRET], now=NOW)


@pytest.mark.parametrize(
    ("age", "reason"),
    [(timedelta(minutes=5, seconds=1), "old"), (timedelta(minutes=-6), "future")],
)
def test_a_stale_or_future_timestamp_is_refused(age: timedelta, reason: str) -> None:
    body = raw("generic/order_paid.json")
    sent = signed(body, at=int((NOW - age).timestamp()))
    with pytest.raises(SignatureInvalid, match=reason):
        generic.verify(sent, body, [SECRET], now=NOW)


def test_exactly_five_minutes_old_is_still_accepted() -> None:
    body = raw("generic/order_paid.json")
    sent = signed(body, at=int((NOW - timedelta(minutes=5)).timestamp()))
    generic.verify(sent, body, [SECRET], now=NOW)


def test_the_timestamp_is_signed_so_it_cannot_be_refreshed() -> None:
    # given a captured request replayed later with a new t but the old v1
    body = raw("generic/order_paid.json")
    old_v1 = signed(body, at=SENT_AT - 3600)["Loyalty-Signature"].split(",")[1]
    sent = {"Loyalty-Signature": f"t={SENT_AT},{old_v1}"}
    with pytest.raises(SignatureInvalid, match="does not match"):
        generic.verify(sent, body, [SECRET], now=NOW)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "missing"),
        ("v1=abcd", "t=<unix seconds>"),
        (f"t={SENT_AT}", "v1=<signature>"),
        (f"t={SENT_AT},v1=nothex", "hex"),
        (f"t=soon,v1={'0' * 64}", "t=<unix seconds>"),
        (f"t={SENT_AT},v1={'0' * 64}", "does not match"),
    ],
)
def test_a_missing_or_malformed_signature_is_refused(value: str | None, reason: str) -> None:
    sent = {} if value is None else {"Loyalty-Signature": value}
    with pytest.raises(SignatureInvalid, match=reason):
        generic.verify(sent, b"{}", [SECRET], now=NOW)


# --- mapping --------------------------------------------------------------------------------


def test_our_envelope_maps_one_to_one() -> None:
    body = raw("generic/order_paid.json")
    (event,) = events_of(receive(body))
    assert (event.source, event.event_id, event.type) == ("generic", "evt_2026_0001", "order.paid")
    assert event.occurred_at == datetime(2026, 2, 27, 14, 15, 10, tzinfo=UTC)
    assert event.member == MemberRef("cust-42", {"email": "Ola@Example.com", "first_name": "Ola"})
    assert isinstance(event.payload, OrderPaid)
    order = event.payload.order
    assert order.lines == (
        OrderLine("KUBEK-01", 2, Decimal("50.00"), Decimal("10.00"), "p-7", "mugs"),
        OrderLine("HERBATA", 1, Decimal("19.99")),
    )
    assert (order.shipping, order.tax, order.total) == (
        Decimal("15.00"),
        Decimal(0),
        Decimal("124.99"),
    )


def test_a_batch_maps_every_event_in_order() -> None:
    created, by_lines, by_amount, cancelled = events_of(receive(raw("generic/batch.json")))
    assert created.type == "customer.created"
    assert created.member == MemberRef(
        "cust-43", {"email": "jan@example.com", "birthday": date(1990, 5, 17)}
    )
    assert created.payload == CustomerChanged({"locale": "pl", "consents": {"email": True}})
    assert by_lines.payload == OrderRefunded("SO-1001", "R-1", lines=(("KUBEK-01", 1),))
    assert by_amount.payload == OrderRefunded("SO-1001", "R-2", amount=Decimal("15.00"))
    assert cancelled.payload == OrderCancelled("SO-1001")
    assert cancelled.member is None


def test_an_order_without_an_external_id_is_a_guest_order() -> None:
    body = envelope(member={"email": " Ola@Example.com "})
    (guest,) = receive(body).events
    assert isinstance(guest, GuestOrder)
    assert guest.email == "ola@example.com"
    (matched,) = events_of(receive(body, guest_matching=True))
    assert matched.member is not None
    assert matched.member.external_id == "email:ola@example.com"


def test_a_redelivery_maps_to_the_same_event() -> None:
    body = raw("generic/order_paid.json")
    assert receive(body) == receive(body)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurred_at": "2026-02-27T14:15:10"}, "occurred_at"),
        ({"id": ""}, "id"),
        ({"id": "x" * 201}, "id"),
        ({"data": {"order_id": "SO-1", "currency": "PLN", "lines": []}}, "data.lines"),
        (
            {
                "data": {
                    "order_id": "SO-1",
                    "currency": "PLN",
                    "lines": [{"sku": "A", "quantity": 1}],
                }
            },
            "data.lines[0].unit_price",
        ),
        (
            {
                "data": {
                    "order_id": "SO-1",
                    "currency": "PLN",
                    "lines": [{"sku": "A", "quantity": 0, "unit_price": "1"}],
                }
            },
            "data.lines[0].quantity",
        ),
        (
            {
                "data": {
                    "order_id": "SO-1",
                    "currency": "PLN",
                    "shipping": "-1",
                    "lines": [{"sku": "A", "quantity": 1, "unit_price": "1"}],
                }
            },
            "data.shipping",
        ),
    ],
)
def test_an_invalid_envelope_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        receive(envelope(**changes))
    assert caught.value.field == field


def test_a_refund_needs_lines_or_an_amount_but_not_both() -> None:
    data = {
        "order_id": "SO-1",
        "refund_id": "R-1",
        "amount": "1",
        "lines": [{"sku": "A", "quantity": 1}],
    }
    with pytest.raises(MalformedPayload, match="either lines or amount"):
        receive(envelope(type="order.refunded", data=data))


def test_unknown_types_and_currencies_are_domain_errors() -> None:
    with pytest.raises(UnknownEventType):
        receive(envelope(type="order.shipped"))
    data = json.loads(raw("generic/order_paid.json"))["data"] | {"currency": "XYZ"}
    with pytest.raises(UnknownCurrency):
        receive(envelope(data=data))


def test_customer_events_must_name_the_member() -> None:
    body = envelope(type="customer.updated", member=None, data={"first_name": "Ola"})
    with pytest.raises(MalformedPayload, match="must name the member"):
        receive(body)
