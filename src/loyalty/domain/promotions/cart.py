"""The cart a checkout asks us to price: lines, shipping, entered codes and who is buying."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.money import check_currency, quantum


def normalize_code(code: str) -> str:
    """Codes match case-insensitively and ignore surrounding blanks."""
    return code.strip().upper()


@dataclass(frozen=True, slots=True)
class CartLine:
    sku: str
    quantity: int
    unit_price: Decimal
    product_id: str | None = None
    category: str | None = None

    def __post_init__(self) -> None:
        if not self.sku:
            raise ValidationFailed("sku is required", field="sku")
        if self.quantity <= 0:
            raise ValidationFailed("quantity must be a positive integer", field="quantity")
        if self.unit_price < 0:
            raise ValidationFailed("unit_price must not be negative", field="unit_price")

    @property
    def value(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What promotions may know about the buyer. A guest is the default: no tier, no segments."""

    tier: str | None = None
    is_first_order: bool = False
    segments: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Cart:
    currency: str
    lines: tuple[CartLine, ...]
    shipping: Decimal = Decimal(0)
    member: MemberFacts = field(default_factory=MemberFacts)
    codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_currency(self.currency)
        step = quantum(self.currency)
        for index, line in enumerate(self.lines):
            if line.unit_price != line.unit_price.quantize(step):
                raise ValidationFailed(
                    f"unit_price has more decimals than {self.currency} allows",
                    field=f"lines[{index}].unit_price",
                )
        if self.shipping < 0:
            raise ValidationFailed("shipping must not be negative", field="shipping")
        if self.shipping != self.shipping.quantize(step):
            raise ValidationFailed(
                f"shipping has more decimals than {self.currency} allows", field="shipping"
            )

    @property
    def subtotal(self) -> Decimal:
        return sum((line.value for line in self.lines), Decimal(0))
