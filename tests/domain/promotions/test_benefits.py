"""Every benefit: what it takes off, from which lines, with caps and currency rounding."""

from __future__ import annotations

from loyalty.domain.promotions import (
    AmountOff,
    BuyXGetY,
    Conditions,
    FixedPrice,
    FreeGift,
    FreeShipping,
    GiftLine,
    PercentOff,
    RejectReason,
    Target,
)
from tests.domain.promotions.builders import (
    D,
    applied_ids,
    cart,
    evaluate,
    line,
    line_discounts,
    promo,
)

SHOES = Conditions(categories=frozenset({"shoes"}))


def test_percent_off_order_splits_over_lines_by_value() -> None:
    # given
    shopping = cart(line("a", "60.00"), line("b", "20.00", 2))

    # when
    result = evaluate(shopping, promo("p", PercentOff(D(25))))

    # then
    assert line_discounts(result) == [D("15.00"), D("10.00")]
    assert result.discount == D("25.00")
    assert result.total == D("75.00")


def test_percent_off_matching_lines_leaves_the_others() -> None:
    shopping = cart(line("a", "60.00", category="shoes"), line("b", "40.00", category="hats"))

    result = evaluate(shopping, promo("p", PercentOff(D(50), Target.MATCHING), conditions=SHOES))

    assert line_discounts(result) == [D("30.00"), D(0)]


def test_percent_off_order_is_not_limited_to_matching_lines() -> None:
    # the filter qualifies the cart (needs shoes), the benefit is on the whole order
    shopping = cart(line("a", "60.00", category="shoes"), line("b", "40.00", category="hats"))

    result = evaluate(shopping, promo("p", PercentOff(D(10)), conditions=SHOES))

    assert line_discounts(result) == [D("6.00"), D("4.00")]


def test_percent_off_cap() -> None:
    result = evaluate(cart(line("a", "300.00")), promo("p", PercentOff(D(20), cap=D("50.00"))))

    assert result.discount == D("50.00")


def test_percent_off_on_one_cent_lines_rounds_the_order_discount_once() -> None:
    # given three lines of 0.01: 50% of 0.03 is 0.015, half-up 0.02
    shopping = cart(line("a", "0.01"), line("b", "0.01"), line("c", "0.01"))

    # when
    result = evaluate(shopping, promo("p", PercentOff(D(50))))

    # then
    assert result.discount == D("0.02")
    assert sum(line_discounts(result)) == D("0.02")
    assert all(priced.total >= 0 for priced in result.lines)


def test_percent_too_small_to_be_a_cent_gives_nothing_and_says_so() -> None:
    result = evaluate(cart(line("a", "0.01")), promo("p", PercentOff(D(10))))

    assert result.applied == ()
    assert result.rejected[0].reason is RejectReason.NO_DISCOUNT


def test_percent_off_in_yen_has_no_fractions() -> None:
    shopping = cart(line("a", "333"), line("b", "333"), line("c", "333"), currency="JPY")

    result = evaluate(shopping, promo("p", PercentOff(D(10)), currency=None))

    assert line_discounts(result) == [D(33), D(33), D(34)]
    assert result.discount == D(100)  # 99.9 rounds to 100 yen


def test_amount_off_in_dinar_uses_three_decimals() -> None:
    shopping = cart(line("a", "5.000"), line("b", "5.000"), line("c", "5.000"), currency="KWD")

    result = evaluate(shopping, promo("p", AmountOff(D("10.000")), currency="KWD"))

    assert line_discounts(result) == [D("3.333"), D("3.333"), D("3.334")]


def test_amount_off_three_way_split_sums_exactly() -> None:
    shopping = cart(line("a", "10.00"), line("b", "10.00"), line("c", "10.00"))

    result = evaluate(shopping, promo("p", AmountOff(D("10.00"))))

    assert line_discounts(result) == [D("3.33"), D("3.33"), D("3.34")]


def test_amount_off_never_exceeds_the_lines() -> None:
    result = evaluate(cart(line("a", "7.00"), shipping="5.00"), promo("p", AmountOff(D("20.00"))))

    assert result.discount == D("7.00")
    assert result.lines[0].total == 0
    assert result.total == D("5.00")  # shipping is not touched by a line discount


def test_amount_off_matching_lines() -> None:
    shopping = cart(line("a", "10.00", category="shoes"), line("b", "10.00", category="hats"))

    result = evaluate(shopping, promo("p", AmountOff(D("4.00"), Target.MATCHING), conditions=SHOES))

    assert line_discounts(result) == [D("4.00"), D(0)]


def test_fixed_price_for_matching_items() -> None:
    shopping = cart(line("a", "30.00", 2, category="shoes"), line("b", "12.00", category="hats"))

    result = evaluate(shopping, promo("p", FixedPrice(D("19.99")), conditions=SHOES))

    assert line_discounts(result) == [D("20.02"), D(0)]
    assert result.lines[0].total == D("39.98")


def test_fixed_price_above_the_price_gives_nothing() -> None:
    result = evaluate(cart(line("a", "10.00")), promo("p", FixedPrice(D("15.00"))))

    assert result.rejected[0].reason is RejectReason.NO_DISCOUNT


def test_fixed_price_limited_to_some_units() -> None:
    # a "one free sock" coupon: price 0 for at most one unit
    socks = Conditions(products=frozenset({"sock"}))

    result = evaluate(
        cart(line("sock", "4.99", 3)), promo("p", FixedPrice(D(0), max_units=1), conditions=socks)
    )

    assert line_discounts(result) == [D("4.99")]


def test_free_shipping() -> None:
    result = evaluate(cart(line("a", "10.00"), shipping="9.99"), promo("p", FreeShipping()))

    assert result.shipping_discount == D("9.99")
    assert result.discount == 0
    assert result.applied[0].shipping_discount == D("9.99")
    assert result.total == D("10.00")


def test_free_shipping_up_to_a_cap() -> None:
    result = evaluate(
        cart(line("a", "10.00"), shipping="25.00"), promo("p", FreeShipping(cap=D(15)))
    )

    assert result.shipping_discount == D("15.00")


def test_free_shipping_on_free_shipping_gives_nothing() -> None:
    result = evaluate(cart(line("a", "10.00")), promo("p", FreeShipping()))

    assert result.rejected[0].reason is RejectReason.NO_DISCOUNT


def test_buy_two_get_one_free_takes_the_cheapest() -> None:
    shopping = cart(line("a", "30.00"), line("b", "10.00"), line("c", "20.00"))

    result = evaluate(shopping, promo("p", BuyXGetY(buy=2, get=1)))

    assert line_discounts(result) == [D(0), D("10.00"), D(0)]


def test_cheapest_free_repeats_for_each_full_group() -> None:
    # given seven units, "3 for 2": two groups, so the two cheapest units are free
    shopping = cart(line("a", "30.00", 3), line("b", "10.00", 1), line("c", "20.00", 3))

    result = evaluate(shopping, promo("p", BuyXGetY(buy=2, get=1)))

    assert line_discounts(result) == [D(0), D("10.00"), D("20.00")]


def test_buy_one_get_one_half_price_with_a_limit() -> None:
    shopping = cart(line("a", "10.00", 6))

    result = evaluate(
        shopping, promo("p", BuyXGetY(buy=1, get=1, percent=D(50), max_applications=2))
    )

    assert line_discounts(result) == [D("10.00")]  # two units at half of 10.00


def test_buy_x_get_y_counts_only_matching_items() -> None:
    shopping = cart(line("a", "10.00", 2, category="shoes"), line("b", "1.00", 5, category="hats"))

    result = evaluate(shopping, promo("p", BuyXGetY(buy=2, get=1), conditions=SHOES))

    assert result.rejected[0].reason is RejectReason.NO_DISCOUNT


def test_free_gift_adds_a_gift_line() -> None:
    result = evaluate(cart(line("a", "10.00")), promo("p", FreeGift("tote-bag", 1, "prod-7")))

    assert result.gifts == (GiftLine("tote-bag", 1, "prod-7", "p"),)
    assert result.discount == 0
    assert applied_ids(result) == ["p"]


def test_free_product_plus_percent_off_does_not_discount_the_free_item_again() -> None:
    # given a coupon making one mug free, and 10% off the order after it
    mug = Conditions(products=frozenset({"mug"}))
    free_mug = promo("free-mug", FixedPrice(D(0), max_units=1), conditions=mug, priority=10)
    ten_off = promo("ten-off", PercentOff(D(10)))
    shopping = cart(line("shirt", "100.00"), line("mug", "15.00"))

    # when
    result = evaluate(shopping, free_mug, ten_off)

    # then
    assert line_discounts(result) == [D("10.00"), D("15.00")]
    assert [line.total for line in result.lines] == [D("90.00"), D(0)]
    assert result.total == D("90.00")


def test_several_benefits_in_one_promotion() -> None:
    shopping = cart(line("a", "50.00"), shipping="10.00")

    result = evaluate(shopping, promo("p", PercentOff(D(10)), FreeShipping(), FreeGift("sticker")))

    (applied,) = result.applied
    assert (applied.discount, applied.shipping_discount) == (D("5.00"), D("10.00"))
    assert applied.gifts[0].sku == "sticker"
