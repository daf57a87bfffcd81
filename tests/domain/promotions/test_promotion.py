"""Promotions as data: they survive a round trip and bad data names the field at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty.domain.errors import ErrorCode
from loyalty.domain.promotions import (
    AmountOff,
    BuyXGetY,
    Conditions,
    FixedPrice,
    FreeGift,
    FreeShipping,
    InvalidPromotion,
    PercentOff,
    Promotion,
    Target,
    Trigger,
)

D = Decimal


def _full() -> Promotion:
    return Promotion(
        id="spring",
        version=3,
        name="Spring sale",
        trigger=Trigger.CODE,
        benefits=(
            PercentOff(D(15), Target.MATCHING, cap=D("50.00")),
            AmountOff(D("5.00")),
            FixedPrice(D("9.99"), max_units=2),
            FreeShipping(cap=D("20.00")),
            BuyXGetY(2, 1, D(50), max_applications=3),
            FreeGift("tote", 2, "prod-1"),
        ),
        conditions=Conditions(
            min_subtotal=D("100.00"),
            min_quantity=2,
            products=frozenset({"a", "b"}),
            categories=frozenset({"shoes"}),
            exclude_products=frozenset({"gift-card"}),
            exclude_categories=frozenset({"sale"}),
            tiers=frozenset({"gold"}),
            first_order_only=True,
            segments=frozenset({"vip"}),
            starts_at=datetime(2026, 3, 1, tzinfo=UTC),
            ends_at=datetime(2026, 4, 1, tzinfo=UTC),
            expression="member.tier == 'gold'",
        ),
        codes=frozenset({"SPRING", "SPRING26"}),
        currency="PLN",
        priority=7,
        exclusive=True,
        combines_with=frozenset({"ship"}),
        max_discount=D("80.00"),
    )


def test_round_trip_through_a_dict_keeps_everything() -> None:
    promotion = _full()

    assert Promotion.from_dict(promotion.to_dict()) == promotion


def test_to_dict_is_plain_json() -> None:
    data = _full().to_dict()

    assert json.loads(json.dumps(data)) == data
    assert data["codes"] == ["SPRING", "SPRING26"]
    assert data["benefits"][0] == {
        "type": "percent_off",
        "percent": "15",
        "target": "matching",
        "cap": "50.00",
    }


def test_minimal_promotion_takes_defaults() -> None:
    promotion = Promotion.from_dict({"id": "p", "benefits": [{"type": "free_shipping"}]})

    assert promotion.trigger is Trigger.AUTOMATIC
    assert promotion.version == 1
    assert promotion.conditions == Conditions()
    assert promotion.combines_with is None


def test_codes_are_normalised_when_read() -> None:
    data = {
        "id": "p",
        "trigger": "code",
        "codes": [" summer "],
        "benefits": [{"type": "free_shipping"}],
    }

    assert Promotion.from_dict(data).codes == frozenset({"SUMMER"})


def _base(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "p",
        "currency": "PLN",
        "benefits": [{"type": "percent_off", "percent": "10"}],
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (_base(benefits=[{"type": "percent_off", "percent": "150"}]), "benefits[0].percent"),
        (_base(benefits=[{"type": "percent_off", "percent": "x"}]), "benefits[0].percent"),
        (_base(benefits=[{"type": "teleport"}]), "benefits[0].type"),
        (_base(benefits=[{"type": "amount_off", "amount": "-1"}]), "benefits[0].amount"),
        (_base(benefits=[{"type": "amount_off", "amount": "1.001"}]), "benefits[0].amount"),
        (_base(benefits=[{"type": "fixed_price"}]), "benefits[0].price"),
        (_base(benefits=[{"type": "buy_x_get_y", "buy": 2, "get": 0}]), "benefits[0].get"),
        (_base(benefits=[{"type": "free_gift", "sku": ""}]), "benefits[0].sku"),
        (
            _base(benefits=[{"type": "free_shipping", "cap": "5", "colour": "red"}]),
            "benefits[0].colour",
        ),
        (
            _base(benefits=[{"type": "percent_off", "percent": "5", "target": "shipping"}]),
            "benefits[0].target",
        ),
        (_base(benefits=[]), "benefits"),
        (_base(benefits="all"), "benefits"),
        (_base(conditions={"min_quantity": 0}), "conditions.min_quantity"),
        (_base(conditions={"min_subtotal": "10.005"}), "conditions.min_subtotal"),
        (_base(conditions={"tiers": "gold"}), "conditions.tiers"),
        (_base(conditions={"starts_at": "yesterday"}), "conditions.starts_at"),
        (_base(conditions={"starts_at": "2026-03-01T00:00:00"}), "conditions.starts_at"),
        (
            _base(
                conditions={"starts_at": "2026-03-02T00:00:00Z", "ends_at": "2026-03-01T00:00:00Z"}
            ),
            "conditions.ends_at",
        ),
        (_base(conditions={"first_order_only": "yes"}), "conditions.first_order_only"),
        (_base(conditions=[]), "conditions"),
        (_base(id=None), "id"),
        (_base(version=0), "version"),
        (_base(version="2"), "version"),
        (_base(trigger="sometimes"), "trigger"),
        (_base(codes=["X"]), "codes"),
        (_base(currency="ZZZ"), "currency"),
        (_base(currency=None, max_discount="5"), "max_discount"),
        (_base(max_discount="-5"), "max_discount"),
        (_base(priority=1.5), "priority"),
        (_base(exclusive=1), "exclusive"),
        (_base(combines_with=[1]), "combines_with"),
        (_base(typo=True), "typo"),
    ],
)
def test_invalid_data_names_the_field_at_fault(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPromotion) as caught:
        Promotion.from_dict(data)

    assert caught.value.field == field
    assert caught.value.code is ErrorCode.VALIDATION_FAILED


def test_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidPromotion):
        Promotion.from_dict(["id", "p"])


def test_amounts_need_the_promotions_currency_when_built_directly() -> None:
    with pytest.raises(InvalidPromotion) as caught:
        Promotion("p", 1, "", Trigger.AUTOMATIC, (AmountOff(D(5)),))

    assert caught.value.field == "benefits[0].amount"
