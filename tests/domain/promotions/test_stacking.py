"""Stacking: priority order, compounding, exclusivity, combinations, caps and usage limits."""

from __future__ import annotations

from loyalty.domain.promotions import (
    AmountOff,
    Conditions,
    FreeShipping,
    PercentOff,
    RejectReason,
    UsageFacts,
)
from tests.domain.promotions.builders import (
    D,
    applied_ids,
    cart,
    evaluate,
    line,
    line_discounts,
    promo,
    reasons,
)

TEN = PercentOff(D(10))


def test_higher_priority_applies_first_and_discounts_compound() -> None:
    # given 10 off then 10% of what is left, regardless of the order they are passed in
    ten_off = promo("ten-off", AmountOff(D("10.00")), priority=5)
    ten_percent = promo("ten-percent", TEN, priority=1)

    # when
    result = evaluate(cart(line("a", "100.00")), ten_percent, ten_off)

    # then
    assert applied_ids(result) == ["ten-off", "ten-percent"]
    assert [applied.discount for applied in result.applied] == [D("10.00"), D("9.00")]
    assert result.lines[0].discounts[1].amount == D("9.00")


def test_equal_priority_is_ordered_by_id() -> None:
    result = evaluate(cart(line("a", "100.00")), promo("b", TEN), promo("a", TEN))

    assert applied_ids(result) == ["a", "b"]


def test_exclusive_promotion_blocks_every_later_one() -> None:
    result = evaluate(
        cart(line("a", "100.00")),
        promo("vip", PercentOff(D(30)), exclusive=True, priority=9),
        promo("other", TEN),
    )

    assert applied_ids(result) == ["vip"]
    assert reasons(result) == {"other": RejectReason.BLOCKED_BY_EXCLUSIVE}


def test_exclusive_promotion_does_not_join_ones_already_applied() -> None:
    result = evaluate(
        cart(line("a", "100.00")),
        promo("first", TEN, priority=9),
        promo("vip", PercentOff(D(30)), exclusive=True),
    )

    assert applied_ids(result) == ["first"]
    assert reasons(result) == {"vip": RejectReason.EXCLUSIVE_NOT_ALONE}


def test_exclusive_that_does_not_qualify_blocks_nothing() -> None:
    result = evaluate(
        cart(line("a", "100.00")),
        promo("vip", TEN, exclusive=True, priority=9, conditions=Conditions(min_subtotal=D(500))),
        promo("other", TEN),
    )

    assert applied_ids(result) == ["other"]


def test_combines_with_needs_both_sides_to_allow_it() -> None:
    shopping = cart(line("a", "100.00"), shipping="10.00")
    picky = promo("picky", TEN, priority=9, combines_with=frozenset({"ship"}))
    ship = promo("ship", FreeShipping(), priority=5)
    other = promo("other", TEN)

    result = evaluate(shopping, picky, ship, other)

    assert applied_ids(result) == ["picky", "ship"]
    assert reasons(result) == {"other": RejectReason.NOT_COMBINABLE}


def test_combines_with_an_empty_list_combines_with_nothing() -> None:
    result = evaluate(
        cart(line("a", "100.00")),
        promo("first", TEN, priority=9),
        promo("solo", TEN, combines_with=frozenset()),
    )

    assert reasons(result) == {"solo": RejectReason.NOT_COMBINABLE}


def test_max_discount_per_order_caps_lines_and_shipping_together() -> None:
    shopping = cart(line("a", "100.00"), line("b", "100.00"), shipping="10.00")

    result = evaluate(
        shopping, promo("p", PercentOff(D(20)), FreeShipping(), max_discount=D("45.00"))
    )

    assert result.discount == D("40.00")
    assert result.shipping_discount == D("5.00")
    assert line_discounts(result) == [D("20.00"), D("20.00")]


def test_budget_left_caps_the_discount() -> None:
    result = evaluate(
        cart(line("a", "100.00")),
        promo("p", PercentOff(D(50))),
        usage={"p": UsageFacts(budget_remaining=D("12.345"))},
    )

    assert result.discount == D("12.34")  # budget rounds down to the cent


def test_usage_limits_reject_with_their_reason() -> None:
    shopping = cart(line("a", "100.00"))
    usage = {
        "global": UsageFacts(global_remaining=0, member_remaining=3),
        "member": UsageFacts(global_remaining=10, member_remaining=0),
        "budget": UsageFacts(budget_remaining=D("0.00")),
        "fine": UsageFacts(global_remaining=1, member_remaining=1, budget_remaining=D(100)),
    }

    result = evaluate(
        shopping,
        promo("global", TEN),
        promo("member", TEN),
        promo("budget", TEN),
        promo("fine", TEN),
        usage=usage,
    )

    assert applied_ids(result) == ["fine"]
    assert reasons(result) == {
        "global": RejectReason.GLOBAL_LIMIT_REACHED,
        "member": RejectReason.MEMBER_LIMIT_REACHED,
        "budget": RejectReason.BUDGET_EXHAUSTED,
    }


def test_stacked_discounts_never_take_a_line_or_the_total_below_zero() -> None:
    # given three promotions that each want everything
    shopping = cart(line("a", "9.99"), line("b", "0.01"), shipping="4.99")

    result = evaluate(
        shopping,
        promo("all", PercentOff(D(100)), priority=3),
        promo("more", AmountOff(D("50.00")), priority=2),
        promo("ship", FreeShipping(), FreeShipping(), priority=1),
    )

    assert applied_ids(result) == ["all", "ship"]
    assert reasons(result) == {"more": RejectReason.NO_DISCOUNT}
    assert all(priced.total == 0 for priced in result.lines)
    assert result.shipping_discount == D("4.99")
    assert result.total == 0
