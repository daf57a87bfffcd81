"""The generic connector: our own event envelope (as ``POST /v1/events`` takes it), signed.

For stores we have no adapter for. The body is one envelope ``{"id", "type", "occurred_at",
"member", "data"}`` or a batch ``{"events": [envelope, ...]}``. The store signs it like our
outbound webhooks: ``Loyalty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
f"{t}.{body}">``; several ``v1=`` entries are allowed while the store rotates its secret, and a
timestamp more than five minutes from ``now`` is refused, so a captured request cannot be
replayed later. The envelope's ``id`` is the event id.

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
    CustomerChanged,
    InboundEvent,
    MemberRef,
    OrderCancelled,
    OrderRefunded,
    Payload,
)
from loyalty.domain.orders import OrderLine, PaidOrder
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
    if type_ not in EVENT_TYPES:
        raise UnknownEventType(
            f"unknown event type '{type_}'; expected one of {', '.join(EVENT_TYPES)}",
            field=envelope.at("type"),
        )
    event_id = _id(envelope, "id")
    occurred_at = envelope.timestamp("occurred_at")
    member = envelope.opt_obj("member")
    if type_ == "order.paid":
        return _order_paid(envelope, event_id, occurred_at, member, digest, guest_matching)
    payload: Payload
    if type_.startswith("customer."):
        if member is None:
            raise MalformedPayload("customer events must name the member", field="member")
        data = envelope.opt_obj("data")
        payload = CustomerChanged(_profile(data) if data else {})
    elif type_ == "order.refunded":
        payload = _refund(envelope.obj("data"))
    else:
        payload = OrderCancelled(_id(envelope.obj("data"), "order_id"))
    ref = _member(member) if member else None
    return InboundEvent(SOURCE, event_id, type_, occurred_at, ref, payload, digest)


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
    return _common.order_paid(
        source=SOURCE,
        event_id=event_id,
        occurred_at=occurred_at,
        order=_paid_order(envelope.obj("data")),
        buyer=_common.Buyer(
            customer_id=_id(member, "external_id") if member.has("external_id") else None,
            email=_common.guest_email(email),
            profile=_profile(member),
        ),
        guest_matching=guest_matching,
        body_hash=digest,
    )


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
