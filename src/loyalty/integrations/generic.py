"""The generic connector: our own event envelope (as ``POST /v1/events`` takes it), signed.

For stores we have no adapter for. The body is one envelope ``{"id", "type", "occurred_at",
"member", "data"}`` or a batch ``{"events": [envelope, ...]}``. The store signs it like our
outbound webhooks: ``Loyalty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
f"{t}.{body}">``; several ``v1=`` entries are allowed while the store rotates its secret, and a
timestamp more than five minutes from ``now`` is refused, so a captured request cannot be
replayed later. The envelope's ``id`` is the event id.

Every type ``POST /v1/events`` takes is accepted with the same data: store events (with the
checkout id and the referral fields), ``membership.*`` and action events for the earning rules.
An ``order.paid`` without a member ``external_id`` is a guest order.

Unlike the platform adapters the profile is passed on as sent, as ``/v1/events`` does: the
sender is ours to hold to our format, and the ledger validates it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from loyalty.domain.errors import UnknownEventType
from loyalty.domain.events import (
    EVENT_TYPES,
    MEMBERSHIP_EVENT_TYPES,
    ActionPerformed,
    CustomerChanged,
    InboundEvent,
    MemberRef,
    MembershipChanged,
    OrderCancelled,
    OrderRefunded,
    Payload,
    ReferralData,
)
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.referrals.identity import Address
from loyalty.domain.rules.triggers import is_action_event
from loyalty.integrations import _common
from loyalty.integrations._fields import MAX_ID_LENGTH, JsonObject, parse_json
from loyalty.integrations._signatures import header, matches_any
from loyalty.integrations.errors import MalformedPayload, SignatureInvalid
from loyalty.integrations.results import AdapterResult, GuestOrder, Headers

SOURCE = "generic"
SIGNATURE_HEADER = "Loyalty-Signature"
TOLERANCE = timedelta(minutes=5)
MAX_LINES = 1000

_TIMESTAMP = re.compile(r"\d{1,12}")
_PROFILE_FIELDS = ("email", "phone", "first_name", "last_name", "locale")
KNOWN_TYPES = (*EVENT_TYPES, *MEMBERSHIP_EVENT_TYPES)
_MEMBER_NAMED = frozenset({"customer.created", "customer.updated", "membership.started"})
# the lengths POST /v1/events allows in a shipping_address
_ADDRESS_LIMITS = {"line1": 300, "line2": 300, "city": 200, "postal_code": 32, "country": 2}


def signature_header(raw_body: bytes, secret: str, timestamp: int) -> str:
    """The header value a sender puts on ``raw_body`` at ``timestamp`` (unix seconds)."""
    message = f"{timestamp}.".encode() + raw_body
    return f"t={timestamp},v1={hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}"


def verify(
    headers: Headers,
    raw_body: bytes,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance: timedelta = TOLERANCE,
) -> None:
    """Raise ``SignatureInvalid`` unless a ``v1`` matches one of ``secrets`` and ``t`` is recent."""
    value = header(headers, SIGNATURE_HEADER)
    if value is None:
        raise SignatureInvalid(f"the {SIGNATURE_HEADER} header is missing")
    stamp, signatures = _parse_signature(value)
    message = stamp.encode() + b"." + raw_body
    if not any(matches_any(given, message, secrets) for given in signatures):
        raise SignatureInvalid(f"the {SIGNATURE_HEADER} header does not match the body")
    age = now.timestamp() - int(stamp)
    if abs(age) > tolerance.total_seconds():
        when = "old" if age > 0 else "far in the future"
        raise SignatureInvalid(
            f"the signature's timestamp is {when} ({int(age)} s from now); "
            f"at most {int(tolerance.total_seconds())} s are accepted"
        )


def _parse_signature(value: str) -> tuple[str, list[bytes]]:
    stamp: str | None = None
    signatures: list[bytes] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t":
            stamp = item.strip()
        elif key == "v1":
            try:
                signatures.append(bytes.fromhex(item.strip()))
            except ValueError as error:
                raise SignatureInvalid("a v1 signature is not a hex digest") from error
    if stamp is None or not _TIMESTAMP.fullmatch(stamp):
        raise SignatureInvalid(f"the {SIGNATURE_HEADER} header has no t=<unix seconds>")
    if not signatures:
        raise SignatureInvalid(f"the {SIGNATURE_HEADER} header has no v1=<signature>")
    return stamp, signatures


def to_events(headers: Headers, raw_body: bytes, *, guest_matching: bool) -> AdapterResult:
    """Map a verified delivery; call ``verify`` on the same bytes first."""
    body = JsonObject(parse_json(raw_body))
    digest = _common.body_hash(raw_body)
    if "events" in body.data:
        envelopes = body.objs("events")
        if not envelopes:
            raise MalformedPayload("events must not be empty", field="events")
    else:
        envelopes = [body]
    return AdapterResult(events=tuple(_event(e, digest, guest_matching) for e in envelopes))


def _event(envelope: JsonObject, digest: str, guest_matching: bool) -> InboundEvent | GuestOrder:
    type_ = envelope.text("type")
    if not is_event_type(type_):
        raise UnknownEventType(
            f"unknown event type '{type_}'; expected one of {', '.join(KNOWN_TYPES)}, "
            "an action event or custom.<name>",
            field=envelope.at("type"),
        )
    event_id = _id(envelope, "id")
    occurred_at = envelope.timestamp("occurred_at")
    member = envelope.opt_obj("member")
    if type_ == "order.paid":
        return _order_paid(envelope, event_id, occurred_at, member, digest, guest_matching)
    if member is None and (type_ in _MEMBER_NAMED or is_action_event(type_)):
        raise MalformedPayload(f"{type_} events must name the member", field="member")
    payload: Payload
    if type_.startswith("customer."):
        data = envelope.opt_obj("data") or JsonObject({}, "data")
        payload = CustomerChanged(_profile(data), _referral(data))
    elif type_ == "order.refunded":
        payload = _refund(envelope.obj("data"))
    elif type_ == "order.cancelled":
        data = envelope.obj("data")
        payload = OrderCancelled(_id(data, "order_id"), _opt_id(data, "checkout_id"))
    elif type_ in MEMBERSHIP_EVENT_TYPES:
        payload = _membership(type_, envelope.obj("data"))
    else:
        data = envelope.opt_obj("data")
        payload = ActionPerformed(_plain_json(data.data) if data else {})
    ref = _member(member) if member else None
    return InboundEvent(SOURCE, event_id, type_, occurred_at, ref, payload, digest)


def is_event_type(type_: str) -> bool:
    """The types ``POST /v1/events`` takes: store, membership and action events."""
    return type_ in KNOWN_TYPES or is_action_event(type_)


def _order_paid(
    envelope: JsonObject,
    event_id: str,
    occurred_at: datetime,
    member: JsonObject | None,
    digest: str,
    guest_matching: bool,
) -> InboundEvent | GuestOrder:
    """The member is named by ``external_id``; without one, the order is a guest's."""
    member = member or JsonObject({}, "member")
    email = member.opt_text("email")
    data = envelope.obj("data")
    return _common.order_paid(
        source=SOURCE,
        event_id=event_id,
        occurred_at=occurred_at,
        order=_paid_order(data),
        buyer=_common.Buyer(
            customer_id=_id(member, "external_id") if member.has("external_id") else None,
            email=_common.guest_email(email),
            profile=_profile(member),
        ),
        guest_matching=guest_matching,
        body_hash=digest,
        checkout_id=_opt_id(data, "checkout_id"),
        referral=_referral(data),
    )


def _referral(data: JsonObject) -> ReferralData | None:
    """``referral_code``, ``device_hash``, ``ip_hash`` and ``shipping_address`` of a sign-up or
    an order, checked as ``POST /v1/events`` checks them."""
    address = data.opt_obj("shipping_address")
    return _common.referral(
        _opt_text(data, "referral_code", _common.MAX_REFERRAL_CODE_LENGTH),
        device_hash=_opt_text(data, "device_hash", MAX_ID_LENGTH),
        ip_hash=_opt_text(data, "ip_hash", MAX_ID_LENGTH),
        shipping_address=None if address is None else _address(address),
    )


def _address(address: JsonObject) -> Address:
    values = {"line1": address.text("line1")}
    values |= {key: address.opt_text(key) or "" for key in ("line2", "city", "postal_code")}
    values["country"] = address.opt_text("country") or ""
    for key, value in values.items():
        if len(value) > _ADDRESS_LIMITS[key]:
            path = address.at(key)
            raise MalformedPayload(
                f"{path} is longer than {_ADDRESS_LIMITS[key]} characters", field=path
            )
    return Address(**values)


def _membership(type_: str, data: JsonObject) -> MembershipChanged:
    membership_id = _id(data, "membership_id")
    if type_ == "membership.started":
        plan_id = data.integer("plan_id")
        if plan_id < 1:
            raise MalformedPayload("plan_id must be positive", field=data.at("plan_id"))
        return MembershipChanged(membership_id, plan_id=plan_id)
    if type_ == "membership.cancelled":
        immediately = data.get("immediately")
        if immediately is not None and not isinstance(immediately, bool):
            raise MalformedPayload("immediately must be true or false", field="data.immediately")
        return MembershipChanged(membership_id, immediately=immediately is True)
    return MembershipChanged(membership_id)


def _plain_json(value: Any) -> Any:
    """An action's free-form data as ``POST /v1/events`` reads it: JSON numbers with a fraction
    or exponent are floats there (the rules compare them as numbers), so they are here too."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_json(item) for item in value]
    return value


def _member(member: JsonObject) -> MemberRef:
    return MemberRef(_id(member, "external_id"), _profile(member))


def _profile(source: JsonObject) -> dict[str, Any]:
    profile: dict[str, Any] = {k: source.opt_text(k) for k in _PROFILE_FIELDS if source.has(k)}
    birthday = source.opt_text("birthday")
    if birthday is not None:
        try:
            profile["birthday"] = date.fromisoformat(birthday)
        except ValueError as error:
            raise MalformedPayload(
                f"'{birthday}' is not a date (YYYY-MM-DD)", field=source.at("birthday")
            ) from error
    consents = source.opt_obj("consents")
    if consents is not None:
        if not all(isinstance(v, bool) for v in consents.data.values()):
            raise MalformedPayload("consents must map channels to true/false", field="consents")
        profile["consents"] = dict(consents.data)
    return profile


def _paid_order(data: JsonObject) -> PaidOrder:
    lines = data.objs("lines")
    if not 1 <= len(lines) <= MAX_LINES:
        raise MalformedPayload(f"an order needs 1 to {MAX_LINES} lines", field="data.lines")
    return PaidOrder(
        order_id=_id(data, "order_id"),
        currency=data.text("currency"),
        lines=tuple(_line(line) for line in lines),
        shipping=_amount(data, "shipping") or Decimal(0),
        tax=_amount(data, "tax") or Decimal(0),
        total=_amount(data, "total"),
    )


def _line(line: JsonObject) -> OrderLine:
    quantity = line.integer("quantity")
    if quantity <= 0:
        raise MalformedPayload("quantity must be positive", field=line.at("quantity"))
    return OrderLine(
        sku=_id(line, "sku"),
        quantity=quantity,
        unit_price=_required_amount(line, "unit_price"),
        discount=_amount(line, "discount") or Decimal(0),
        product_id=_id(line, "product_id") if line.has("product_id") else None,
        category=_id(line, "category") if line.has("category") else None,
    )


def _refund(data: JsonObject) -> OrderRefunded:
    order_id, refund_id = _id(data, "order_id"), _id(data, "refund_id")
    if data.has("lines") == data.has("amount"):
        raise MalformedPayload("give either lines or amount", field="data")
    if data.has("amount"):
        amount = data.money("amount")
        if amount <= 0:
            raise MalformedPayload("amount must be positive", field="data.amount")
        return OrderRefunded(order_id, refund_id, amount=amount)
    lines = []
    for line in data.objs("lines"):
        quantity = line.integer("quantity")
        if quantity <= 0:
            raise MalformedPayload("quantity must be positive", field=line.at("quantity"))
        lines.append((_id(line, "sku"), quantity))
    if not lines:
        raise MalformedPayload("lines must not be empty", field="data.lines")
    return OrderRefunded(order_id, refund_id, lines=tuple(lines))


def _opt_id(source: JsonObject, key: str) -> str | None:
    return _id(source, key) if source.has(key) else None


def _opt_text(source: JsonObject, key: str, limit: int) -> str | None:
    """An optional string of 1 to ``limit`` characters."""
    if not source.has(key):
        return None
    value = source.text(key)
    if len(value) > limit:
        path = source.at(key)
        raise MalformedPayload(f"{path} is longer than {limit} characters", field=path)
    return value


def _id(source: JsonObject, key: str) -> str:
    """Ids and SKUs in our format are strings of 1 to 200 characters."""
    value = source.text(key)
    if len(value) > MAX_ID_LENGTH:
        path = source.at(key)
        raise MalformedPayload(f"{path} is longer than {MAX_ID_LENGTH} characters", field=path)
    return value


def _required_amount(source: JsonObject, key: str) -> Decimal:
    amount = _amount(source, key)
    if amount is None:
        raise MalformedPayload(f"{source.at(key)} is required", field=source.at(key))
    return amount


def _amount(source: JsonObject, key: str) -> Decimal | None:
    """A non-negative amount (decimal string or JSON number), or None when absent."""
    amount = source.opt_money(key)
    if amount is not None and amount < 0:
        raise MalformedPayload(f"{source.at(key)} must not be negative", field=source.at(key))
    return amount
