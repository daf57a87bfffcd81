"""Every condition: it lets a qualifying cart through and rejects the rest with its reason."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from loyalty.domain.promotions import (
    Conditions,
    MemberFacts,
    PercentOff,
    RejectReason,
    Target,
)
from tests.domain.promotions.builders import (
    NOW,
    D,
    applied_ids,
    cart,
    evaluate,
    line,
    line_discounts,
    promo,
)

TEN = PercentOff(D(10))


def test_min_subtotal_met_exactly_applies() -> None:
    result = evaluate(
        cart(line("a", "50.00")), promo("p", TEN, conditions=Conditions(min_subtotal=D(50)))
    )

    assert applied_ids(result) == ["p"]


def test_min_subtotal_short_says_how_much_is_missing() -> None:
    # when
    result = evaluate(
        cart(line("a", "49.99")), promo("p", TEN, conditions=Conditions(min_subtotal=D("50.00")))
    )

    # then
    (rejected,) = result.rejected
    assert rejected.reason is RejectReason.MIN_SUBTOTAL_NOT_MET
    assert "0.01 PLN" in rejected.message
    assert result.discount == 0


def test_min_subtotal_counts_only_matching_lines() -> None:
    conditions = Conditions(min_subtotal=D(50), categories=frozenset({"shoes"}))
    shopping = cart(line("a", "40.00", category="shoes"), line("b", "100.00", category="hats"))

    result = evaluate(shopping, promo("p", TEN, conditions=conditions))

    assert result.rejected[0].reason is RejectReason.MIN_SUBTOTAL_NOT_MET


def test_min_quantity_counts_units_of_matching_lines() -> None:
    conditions = Conditions(min_quantity=3, products=frozenset({"a"}))

    enough = evaluate(
        cart(line("a", "1.00", 2), line("a", "1.00")), promo("p", TEN, conditions=conditions)
    )
    short = evaluate(
        cart(line("a", "1.00", 2), line("b", "1.00", 5)), promo("p", TEN, conditions=conditions)
    )

    assert applied_ids(enough) == ["p"]
    assert short.rejected[0].reason is RejectReason.MIN_QUANTITY_NOT_MET


def test_products_match_by_sku_or_product_id() -> None:
    conditions = Conditions(products=frozenset({"sku-1", "prod-2"}))
    benefit = PercentOff(D(50), Target.MATCHING)
    shopping = cart(
        line("sku-1", "10.00"), line("sku-9", "10.00", product_id="prod-2"), line("x", "10.00")
    )

    result = evaluate(shopping, promo("p", benefit, conditions=conditions))

    assert line_discounts(result) == [D("5.00"), D("5.00"), D(0)]


def test_categories_included() -> None:
    conditions = Conditions(categories=frozenset({"shoes"}))
    benefit = PercentOff(D(50), Target.MATCHING)
    shopping = cart(line("a", "10.00", category="shoes"), line("b", "10.00", category="hats"))

    result = evaluate(shopping, promo("p", benefit, conditions=conditions))

    assert line_discounts(result) == [D("5.00"), D(0)]


def test_no_matching_item_is_rejected() -> None:
    conditions = Conditions(categories=frozenset({"shoes"}))

    result = evaluate(
        cart(line("a", "10.00", category="hats")), promo("p", TEN, conditions=conditions)
    )

    assert result.rejected[0].reason is RejectReason.NO_MATCHING_ITEMS


def test_excluded_products_are_not_discounted_even_by_an_order_discount() -> None:
    conditions = Conditions(exclude_products=frozenset({"gift-card"}))
    shopping = cart(line("a", "10.00"), line("gift-card", "50.00"))

    result = evaluate(shopping, promo("p", PercentOff(D(10)), conditions=conditions))

    assert line_discounts(result) == [D("1.00"), D(0)]


def test_excluded_categories_beat_included_ones() -> None:
    conditions = Conditions(categories=frozenset({"shoes"}), exclude_categories=frozenset({"sale"}))
    shopping = cart(line("a", "10.00", category="sale"))

    result = evaluate(shopping, promo("p", TEN, conditions=conditions))

    assert result.rejected[0].reason is RejectReason.NO_MATCHING_ITEMS


def test_excluded_lines_do_not_count_toward_min_subtotal() -> None:
    conditions = Conditions(min_subtotal=D(20), exclude_products=frozenset({"gift-card"}))
    shopping = cart(line("a", "10.00"), line("gift-card", "50.00"))

    result = evaluate(shopping, promo("p", TEN, conditions=conditions))

    assert result.rejected[0].reason is RejectReason.MIN_SUBTOTAL_NOT_MET


@pytest.mark.parametrize(
    ("tier", "applies"), [("gold", True), ("silver", True), ("bronze", False), (None, False)]
)
def test_member_tier_in_list(tier: str | None, applies: bool) -> None:
    conditions = Conditions(tiers=frozenset({"gold", "silver"}))
    shopping = cart(line("a", "10.00"), member=MemberFacts(tier=tier))

    result = evaluate(shopping, promo("p", TEN, conditions=conditions))

    assert (applied_ids(result) == ["p"]) is applies
    if not applies:
        assert result.rejected[0].reason is RejectReason.TIER_NOT_ELIGIBLE


def test_first_order_only() -> None:
    conditions = Conditions(first_order_only=True)
    first = cart(line("a", "10.00"), member=MemberFacts(is_first_order=True))
    repeat = cart(line("a", "10.00"), member=MemberFacts(is_first_order=False))

    assert applied_ids(evaluate(first, promo("p", TEN, conditions=conditions))) == ["p"]
    assert (
        evaluate(repeat, promo("p", TEN, conditions=conditions)).rejected[0].reason
        is RejectReason.NOT_FIRST_ORDER
    )


def test_segment_in_list_needs_any_one_segment() -> None:
    conditions = Conditions(segments=frozenset({"vip", "lapsed"}))
    member = MemberFacts(segments=frozenset({"lapsed", "newsletter"}))
    outsider = MemberFacts(segments=frozenset({"newsletter"}))

    applied = evaluate(
        cart(line("a", "10.00"), member=member), promo("p", TEN, conditions=conditions)
    )
    rejected = evaluate(
        cart(line("a", "10.00"), member=outsider), promo("p", TEN, conditions=conditions)
    )

    assert applied_ids(applied) == ["p"]
    assert rejected.rejected[0].reason is RejectReason.SEGMENT_NOT_ELIGIBLE


def test_date_window_starts_inclusive_and_ends_exclusive() -> None:
    window = Conditions(starts_at=NOW, ends_at=NOW + timedelta(days=7))
    shopping = cart(line("a", "10.00"))
    offer = promo("p", TEN, conditions=window)

    before = evaluate(shopping, offer, now=NOW - timedelta(seconds=1))
    at_start = evaluate(shopping, offer, now=NOW)
    at_end = evaluate(shopping, offer, now=NOW + timedelta(days=7))

    assert before.rejected[0].reason is RejectReason.NOT_STARTED
    assert applied_ids(at_start) == ["p"]
    assert at_end.rejected[0].reason is RejectReason.ENDED


def test_expression_is_checked_by_the_callers_checker_with_the_cart_as_activation() -> None:
    # given
    seen: list[tuple[str, Mapping[str, Any]]] = []

    def cel_check(expression: str, activation: Mapping[str, Any]) -> bool:
        seen.append((expression, activation))
        return bool(activation["cart"]["quantity"] >= 2)

    conditions = Conditions(expression="cart.quantity >= 2")
    member = MemberFacts(tier="gold", segments=frozenset({"vip"}))

    # when
    result = evaluate(
        cart(line("a", "10.00", 2), member=member),
        promo("p", TEN, conditions=conditions),
        cel_check=cel_check,
    )

    # then
    assert applied_ids(result) == ["p"]
    ((expression, activation),) = seen
    assert expression == "cart.quantity >= 2"
    assert activation["cart"]["subtotal"] == D("20.00")
    assert activation["cart"]["lines"][0]["sku"] == "a"
    assert activation["member"] == {"tier": "gold", "is_first_order": False, "segments": ["vip"]}
    assert activation["now"] == NOW


def test_expression_false_rejects() -> None:
    conditions = Conditions(expression="false")

    result = evaluate(
        cart(line("a", "10.00")),
        promo("p", TEN, conditions=conditions),
        cel_check=lambda e, a: False,
    )

    assert result.rejected[0].reason is RejectReason.EXPRESSION_FALSE


def test_expression_that_fails_rejects_its_promotion_not_the_checkout() -> None:
    def broken(expression: str, activation: Mapping[str, Any]) -> bool:
        raise KeyError("no such key: order")

    conditions = Conditions(expression="order.total > 1")

    result = evaluate(
        cart(line("a", "10.00")),
        promo("p", TEN, conditions=conditions),
        promo("q", TEN),
        cel_check=broken,
    )

    assert applied_ids(result) == ["q"]
    assert result.rejected[0].reason is RejectReason.EXPRESSION_ERROR
    assert "no such key" in result.rejected[0].message


def test_expression_without_a_checker_is_rejected() -> None:
    conditions = Conditions(expression="true")

    result = evaluate(cart(line("a", "10.00")), promo("p", TEN, conditions=conditions))

    assert result.rejected[0].reason is RejectReason.EXPRESSION_ERROR


def test_expression_is_not_evaluated_when_a_cheaper_condition_fails() -> None:
    calls: list[str] = []

    def cel_check(expression: str, activation: Mapping[str, Any]) -> bool:
        calls.append(expression)
        return True

    conditions = Conditions(expression="true", min_subtotal=D(100))

    evaluate(cart(line("a", "10.00")), promo("p", TEN, conditions=conditions), cel_check=cel_check)

    assert calls == []
