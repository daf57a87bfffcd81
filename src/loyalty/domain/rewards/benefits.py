"""What a reward gives. Each type is a small frozen value with its own fields.

- ``FixedDiscount``: an amount off the next order (a checkout coupon).
- ``PercentDiscount``: percent off the next order, optionally capped (a checkout coupon).
- ``FreeShipping``: shipping off, optionally up to a cap (a checkout coupon).
- ``FreeProduct``: a product (sku) added free to the next order (a checkout coupon).
- ``StoreCredit``: points become money in the member's store wallet.
- ``PhysicalGift``: an item shipped to the member; it has a fulfilment lifecycle.
- ``CharityDonation``: the programme donates an amount to a named charity.
- ``EarlyAccessPass``: a code that unlocks early access (a sale, a collection).

``delivery`` says how the member receives it; coupon types also say which cart-engine benefit
they are worth at checkout (``checkout_benefit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from loyalty.domain.errors import UnknownCurrency
from loyalty.domain.money import Money, quantum
from loyalty.domain.promotions import AmountOff, FreeGift, PercentOff, Target
from loyalty.domain.promotions import Benefit as CheckoutBenefit
from loyalty.domain.promotions import FreeShipping as CheckoutFreeShipping
from loyalty.domain.rewards._fields import Fields, decimal_text
from loyalty.domain.rewards.errors import InvalidReward

HUNDRED = Decimal(100)


class RewardType(StrEnum):
    FIXED_DISCOUNT = "fixed_discount"
    PERCENT_DISCOUNT = "percent_discount"
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"
    STORE_CREDIT = "store_credit"
    PHYSICAL_GIFT = "physical_gift"
    CHARITY_DONATION = "charity_donation"
    EARLY_ACCESS = "early_access"


class Delivery(StrEnum):
    COUPON = "coupon"  # a code to enter at checkout
    PASS = "pass"  # a code that unlocks access; not a discount
    STORE_CREDIT = "store_credit"  # money into the member's store wallet
    SHIPMENT = "shipment"  # a parcel: see ``fulfilment``
    DONATION = "donation"  # the programme pays a charity


CODE_DELIVERIES = frozenset({Delivery.COUPON, Delivery.PASS})


def _check_currency(currency: str | None, required: bool) -> None:
    if currency is None:
        if required:
            raise InvalidReward("is required", field="currency")
        return
    try:
        quantum(currency)
    except UnknownCurrency as exc:
        raise InvalidReward(exc.detail, field="currency") from None


def _check_amount(amount: Decimal | None, currency: str | None, field: str) -> None:
    """Positive and within the currency's minor units; an amount needs a currency."""
    if amount is None:
        return
    if currency is None:
        raise InvalidReward("an amount needs a currency", field="currency")
    if amount <= 0:
        raise InvalidReward("must be more than 0", field=field)
    if amount != amount.quantize(quantum(currency)):
        raise InvalidReward(f"has more decimals than {currency} allows", field=field)


def _check_text(value: str, field: str) -> None:
    if not value.strip():
        raise InvalidReward("is required", field=field)


@dataclass(frozen=True, slots=True)
class FixedDiscount:
    amount: Decimal
    currency: str

    type: ClassVar[RewardType] = RewardType.FIXED_DISCOUNT
    delivery: ClassVar[Delivery] = Delivery.COUPON

    def __post_init__(self) -> None:
        _check_currency(self.currency, required=True)
        _check_amount(self.amount, self.currency, "amount")

    def checkout_benefit(self) -> CheckoutBenefit:
        return AmountOff(self.amount, Target.ORDER)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "amount": str(self.amount), "currency": self.currency}

    @classmethod
    def read(cls, fields: Fields) -> FixedDiscount:
        return cls(amount=fields.decimal("amount"), currency=fields.text("currency"))


@dataclass(frozen=True, slots=True)
class PercentDiscount:
    percent: Decimal
    cap: Decimal | None = None  # the most it takes off one order
    currency: str | None = None  # required with a cap

    type: ClassVar[RewardType] = RewardType.PERCENT_DISCOUNT
    delivery: ClassVar[Delivery] = Delivery.COUPON

    def __post_init__(self) -> None:
        if not 0 < self.percent <= HUNDRED:
            raise InvalidReward("must be more than 0 and at most 100", field="percent")
        _check_currency(self.currency, required=self.cap is not None)
        _check_amount(self.cap, self.currency, "cap")

    def checkout_benefit(self) -> CheckoutBenefit:
        return PercentOff(self.percent, Target.ORDER, self.cap)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "percent": str(self.percent),
            "cap": decimal_text(self.cap),
            "currency": self.currency,
        }

    @classmethod
    def read(cls, fields: Fields) -> PercentDiscount:
        return cls(
            percent=fields.decimal("percent"),
            cap=fields.opt_decimal("cap"),
            currency=fields.opt_text("currency"),
        )


@dataclass(frozen=True, slots=True)
class FreeShipping:
    cap: Decimal | None = None
    currency: str | None = None  # required with a cap

    type: ClassVar[RewardType] = RewardType.FREE_SHIPPING
    delivery: ClassVar[Delivery] = Delivery.COUPON

    def __post_init__(self) -> None:
        _check_currency(self.currency, required=self.cap is not None)
        _check_amount(self.cap, self.currency, "cap")

    def checkout_benefit(self) -> CheckoutBenefit:
        return CheckoutFreeShipping(self.cap)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "cap": decimal_text(self.cap), "currency": self.currency}

    @classmethod
    def read(cls, fields: Fields) -> FreeShipping:
        return cls(cap=fields.opt_decimal("cap"), currency=fields.opt_text("currency"))


@dataclass(frozen=True, slots=True)
class FreeProduct:
    sku: str
    quantity: int = 1
    product_id: str | None = None

    type: ClassVar[RewardType] = RewardType.FREE_PRODUCT
    delivery: ClassVar[Delivery] = Delivery.COUPON

    def __post_init__(self) -> None:
        _check_text(self.sku, "sku")
        if self.quantity < 1:
            raise InvalidReward("must be at least 1", field="quantity")

    def checkout_benefit(self) -> CheckoutBenefit:
        return FreeGift(self.sku, self.quantity, self.product_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "sku": self.sku,
            "quantity": self.quantity,
            "product_id": self.product_id,
        }

    @classmethod
    def read(cls, fields: Fields) -> FreeProduct:
        return cls(
            sku=fields.text("sku"),
            quantity=fields.integer("quantity", 1),
            product_id=fields.opt_text("product_id"),
        )


@dataclass(frozen=True, slots=True)
class StoreCredit:
    """``cost_points`` of the reward become ``amount`` in the member's store wallet."""

    amount: Decimal
    currency: str

    type: ClassVar[RewardType] = RewardType.STORE_CREDIT
    delivery: ClassVar[Delivery] = Delivery.STORE_CREDIT

    def __post_init__(self) -> None:
        _check_currency(self.currency, required=True)
        _check_amount(self.amount, self.currency, "amount")

    @property
    def value(self) -> Money:
        return Money(self.amount, self.currency)

    def checkout_benefit(self) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "amount": str(self.amount), "currency": self.currency}

    @classmethod
    def read(cls, fields: Fields) -> StoreCredit:
        return cls(amount=fields.decimal("amount"), currency=fields.text("currency"))


@dataclass(frozen=True, slots=True)
class PhysicalGift:
    sku: str

    type: ClassVar[RewardType] = RewardType.PHYSICAL_GIFT
    delivery: ClassVar[Delivery] = Delivery.SHIPMENT

    def __post_init__(self) -> None:
        _check_text(self.sku, "sku")

    def checkout_benefit(self) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "sku": self.sku}

    @classmethod
    def read(cls, fields: Fields) -> PhysicalGift:
        return cls(sku=fields.text("sku"))


@dataclass(frozen=True, slots=True)
class CharityDonation:
    charity: str  # the charity's id or name, as the programme lists it
    amount: Decimal
    currency: str

    type: ClassVar[RewardType] = RewardType.CHARITY_DONATION
    delivery: ClassVar[Delivery] = Delivery.DONATION

    def __post_init__(self) -> None:
        _check_text(self.charity, "charity")
        _check_currency(self.currency, required=True)
        _check_amount(self.amount, self.currency, "amount")

    @property
    def value(self) -> Money:
        return Money(self.amount, self.currency)

    def checkout_benefit(self) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "charity": self.charity,
            "amount": str(self.amount),
            "currency": self.currency,
        }

    @classmethod
    def read(cls, fields: Fields) -> CharityDonation:
        return cls(
            charity=fields.text("charity"),
            amount=fields.decimal("amount"),
            currency=fields.text("currency"),
        )


@dataclass(frozen=True, slots=True)
class EarlyAccessPass:
    access: str  # what the pass unlocks: a sale, collection or drop id the store knows

    type: ClassVar[RewardType] = RewardType.EARLY_ACCESS
    delivery: ClassVar[Delivery] = Delivery.PASS

    def __post_init__(self) -> None:
        _check_text(self.access, "access")

    def checkout_benefit(self) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "access": self.access}

    @classmethod
    def read(cls, fields: Fields) -> EarlyAccessPass:
        return cls(access=fields.text("access"))


RewardBenefit = (
    FixedDiscount
    | PercentDiscount
    | FreeShipping
    | FreeProduct
    | StoreCredit
    | PhysicalGift
    | CharityDonation
    | EarlyAccessPass
)

_BY_TYPE: dict[str, type[RewardBenefit]] = {
    kind.type.value: kind
    for kind in (
        FixedDiscount,
        PercentDiscount,
        FreeShipping,
        FreeProduct,
        StoreCredit,
        PhysicalGift,
        CharityDonation,
        EarlyAccessPass,
    )
}


def benefit_currency(benefit: RewardBenefit) -> str | None:
    """The currency of the benefit's amounts, if it has any."""
    if isinstance(benefit, FixedDiscount | PercentDiscount | FreeShipping):
        return benefit.currency
    if isinstance(benefit, StoreCredit | CharityDonation):
        return benefit.currency
    return None


def benefit_from_dict(data: object) -> RewardBenefit:
    fields = Fields(data, InvalidReward)
    kind = fields.text("type")
    if kind not in _BY_TYPE:
        allowed = ", ".join(sorted(_BY_TYPE))
        raise InvalidReward(f"unknown reward type '{kind}'; use one of {allowed}", field="type")
    benefit = _BY_TYPE[kind].read(fields)
    fields.done()
    return benefit
