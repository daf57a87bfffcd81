"""What a promotion gives. Each benefit is a small value; ``pricing`` computes what it is worth.

- ``PercentOff``: percent off the order (every line not excluded) or the matching lines,
  optionally capped.
- ``AmountOff``: a fixed amount off the order or the matching lines (never more than they cost).
- ``FixedPrice``: matching items cost ``price`` each (at most ``max_units`` of them).
- ``FreeShipping``: shipping off, optionally only up to ``cap``.
- ``BuyXGetY``: for every ``buy + get`` matching items, the ``get`` cheapest are ``percent`` off;
  "3 for 2, cheapest free" is ``BuyXGetY(buy=2, get=1)``.
- ``FreeGift``: adds a gift line to the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from loyalty.domain.promotions._parse import Fields, check_percent, decimal_text
from loyalty.domain.promotions.reasons import InvalidPromotion

HUNDRED = Decimal(100)


class Target(StrEnum):
    ORDER = "order"
    MATCHING = "matching"


def _target(fields: Fields) -> Target:
    value = fields.opt_text("target") or Target.ORDER.value
    try:
        return Target(value)
    except ValueError:
        raise InvalidPromotion("must be 'order' or 'matching'", field="target") from None


def _non_negative(value: Decimal | None, field: str) -> None:
    if value is not None and value < 0:
        raise InvalidPromotion("must not be negative", field=field)


@dataclass(frozen=True, slots=True)
class PercentOff:
    percent: Decimal
    target: Target = Target.ORDER
    cap: Decimal | None = None

    def __post_init__(self) -> None:
        check_percent(self.percent, "percent")
        _non_negative(self.cap, "cap")

    def money_fields(self) -> dict[str, Decimal | None]:
        return {"cap": self.cap}

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "percent_off",
            "percent": str(self.percent),
            "target": self.target.value,
            "cap": decimal_text(self.cap),
        }

    @classmethod
    def read(cls, fields: Fields) -> PercentOff:
        return cls(
            percent=fields.decimal("percent", Decimal(0)),
            target=_target(fields),
            cap=fields.opt_decimal("cap"),
        )


@dataclass(frozen=True, slots=True)
class AmountOff:
    amount: Decimal
    target: Target = Target.ORDER

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise InvalidPromotion("must be more than 0", field="amount")

    def money_fields(self) -> dict[str, Decimal | None]:
        return {"amount": self.amount}

    def to_dict(self) -> dict[str, Any]:
        return {"type": "amount_off", "amount": str(self.amount), "target": self.target.value}

    @classmethod
    def read(cls, fields: Fields) -> AmountOff:
        return cls(amount=fields.decimal("amount", Decimal(0)), target=_target(fields))


@dataclass(frozen=True, slots=True)
class FixedPrice:
    price: Decimal
    max_units: int | None = None

    def __post_init__(self) -> None:
        _non_negative(self.price, "price")
        if self.max_units is not None and self.max_units < 1:
            raise InvalidPromotion("must be at least 1", field="max_units")

    def money_fields(self) -> dict[str, Decimal | None]:
        return {"price": self.price}

    def to_dict(self) -> dict[str, Any]:
        return {"type": "fixed_price", "price": str(self.price), "max_units": self.max_units}

    @classmethod
    def read(cls, fields: Fields) -> FixedPrice:
        price = fields.opt_decimal("price")
        if price is None:
            raise InvalidPromotion("is required", field="price")
        return cls(price=price, max_units=fields.opt_int("max_units"))


@dataclass(frozen=True, slots=True)
class FreeShipping:
    cap: Decimal | None = None

    def __post_init__(self) -> None:
        _non_negative(self.cap, "cap")

    def money_fields(self) -> dict[str, Decimal | None]:
        return {"cap": self.cap}

    def to_dict(self) -> dict[str, Any]:
        return {"type": "free_shipping", "cap": decimal_text(self.cap)}

    @classmethod
    def read(cls, fields: Fields) -> FreeShipping:
        return cls(cap=fields.opt_decimal("cap"))


@dataclass(frozen=True, slots=True)
class BuyXGetY:
    buy: int
    get: int
    percent: Decimal = HUNDRED
    max_applications: int | None = None

    def __post_init__(self) -> None:
        if self.buy < 1:
            raise InvalidPromotion("must be at least 1", field="buy")
        if self.get < 1:
            raise InvalidPromotion("must be at least 1", field="get")
        check_percent(self.percent, "percent")
        if self.max_applications is not None and self.max_applications < 1:
            raise InvalidPromotion("must be at least 1", field="max_applications")

    def money_fields(self) -> dict[str, Decimal | None]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "buy_x_get_y",
            "buy": self.buy,
            "get": self.get,
            "percent": str(self.percent),
            "max_applications": self.max_applications,
        }

    @classmethod
    def read(cls, fields: Fields) -> BuyXGetY:
        return cls(
            buy=fields.integer("buy", 0),
            get=fields.integer("get", 0),
            percent=fields.decimal("percent", HUNDRED),
            max_applications=fields.opt_int("max_applications"),
        )


@dataclass(frozen=True, slots=True)
class FreeGift:
    sku: str
    quantity: int = 1
    product_id: str | None = None

    def __post_init__(self) -> None:
        if not self.sku:
            raise InvalidPromotion("is required", field="sku")
        if self.quantity < 1:
            raise InvalidPromotion("must be at least 1", field="quantity")

    def money_fields(self) -> dict[str, Decimal | None]:
        return {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "free_gift",
            "sku": self.sku,
            "quantity": self.quantity,
            "product_id": self.product_id,
        }

    @classmethod
    def read(cls, fields: Fields) -> FreeGift:
        return cls(
            sku=fields.text("sku"),
            quantity=fields.integer("quantity", 1),
            product_id=fields.opt_text("product_id"),
        )


Benefit = PercentOff | AmountOff | FixedPrice | FreeShipping | BuyXGetY | FreeGift

_BY_TYPE: dict[str, type[Benefit]] = {
    "percent_off": PercentOff,
    "amount_off": AmountOff,
    "fixed_price": FixedPrice,
    "free_shipping": FreeShipping,
    "buy_x_get_y": BuyXGetY,
    "free_gift": FreeGift,
}


def benefit_from_dict(data: object) -> Benefit:
    fields = Fields(data)
    kind = fields.text("type")
    if kind not in _BY_TYPE:
        raise InvalidPromotion(f"unknown benefit type '{kind}'", field="type")
    benefit = _BY_TYPE[kind].read(fields)
    fields.done()
    return benefit
