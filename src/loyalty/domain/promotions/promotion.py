"""A promotion as versioned data: who triggers it, when it applies, what it gives, how it stacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from loyalty.domain.errors import UnknownCurrency
from loyalty.domain.money import minor_units
from loyalty.domain.promotions._parse import (
    Fields,
    at,
    check_amount,
    decimal_text,
    sorted_list,
)
from loyalty.domain.promotions.benefits import Benefit, benefit_from_dict
from loyalty.domain.promotions.conditions import Conditions
from loyalty.domain.promotions.reasons import InvalidPromotion


class Trigger(StrEnum):
    AUTOMATIC = "automatic"  # considered for every cart
    CODE = "code"  # considered only when one of its codes (or an issued coupon) is entered


@dataclass(frozen=True, slots=True)
class Promotion:
    """One version of a promotion; results name ``id`` and ``version`` so a discount is explained.

    ``priority``: higher is evaluated first (ties by ``id``). ``exclusive``: applies only alone.
    ``combines_with``: None combines with any non-exclusive promotion, a set only with those ids
    (both sides must allow it). ``max_discount``: the most this promotion takes off one order,
    lines and shipping together. Amounts are in ``currency``, required when any amount is set;
    a promotion with a currency applies only to carts in that currency.
    """

    id: str
    version: int
    name: str
    trigger: Trigger
    benefits: tuple[Benefit, ...]
    conditions: Conditions = field(default_factory=Conditions)
    codes: frozenset[str] = frozenset()
    currency: str | None = None
    priority: int = 0
    exclusive: bool = False
    combines_with: frozenset[str] | None = None
    max_discount: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidPromotion("is required", field="id")
        if self.version < 1:
            raise InvalidPromotion("must be at least 1", field="version")
        if not self.benefits:
            raise InvalidPromotion("needs at least one benefit", field="benefits")
        if self.trigger is Trigger.AUTOMATIC and self.codes:
            raise InvalidPromotion("an automatic promotion has no codes", field="codes")
        if any(not code.strip() for code in self.codes):
            raise InvalidPromotion("codes must not be blank", field="codes")
        self._check_money()

    def _check_money(self) -> None:
        if self.currency is not None:
            try:
                minor_units(self.currency)
            except UnknownCurrency as exc:
                raise InvalidPromotion(exc.detail, field="currency") from None
        for path, value in self._money_fields():
            if value is not None and self.currency is None:
                raise InvalidPromotion("an amount needs the promotion's currency", field=path)
            check_amount(value, self.currency, path)

    def _money_fields(self) -> list[tuple[str, Decimal | None]]:
        fields: list[tuple[str, Decimal | None]] = [("max_discount", self.max_discount)]
        fields += [(f"conditions.{k}", v) for k, v in self.conditions.money_fields().items()]
        for position, benefit in enumerate(self.benefits):
            fields += [(f"benefits[{position}].{k}", v) for k, v in benefit.money_fields().items()]
        return fields

    def allows(self, other: Promotion) -> bool:
        return self.combines_with is None or other.id in self.combines_with

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "name": self.name or None,
            "trigger": self.trigger.value,
            "benefits": [benefit.to_dict() for benefit in self.benefits],
            "conditions": self.conditions.to_dict(),
            "codes": sorted(self.codes),
            "currency": self.currency,
            "priority": self.priority,
            "exclusive": self.exclusive,
            "combines_with": sorted_list(self.combines_with),
            "max_discount": decimal_text(self.max_discount),
        }

    @classmethod
    def from_dict(cls, data: object) -> Promotion:
        """Read stored or submitted data; ``InvalidPromotion.field`` is the path of the fault."""
        fields = Fields(data)
        benefits = []
        for position, item in enumerate(fields.objects("benefits")):
            with at(f"benefits[{position}]"):
                benefits.append(benefit_from_dict(item))
        with at("conditions"):
            raw_conditions = fields.opt_object("conditions")
            conditions = (
                Conditions() if raw_conditions is None else Conditions.from_dict(raw_conditions)
            )
        promotion = cls(
            id=fields.text("id"),
            version=fields.integer("version", 1),
            name=fields.opt_text("name") or "",
            trigger=_trigger(fields),
            benefits=tuple(benefits),
            conditions=conditions,
            codes=frozenset(code.strip().upper() for code in fields.texts("codes")),
            currency=fields.opt_text("currency"),
            priority=fields.integer("priority", 0),
            exclusive=fields.boolean("exclusive", False),
            combines_with=fields.opt_texts("combines_with"),
            max_discount=fields.opt_decimal("max_discount"),
        )
        fields.done()
        return promotion


def _trigger(fields: Fields) -> Trigger:
    value = fields.opt_text("trigger") or Trigger.AUTOMATIC.value
    try:
        return Trigger(value)
    except ValueError:
        raise InvalidPromotion("must be 'automatic' or 'code'", field="trigger") from None
