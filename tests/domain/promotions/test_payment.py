"""Points as payment: the most an order takes, what the points pay, and requests checked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.domain.errors import ErrorCode, InsufficientPoints, InvalidSettings, ValidationFailed
from loyalty.domain.promotions import (
    PointsOverLimit,
    PointsPaymentPolicy,
    check_points_payment,
    points_value,
    quote_points_payment,
)

D = Decimal
CENT_A_POINT = PointsPaymentPolicy(money_per_point=D("0.01"), max_share=D("0.5"))


def test_max_share_of_the_order_limits_the_points() -> None:
    # given an order of 100.00 of which half may be paid with points worth 0.01 each
    quote = quote_points_payment(D("100.00"), "PLN", 10_000, CENT_A_POINT)

    # then
    assert (quote.max_points, quote.max_value) == (5_000, D("50.00"))


def test_available_points_limit_the_points() -> None:
    quote = quote_points_payment(D("100.00"), "PLN", 1_234, CENT_A_POINT)

    assert (quote.max_points, quote.max_value) == (1_234, D("12.34"))


def test_value_is_rounded_down_and_no_point_is_taken_for_nothing() -> None:
    # given points worth 0.003: 10.00 allows 3333 points, worth 9.999 -> 9.99
    policy = PointsPaymentPolicy(money_per_point=D("0.003"), max_share=D(1))

    quote = quote_points_payment(D("10.00"), "PLN", 100_000, policy)

    assert quote.max_value == D("9.99")
    assert quote.max_points == 3_330  # 3330 points already pay 9.99


def test_currency_without_minor_units() -> None:
    policy = PointsPaymentPolicy(money_per_point=D("0.5"), max_share=D("0.3"))

    quote = quote_points_payment(D("1001"), "JPY", 10_000, policy)

    assert (quote.max_points, quote.max_value) == (600, D(300))  # 30% of 1001 is 300.3 -> 300


def test_share_of_the_order_rounds_down_to_the_minor_unit() -> None:
    quote = quote_points_payment(D("0.03"), "PLN", 100, CENT_A_POINT)

    assert (quote.max_points, quote.max_value) == (1, D("0.01"))


def test_no_points_or_a_free_order_takes_nothing() -> None:
    assert quote_points_payment(D("50.00"), "PLN", 0, CENT_A_POINT).max_points == 0
    assert quote_points_payment(D("0.00"), "PLN", 500, CENT_A_POINT).max_points == 0
    assert quote_points_payment(D("50.00"), "PLN", -20, CENT_A_POINT).max_points == 0


def test_requested_points_within_the_quote_are_accepted_with_their_value() -> None:
    quote = quote_points_payment(D("100.00"), "PLN", 10_000, CENT_A_POINT)

    assert check_points_payment(quote, 1_999) == D("19.99")
    assert check_points_payment(quote, 0) == D("0.00")


def test_more_points_than_available_is_insufficient_points() -> None:
    quote = quote_points_payment(D("100.00"), "PLN", 100, CENT_A_POINT)

    with pytest.raises(InsufficientPoints) as caught:
        check_points_payment(quote, 101)

    assert caught.value.code is ErrorCode.INSUFFICIENT_POINTS
    assert caught.value.data == {"requested": 101, "available": 100}


def test_more_points_than_the_order_allows_is_refused_with_the_maximum() -> None:
    quote = quote_points_payment(D("100.00"), "PLN", 10_000, CENT_A_POINT)

    with pytest.raises(PointsOverLimit) as caught:
        check_points_payment(quote, 5_001)

    assert caught.value.field == "points"
    assert caught.value.data == {"reason": "points_over_max_share", "max_points": 5_000}


def test_negative_points_are_refused() -> None:
    quote = quote_points_payment(D("100.00"), "PLN", 10, CENT_A_POINT)

    with pytest.raises(ValidationFailed):
        check_points_payment(quote, -1)


def test_negative_order_total_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        quote_points_payment(D("-1.00"), "PLN", 10, CENT_A_POINT)


@pytest.mark.parametrize(
    ("rate", "share", "field"),
    [("0", "0.5", "money_per_point"), ("0.01", "0", "max_share"), ("0.01", "1.5", "max_share")],
)
def test_policy_must_make_sense(rate: str, share: str, field: str) -> None:
    with pytest.raises(InvalidSettings) as caught:
        PointsPaymentPolicy(D(rate), D(share))

    assert caught.value.field == field


def test_points_value_rounds_down() -> None:
    assert points_value(7, D("0.015"), "PLN") == D("0.10")
    assert points_value(7, D("0.015"), "KWD") == D("0.105")
