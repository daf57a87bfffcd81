"""Request bodies, validated at the edge and turned into domain values."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from loyalty.domain.errors import UnknownCurrency
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
from loyalty.domain.money import check_currency
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.referrals.identity import Address
from loyalty.domain.rules.triggers import ACTION_TAG, ACTION_TYPE_PATTERN, is_action_event


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except UnknownCurrency as error:
        raise PydanticCustomError("unknown_currency", error.detail) from error


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError(
            "validation_failed", "timestamps need a time zone offset, e.g. 'Z'"
        )
    return value


Currency = Annotated[str, AfterValidator(_currency)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]
ExternalId = Annotated[str, Field(min_length=1, max_length=200)]
Timestamp = Annotated[datetime, AfterValidator(_aware)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Profile(Strict):
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=32)
    first_name: str | None = Field(None, max_length=200)
    last_name: str | None = Field(None, max_length=200)
    birthday: date | None = None
    locale: str | None = Field(None, max_length=16)
    consents: dict[str, bool] | None = None


class MemberCreate(Profile):
    external_id: ExternalId
    status: Literal["active", "blocked"] = "active"


class MemberUpdate(Profile):
    status: Literal["active", "blocked"] | None = None


class Adjustment(Strict):
    points: int = Field(ge=-10_000_000, le=10_000_000)
    reason: str = Field(min_length=1, max_length=500)


class Transfer(Strict):
    from_member: ExternalId = Field(alias="from")
    to: ExternalId
    points: int = Field(gt=0, le=10_000_000)
    reason: str = Field("transfer between members", min_length=1, max_length=500)


class ExpiryIn(Strict):
    kind: Literal[
        "never", "days_after_earn", "end_of_month_after", "end_of_year_after", "inactivity"
    ]
    days: int | None = Field(None, ge=1, le=36_500)
    months: int | None = Field(None, ge=0, le=1_200)


class ProgramUpdate(Strict):
    currency: Currency | None = None
    points_per_unit: Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = (
        None
    )
    rounding: Literal["floor", "half_up", "ceiling"] | None = None
    exclude_shipping: bool | None = None
    exclude_tax: bool | None = None
    pending_days: int | None = Field(None, ge=0, le=365)
    expiry: ExpiryIn | None = None
    clawback: Literal["negative_balance", "other_points", "write_off"] | None = None
    transfers_enabled: bool | None = None
    expiring_soon_days: int | None = Field(None, ge=1, le=365)
    launched_at: AwareDatetime | None = None
    expected_breakage: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] | None = None
    point_value: (
        Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=6, allow_inf_nan=False)] | None
    ) = None
    points_max_share: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
    checkout_ttl_minutes: int | None = Field(None, ge=1, le=1440)
    code_refund_policy: (
        Literal["keep", "release_on_full_refund", "release_on_any_refund"] | None
    ) = None


# --- events -------------------------------------------------------------------------------


class AddressIn(Strict):
    line1: str = Field(min_length=1, max_length=300)
    line2: str = Field("", max_length=300)
    city: str = Field("", max_length=200)
    postal_code: str = Field("", max_length=32)
    country: str = Field("", max_length=2)


class ReferralFields(BaseModel):
    """Optional referral data on a sign-up or an order: the code the customer came with and
    what the self-referral checks compare (device id and IP hashed by the store)."""

    referral_code: str | None = Field(None, min_length=1, max_length=40)
    device_hash: str | None = Field(None, min_length=1, max_length=200)
    ip_hash: str | None = Field(None, min_length=1, max_length=200)
    shipping_address: AddressIn | None = None

    def referral_data(self) -> ReferralData | None:
        if not (self.referral_code or self.device_hash or self.ip_hash or self.shipping_address):
            return None
        address = self.shipping_address
        return ReferralData(
            self.referral_code,
            self.device_hash,
            self.ip_hash,
            None if address is None else Address(**address.model_dump()),
        )


class CustomerData(Profile, ReferralFields):
    pass


class MemberRefIn(Profile):
    external_id: ExternalId


class LineIn(Strict):
    model_config = ConfigDict(extra="ignore")
    sku: str = Field(min_length=1, max_length=200)
    product_id: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=200)
    brand: str | None = Field(None, max_length=200)
    quantity: int = Field(gt=0, le=1_000_000)
    unit_price: Amount
    discount: Amount = Decimal(0)


class OrderPaidData(ReferralFields):
    model_config = ConfigDict(extra="ignore")
    order_id: ExternalId
    currency: Currency
    lines: list[LineIn] = Field(min_length=1, max_length=1000)
    shipping: Amount = Decimal(0)
    tax: Amount = Decimal(0)
    total: Amount | None = None
    checkout_id: ExternalId | None = None


class RefundLineIn(Strict):
    sku: str = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0, le=1_000_000)


class OrderRefundedData(Strict):
    model_config = ConfigDict(extra="ignore")
    order_id: ExternalId
    refund_id: ExternalId
    lines: list[RefundLineIn] | None = Field(None, min_length=1, max_length=1000)
    amount: (
        Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=6, allow_inf_nan=False)] | None
    ) = None

    @model_validator(mode="after")
    def _one_of(self) -> OrderRefundedData:
        if (self.lines is None) == (self.amount is None):
            raise PydanticCustomError("validation_failed", "give either lines or amount")
        return self


class OrderCancelledData(Strict):
    model_config = ConfigDict(extra="ignore")
    order_id: ExternalId
    checkout_id: ExternalId | None = None


class _Envelope(Strict):
    id: ExternalId
    occurred_at: Timestamp
    member: MemberRefIn | None = None


class CustomerEvent(_Envelope):
    type: Literal["customer.created", "customer.updated"]
    member: MemberRefIn
    data: CustomerData = Field(default_factory=CustomerData)


class OrderPaidEvent(_Envelope):
    type: Literal["order.paid"]
    member: MemberRefIn
    data: OrderPaidData


class OrderRefundedEvent(_Envelope):
    type: Literal["order.refunded"]
    data: OrderRefundedData


class OrderCancelledEvent(_Envelope):
    type: Literal["order.cancelled"]
    data: OrderCancelledData


class MembershipStartedData(Strict):
    membership_id: ExternalId
    plan_id: int = Field(ge=1)


class MembershipChangedData(Strict):
    membership_id: ExternalId


class MembershipCancelledData(MembershipChangedData):
    immediately: bool = False


class MembershipStartedEvent(_Envelope):
    type: Literal["membership.started"]
    member: MemberRefIn
    data: MembershipStartedData


class MembershipChangedEvent(_Envelope):
    type: Literal["membership.renewed", "membership.expired"]
    data: MembershipChangedData


class MembershipCancelledEvent(_Envelope):
    type: Literal["membership.cancelled"]
    data: MembershipCancelledData


class ActionEvent(_Envelope):
    """Something a member did that earning rules may reward; ``data`` is free-form."""

    type: Annotated[str, Field(pattern=ACTION_TYPE_PATTERN)]
    member: MemberRefIn
    data: dict[str, Any] = Field(default_factory=dict)


def _event_tag(value: Any) -> str | None:
    """The union member for a body: action events share one model, the rest are by type."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if isinstance(kind, str) and is_action_event(kind):
        return ACTION_TAG
    return kind if isinstance(kind, str) else None


EventIn = Annotated[
    Annotated[CustomerEvent, Tag("customer.created")]
    | Annotated[CustomerEvent, Tag("customer.updated")]
    | Annotated[OrderPaidEvent, Tag("order.paid")]
    | Annotated[OrderRefundedEvent, Tag("order.refunded")]
    | Annotated[OrderCancelledEvent, Tag("order.cancelled")]
    | Annotated[MembershipStartedEvent, Tag("membership.started")]
    | Annotated[MembershipChangedEvent, Tag("membership.renewed")]
    | Annotated[MembershipChangedEvent, Tag("membership.expired")]
    | Annotated[MembershipCancelledEvent, Tag("membership.cancelled")]
    | Annotated[ActionEvent, Tag(ACTION_TAG)],
    Discriminator(_event_tag),
]


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(min_length=1)


def canonical_hash(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# Event bodies whose JSON dump holds only strings, integers, booleans and nulls (amounts dump
# as strings): no floats, whose text differs between the standard library and orjson.
_NO_FLOATS = (
    CustomerEvent,
    OrderPaidEvent,
    OrderRefundedEvent,
    OrderCancelledEvent,
    MembershipStartedEvent,
    MembershipChangedEvent,
    MembershipCancelledEvent,
)


def event_hash(event: BaseModel) -> str:
    """``canonical_hash`` of an event's JSON dump, computed with orjson where the text is
    provably the same: sorted keys, no floats, and only printable ASCII with nothing escaped
    (the standard library escapes non-ASCII and DEL, orjson does not)."""
    data = event.model_dump(mode="json", exclude_unset=True)
    if isinstance(event, _NO_FLOATS):
        try:
            text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # an integer beyond 64 bits
            return canonical_hash(data)
        if text.isascii() and b"\\" not in text and b"\x7f" not in text:
            return hashlib.sha256(text).hexdigest()
    return canonical_hash(data)


_NOT_PROFILE = frozenset({"external_id", *ReferralFields.model_fields})


def _profile(model: Profile | None) -> dict[str, Any]:
    if model is None or model.model_fields_set <= _NOT_PROFILE:  # most events name only an id
        return {}
    return model.model_dump(exclude_unset=True, exclude=set(_NOT_PROFILE))


def to_domain(event: Any, source: str = "api") -> InboundEvent:
    member = MemberRef(event.member.external_id, _profile(event.member)) if event.member else None
    data = event.data
    payload: Any
    if isinstance(event, CustomerEvent):
        payload = CustomerChanged(_profile(data), data.referral_data())
    elif isinstance(event, OrderPaidEvent):
        lines = tuple(
            OrderLine(
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                product_id=line.product_id,
                category=line.category,
                brand=line.brand,
            )
            for line in data.lines
        )
        payload = OrderPaid(
            PaidOrder(data.order_id, data.currency, lines, data.shipping, data.tax, data.total),
            referral=data.referral_data(),
            checkout_id=data.checkout_id,
        )
    elif isinstance(event, OrderRefundedEvent):
        lines = tuple((line.sku, line.quantity) for line in data.lines) if data.lines else None
        payload = OrderRefunded(data.order_id, data.refund_id, lines, data.amount)
    elif isinstance(event, MembershipStartedEvent):
        payload = MembershipChanged(data.membership_id, plan_id=data.plan_id)
    elif isinstance(event, MembershipCancelledEvent):
        payload = MembershipChanged(data.membership_id, immediately=data.immediately)
    elif isinstance(event, MembershipChangedEvent):
        payload = MembershipChanged(data.membership_id)
    elif isinstance(event, ActionEvent):
        payload = ActionPerformed(dict(data))
    else:
        payload = OrderCancelled(data.order_id, data.checkout_id)
    return InboundEvent(
        source=source,
        event_id=event.id,
        type=event.type,
        occurred_at=event.occurred_at,
        member=member,
        payload=payload,
        body_hash=event_hash(event),
    )


# --- referrals ----------------------------------------------------------------------------


class ReferralCreate(ReferralFields):
    """``POST /v1/referrals``: a store attributing a referee to a code explicitly."""

    model_config = ConfigDict(extra="forbid")
    referral_code: str = Field(alias="code", min_length=1, max_length=40)
    referee: MemberRefIn

    def referee_profile(self) -> dict[str, Any]:
        return {"external_id": self.referee.external_id, **_profile(self.referee)}


# --- rewards and coupons ---------------------------------------------------------------------


class RedemptionCreate(Strict):
    reward_id: str = Field(min_length=1, max_length=100)


class FulfilmentUpdate(Strict):
    status: Literal["shipped", "delivered"]
    carrier: str | None = Field(None, max_length=100)
    tracking: str | None = Field(None, max_length=200)


class CouponUse(Strict):
    order_id: str = Field(min_length=1, max_length=200)
    member: ExternalId | None = None
    checkout_id: str | None = Field(None, min_length=1, max_length=200)
