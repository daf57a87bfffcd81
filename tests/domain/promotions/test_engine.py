"""Evaluating a cart: codes, currencies, determinism, and the allocation invariants."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.money import quantum
from loyalty.domain.promotions import (
    AmountOff,
    Benefit,
    BuyXGetY,
    Cart,
    CartLine,
    Conditions,
    FixedPrice,
    FreeShipping,
    PercentOff,
    Promotion,
    RejectReason,
    Target,
    Trigger,
    UsageFacts,
    evaluate_cart,
)
from tests.domain.promotions.builders import (
    NOW,
    D,
    applied_ids,
    cart,
    evaluate,
    line,
    promo,
    reasons,
)

TEN = PercentOff(D(10))


def test_code_promotion_applies_only_when_its_code_is_entered() -> None:
    offer = promo("summer", TEN, codes=("SUMMER10",))

    without = evaluate(cart(line("a", "10.00")), offer)
    with_code = evaluate(cart(line("a", "10.00"), codes=(" summer10 ",)), offer)

    assert without.applied == () and without.rejected == ()
    assert applied_ids(with_code) == ["summer"]
    assert with_code.applied[0].code == "SUMMER10"


def test_unknown_code_is_rejected_without_a_promotion() -> None:
    result = evaluate(cart(line("a", "10.00"), codes=("nope",)), promo("p", TEN))

    (rejected,) = result.rejected
    assert (rejected.promotion_id, rejected.code, rejected.reason) == (
        None,
        "NOPE",
        RejectReason.UNKNOWN_CODE,
    )


def test_second_code_for_the_same_promotion_is_a_duplicate() -> None:
    offer = promo("p", TEN, codes=("ONE", "TWO"))

    result = evaluate(cart(line("a", "10.00"), codes=("one", "two", "ONE")), offer)

    assert applied_ids(result) == ["p"]
    assert [(r.code, r.reason) for r in result.rejected] == [("TWO", RejectReason.DUPLICATE_CODE)]


def test_issued_coupon_codes_resolved_by_the_caller_trigger_their_promotion() -> None:
    reward = promo("reward-5", AmountOff(D("5.00")), codes=("UNUSED",))
    shopping = cart(line("a", "10.00"), codes=("RWD-7H2K-99QX", "RWD-GONE"))

    result = evaluate(
        shopping, reward, coupons={"rwd-7h2k-99qx": "reward-5", "RWD-GONE": "deleted"}
    )

    assert applied_ids(result) == ["reward-5"]
    assert result.applied[0].code == "RWD-7H2K-99QX"
    assert reasons(result) == {"RWD-GONE": RejectReason.UNKNOWN_CODE}


def test_code_promotion_failing_a_condition_is_reported_with_its_code() -> None:
    offer = promo("p", TEN, codes=("BIG",), conditions=Conditions(min_subtotal=D(100)))

    result = evaluate(cart(line("a", "10.00"), codes=("big",)), offer)

    assert [(r.promotion_id, r.code, r.reason) for r in result.rejected] == [
        ("p", "BIG", RejectReason.MIN_SUBTOTAL_NOT_MET)
    ]


def test_promotion_in_another_currency_is_rejected() -> None:
    result = evaluate(cart(line("a", "10.00"), currency="EUR"), promo("p", AmountOff(D(1))))

    assert reasons(result) == {"p": RejectReason.CURRENCY_MISMATCH}


def test_percent_promotion_without_currency_applies_in_any_currency() -> None:
    result = evaluate(cart(line("a", "10.00"), currency="EUR"), promo("p", TEN, currency=None))

    assert result.discount == D("1.00")


def test_now_must_carry_a_time_zone() -> None:
    with pytest.raises(ValidationFailed) as caught:
        evaluate(cart(line("a", "1.00")), promo("p", TEN), now=datetime(2026, 1, 1))

    assert caught.value.field == "now"


def test_promotion_ids_must_be_unique() -> None:
    with pytest.raises(ValidationFailed):
        evaluate(cart(line("a", "1.00")), promo("p", TEN), promo("p", TEN))


def test_same_input_gives_the_same_output_whatever_the_order_of_promotions() -> None:
    shopping = cart(line("a", "19.99", 3), line("b", "5.55"), line("c", "0.01"), shipping="7.00")
    offers = [
        promo("x", PercentOff(D(15))),
        promo("y", AmountOff(D("3.33"))),
        promo("z", BuyXGetY(buy=1, get=1)),
        promo("s", FreeShipping(cap=D(5))),
    ]

    first = evaluate(shopping, *offers)
    again = evaluate(shopping, *reversed(offers))

    assert first == again


def test_result_amounts_use_the_currency_exponent() -> None:
    result = evaluate(cart(line("a", "10.00"), shipping="1.00"), promo("p", TEN))

    assert str(result.shipping_discount) == "0.00"
    assert str(result.applied[0].shipping_discount) == "0.00"
    assert str(result.discount) == "1.00"


# -- properties --------------------------------------------------------------------------------


def _amounts(currency: str, high: int = 50_000) -> st.SearchStrategy[Decimal]:
    step = quantum(currency)
    return st.integers(0, high).map(lambda units: units * step)


def _benefits(currency: str) -> st.SearchStrategy[Benefit]:
    percents = st.integers(1, 100).map(Decimal)
    targets = st.sampled_from(list(Target))
    caps = st.none() | _amounts(currency)
    return st.one_of(
        st.builds(PercentOff, percents, targets, caps),
        st.builds(AmountOff, _amounts(currency).filter(lambda amount: amount > 0), targets),
        st.builds(FixedPrice, _amounts(currency, 5_000), st.none() | st.integers(1, 5)),
        st.builds(FreeShipping, caps),
        st.builds(BuyXGetY, st.integers(1, 3), st.integers(1, 2), percents),
    )


# strategies are built once: building them inside a draw costs more than the test itself
_CURRENCIES = ("PLN", "JPY", "KWD")
_AMOUNTS = {currency: _amounts(currency) for currency in _CURRENCIES}
_SHIPPING = {currency: _amounts(currency, 3_000) for currency in _CURRENCIES}
_BENEFIT_LISTS = {
    currency: st.lists(_benefits(currency), min_size=1, max_size=2) for currency in _CURRENCIES
}
_CATEGORIES = st.frozensets(st.sampled_from(["c0", "c1", "c2"]))
_EXCLUDED = st.frozensets(st.sampled_from(["sku0", "sku1"]))
_MAX_DISCOUNT = {currency: st.none() | _AMOUNTS[currency] for currency in _CURRENCIES}
_QUANTITY = st.integers(1, 4)
_PRIORITY = st.integers(0, 3)


@st.composite
def _case(draw: st.DrawFn) -> tuple[Cart, list[Promotion]]:
    currency = draw(st.sampled_from(_CURRENCIES))
    amounts = _AMOUNTS[currency]
    lines = tuple(
        CartLine(f"sku{i}", draw(_QUANTITY), draw(amounts), category=f"c{i % 3}")
        for i in range(draw(st.integers(1, 8)))
    )
    shopping = Cart(currency, lines, draw(_SHIPPING[currency]))
    promotions = [
        Promotion(
            id=f"p{i}",
            version=1,
            name="",
            trigger=Trigger.AUTOMATIC,
            benefits=tuple(draw(_BENEFIT_LISTS[currency])),
            conditions=Conditions(categories=draw(_CATEGORIES), exclude_products=draw(_EXCLUDED)),
            currency=currency,
            priority=draw(_PRIORITY),
            max_discount=draw(_MAX_DISCOUNT[currency]),
        )
        for i in range(draw(st.integers(1, 5)))
    ]
    return shopping, promotions


@settings(max_examples=150, deadline=None)
@given(_case())
def test_allocated_discounts_sum_exactly_and_no_line_goes_below_zero(
    case: tuple[Cart, list[Promotion]],
) -> None:
    shopping, promotions = case

    result = evaluate_cart(shopping, promotions, now=NOW, usage={"p0": UsageFacts()})

    step = quantum(shopping.currency)
    assert result.discount == sum((a.discount for a in result.applied), Decimal(0))
    for applied in result.applied:
        allocated = [
            share.amount
            for priced in result.lines
            for share in priced.discounts
            if share.promotion_id == applied.promotion_id
        ]
        assert sum(allocated, Decimal(0)) == applied.discount
        assert applied.total_discount > 0 or applied.gifts
    for priced in result.lines:
        assert 0 <= priced.discount <= priced.subtotal
        assert priced.discount == sum((s.amount for s in priced.discounts), Decimal(0))
        assert all(s.amount > 0 and s.amount == s.amount.quantize(step) for s in priced.discounts)
    assert 0 <= result.shipping_discount <= result.shipping
    assert result.total >= 0
    for applied in result.applied:
        limit = next(p.max_discount for p in promotions if p.id == applied.promotion_id)
        assert limit is None or applied.total_discount <= limit
    assert len(result.applied) + len(result.rejected) == len(promotions)


def test_cart_without_lines_can_still_get_free_shipping() -> None:
    result = evaluate(
        cart(shipping="5.00"), promo("p", TEN, FreeShipping()), promo("q", BuyXGetY(1, 1))
    )

    assert applied_ids(result) == ["p"]
    assert reasons(result) == {"q": RejectReason.NO_DISCOUNT}
    assert result.total == 0
