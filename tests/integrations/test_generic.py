from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from loyalty.domain.errors import UnknownCurrency, UnknownEventType
from loyalty.domain.events import (
    ActionPerformed,
    CustomerChanged,
    InboundEvent,
    MemberRef,
    MembershipChanged,
    OrderCancelled,
    OrderPaid,
    OrderRefunded,
    ReferralData,
)
from loyalty.domain.orders import OrderLine
from loyalty.domain.referrals.identity import Address
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


# --- everything POST /v1/events takes --------------------------------------------------------


def test_an_order_carries_its_checkout_and_referral_data_as_the_events_api_takes_them() -> None:
    data = json.loads(raw("generic/order_paid.json"))["data"] | {
        "checkout_id": "chk-9",
        "referral_code": "ANNA-7Q2K",
        "device_hash": "dev-1",
        "ip_hash": "ip-1",
        "shipping_address": {"line1": "Tęczowa 7", "postal_code": "53-601", "country": "PL"},
    }
    (event,) = events_of(receive(envelope(data=data)))
    assert isinstance(event.payload, OrderPaid)
    assert event.payload.checkout_id == "chk-9"
    assert event.payload.referral == ReferralData(
        "ANNA-7Q2K", "dev-1", "ip-1", Address("Tęczowa 7", "", "", "53-601", "PL")
    )
    (guest,) = receive(envelope(data=data, member={"email": "g@example.com"})).events
    assert isinstance(guest, GuestOrder)
    assert isinstance(guest.event.payload, OrderPaid)
    assert guest.event.payload.checkout_id == "chk-9"


def test_a_cancellation_and_a_sign_up_carry_their_checkout_and_referral_data() -> None:
    cancelled = envelope(type="order.cancelled", data={"order_id": "SO-1", "checkout_id": "c-1"})
    (event,) = events_of(receive(cancelled))
    assert event.payload == OrderCancelled("SO-1", "c-1")
    signed_up = envelope(
        type="customer.created",
        data={"first_name": "Ola", "referral_code": "ANNA-7Q2K", "ip_hash": "ip-1"},
    )
    (event,) = events_of(receive(signed_up))
    assert event.payload == CustomerChanged(
        {"first_name": "Ola"}, ReferralData("ANNA-7Q2K", ip_hash="ip-1")
    )


@pytest.mark.parametrize(
    "type_",
    ["review.approved", "member.birthday", "referral.completed", "custom.quiz_done"],
)
def test_action_events_carry_their_data_for_the_rules(type_: str) -> None:
    data = {"stars": 5, "share": 0.5, "tags": ["a"]}
    (event,) = events_of(receive(envelope(type=type_, data=data)))
    assert (event.type, event.payload) == (type_, ActionPerformed(data))
    assert isinstance(event.payload, ActionPerformed)
    assert type(event.payload.data["share"]) is float  # as POST /v1/events reads JSON
    with pytest.raises(MalformedPayload, match="must name the member"):
        receive(envelope(type=type_, member=None, data=data))


def test_membership_events_map_as_the_events_api_maps_them() -> None:
    started = envelope(type="membership.started", data={"membership_id": "m-1", "plan_id": 2})
    assert events_of(receive(started))[0].payload == MembershipChanged("m-1", plan_id=2)
    ended = envelope(
        type="membership.cancelled", member=None, data={"membership_id": "m-1", "immediately": True}
    )
    assert events_of(receive(ended))[0].payload == MembershipChanged("m-1", immediately=True)
    renewed = envelope(type="membership.renewed", member=None, data={"membership_id": "m-1"})
    assert events_of(receive(renewed))[0].payload == MembershipChanged("m-1")
    with pytest.raises(MalformedPayload, match="must name the member"):
        receive(envelope(type="membership.started", member=None, data={"membership_id": "m"}))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"referral_code": "X" * 41}, "data.referral_code"),
        ({"ip_hash": "x" * 201}, "data.ip_hash"),
        ({"checkout_id": ""}, "data.checkout_id"),
        ({"shipping_address": {"city": "Wrocław"}}, "data.shipping_address.line1"),
        ({"shipping_address": {"line1": "A 1", "country": "POL"}}, "data.shipping_address.country"),
    ],
)
def test_invalid_referral_or_checkout_data_names_the_field(
    changes: dict[str, object], field: str
) -> None:
    data = json.loads(raw("generic/order_paid.json"))["data"] | changes
    with pytest.raises(MalformedPayload) as caught:
        receive(envelope(data=data))
    assert caught.value.field == field


def test_custom_types_follow_the_events_api_pattern() -> None:
    with pytest.raises(UnknownEventType):
        receive(envelope(type="custom.Not Allowed", data={}))
