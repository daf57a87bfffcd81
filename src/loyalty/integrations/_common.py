"""Mapping pieces every platform shares: lines, buyers and contact data, event ids."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.events import InboundEvent, MemberRef, OrderPaid, ReferralData
from loyalty.domain.members import normalise_email, normalise_locale, normalise_phone
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.referrals.identity import Address
from loyalty.integrations._fields import MAX_ID_LENGTH
from loyalty.integrations.results import GuestOrder

GUEST_PREFIX = "email:"
MAX_REFERRAL_CODE_LENGTH = 40  # as POST /v1/events takes it
# The lengths POST /v1/events allows in a shipping address: line1, line2, city, postal code.
ADDRESS_LIMITS = (300, 300, 200, 32)
_MICRO = Decimal("0.000001")
_NAME_LENGTH = 200


def body_hash(raw_body: bytes) -> str:
    """What a redelivery must repeat byte for byte: the same id with other bytes is a conflict."""
    return hashlib.sha256(raw_body).hexdigest()


def event_id(*parts: str) -> str:
    """Parts joined by ':'; hashed down when the result would not fit the inbox's 200 chars."""
    joined = ":".join(parts)
    if len(joined) <= MAX_ID_LENGTH:
        return joined
    return f"{parts[0][:80]}:sha256:{hashlib.sha256(joined.encode()).hexdigest()}"


def order_line(
    *,
    sku: str,
    quantity: int,
    gross: Decimal,
    net: Decimal,
    product_id: str | None = None,
    category: str | None = None,
    brand: str | None = None,
) -> OrderLine:
    """A line from the store's line value before (``gross``) and after (``net``) discounts.

    The unit price is gross / quantity, rounded up to 6 places only when the division does not
    end; the discount takes the difference, so the line's net is exactly the store's figure.
    """
    net = max(net, Decimal(0))
    gross = max(gross, net)
    unit = gross / quantity
    rounded = unit.quantize(_MICRO, ROUND_CEILING)
    if rounded != unit:  # 10.00 / 3: the unit price goes up, the discount absorbs the rest
        unit = rounded
    return OrderLine(
        sku=sku,
        quantity=quantity,
        unit_price=unit,
        discount=unit * quantity - net,
        product_id=product_id,
        category=category,
        brand=brand,
    )


def sku_or_id(sku: str | None, **ids: str | None) -> str:
    """The SKU, else the first id present, prefixed by its kind ('variant:123')."""
    if sku:
        return sku[:MAX_ID_LENGTH]
    for kind, value in ids.items():
        if value:
            return f"{kind}:{value}"
    raise ValidationFailed("a line has neither a SKU nor an id", field="sku")


def profile(
    *,
    email: str | None = None,
    phone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    locale: str | None = None,
    consents: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """Contact data for the member profile, keeping only values our profile accepts.

    A store's malformed phone number or locale must not cost a customer their points, so a
    value that does not normalise is left out rather than failing the whole event.
    """
    fields: dict[str, Any] = {
        "email": _normalised(normalise_email, email),
        "phone": _normalised(normalise_phone, phone),
        "locale": _normalised(normalise_locale, locale),
        "first_name": first_name[:_NAME_LENGTH] if first_name else None,
        "last_name": last_name[:_NAME_LENGTH] if last_name else None,
        "consents": consents or None,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _normalised(normalise: Any, value: str | None) -> str | None:
    try:
        result: str | None = normalise(value)
    except ValidationFailed:
        return None
    return result


def guest_email(email: str | None) -> str | None:
    """The normalised address a guest order can be claimed by, or None if there is none."""
    return _normalised(normalise_email, email)


@dataclass(frozen=True, slots=True)
class Buyer:
    """Who placed an order: the store's customer id, or a guest known by email only."""

    customer_id: str | None
    email: str | None  # normalised
    profile: dict[str, Any] = field(default_factory=dict)

    def member(self, guest_matching: bool) -> MemberRef | None:
        if self.customer_id:
            return MemberRef(self.customer_id, self.profile)
        if guest_matching and self.email:
            external_id = GUEST_PREFIX + self.email
            if len(external_id) <= MAX_ID_LENGTH:
                return MemberRef(external_id, self.profile)
        return None


def order_paid(
    *,
    source: str,
    event_id: str,
    occurred_at: datetime,
    order: PaidOrder,
    buyer: Buyer,
    guest_matching: bool,
    body_hash: str,
    checkout_id: str | None = None,
    referral: ReferralData | None = None,
) -> InboundEvent | GuestOrder:
    """``order.paid`` for the buyer's member, or a guest order kept for a later claim.

    ``checkout_id`` commits what that checkout holds (codes, points); ``referral`` is the code
    the customer came with, attributed as ``POST /v1/events`` would, and what the self-referral
    checks compare (shipping address, hashed IP).
    """
    member = buyer.member(guest_matching)
    event = InboundEvent(
        source=source,
        event_id=event_id,
        type="order.paid",
        occurred_at=occurred_at,
        member=member,
        payload=OrderPaid(order, referral=referral, checkout_id=checkout_id),
        body_hash=body_hash,
    )
    return event if member is not None else GuestOrder(event, buyer.email)


def checkout_ref(value: Any) -> str | None:
    """A checkout id found in a store field: a string or integer id that fits our ids, else
    None (a field we do not recognise must not cost the customer the order's points)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_ID_LENGTH:
        return None
    return value.strip()


def referral_code(value: Any) -> str | None:
    """A referral code found in a store field, or None when it cannot be one."""
    if not isinstance(value, str):
        return None
    code = value.strip()
    return code if 0 < len(code) <= MAX_REFERRAL_CODE_LENGTH else None


def referral(
    code: str | None,
    *,
    ip_hash: str | None = None,
    device_hash: str | None = None,
    shipping_address: Address | None = None,
) -> ReferralData | None:
    """What an order carries for referrals, or None when it carries nothing."""
    if code is None and ip_hash is None and device_hash is None and shipping_address is None:
        return None
    return ReferralData(code, device_hash, ip_hash, shipping_address)


def ip_hash(value: Any) -> str | None:
    """The hex SHA-256 of an IP address in its canonical text form (IPv4 dotted decimal, IPv6
    compressed lower case, an IPv4-mapped IPv6 address as its IPv4 address), as the
    ``ip_hash`` of ``POST /v1/events`` is documented; None when ``value`` is not an address."""
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return hashlib.sha256(address.compressed.encode()).hexdigest()


def shipping_address(
    *, line1: Any, line2: Any = None, city: Any = None, postal_code: Any = None, country: Any = None
) -> Address | None:
    """A shipping address for the self-referral checks from a store's fields; None without a
    street line. Fields longer than ``POST /v1/events`` allows are cut to that length and a
    country that is not a two-letter code is left out: a store's odd address must not cost the
    customer the order's points."""
    parts = [
        _plain(value)[:limit]
        for value, limit in zip((line1, line2, city, postal_code), ADDRESS_LIMITS, strict=True)
    ]
    if not parts[0]:
        return None
    code = _plain(country)
    return Address(*parts, country=code.upper() if len(code) == 2 and code.isalpha() else "")


def _plain(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def first_of(*values: str | None) -> str | None:
    return next((value for value in values if value is not None), None)
