"""Splitting a discount over lines: proportional, in minor units, exact, never above a line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.money import quantum
from loyalty.domain.promotions.allocation import allocate, floor_money, round_money

D = Decimal
CENT = D("0.01")


def test_three_way_split_puts_the_remainder_on_the_last_line() -> None:
    # when
    shares = allocate(D("10.00"), [(0, D("10.00")), (1, D("10.00")), (2, D("10.00"))], CENT)

    # then
    assert shares == {0: D("3.33"), 1: D("3.33"), 2: D("3.34")}


def test_split_is_in_proportion_to_line_value() -> None:
    shares = allocate(D("10.00"), [(0, D("50.00")), (1, D("30.00")), (2, D("20.00"))], CENT)

    assert shares == {0: D("5.00"), 1: D("3.00"), 2: D("2.00")}


def test_currency_without_minor_units_splits_in_whole_yen() -> None:
    shares = allocate(D("100"), [(0, D("333")), (1, D("333")), (2, D("334"))], quantum("JPY"))

    assert shares == {0: D("33"), 1: D("33"), 2: D("34")}
    assert all(share == share.to_integral_value() for share in shares.values())


def test_three_decimal_currency_splits_in_fils() -> None:
    step = quantum("KWD")

    shares = allocate(D("10.000"), [(0, D("5.000")), (1, D("5.000")), (2, D("5.000"))], step)

    assert shares == {0: D("3.333"), 1: D("3.333"), 2: D("3.334")}


def test_lines_worth_nothing_take_no_share_and_are_not_the_last_line() -> None:
    shares = allocate(D("1.00"), [(0, D("3.00")), (1, D("1.00")), (2, D("0.00"))], CENT)

    assert shares == {0: D("0.75"), 1: D("0.25")}


def test_remainder_too_big_for_the_last_line_moves_to_the_line_before() -> None:
    # given 0.05 over 2c, 2c, 2c, 1c: each exact share is 0.0143 -> 0.01, leaving 0.02 for a
    # last line worth 0.01
    weights = [(0, D("0.02")), (1, D("0.02")), (2, D("0.02")), (3, D("0.01"))]

    # when
    shares = allocate(D("0.05"), weights, CENT)

    # then
    assert shares == {0: D("0.01"), 1: D("0.01"), 2: D("0.02"), 3: D("0.01")}


def test_negative_remainder_is_taken_back_from_the_lines_before() -> None:
    # given 0.02 over four 1c lines: each exact share is 0.005 -> 0.01, three of them overshoot
    weights = [(index, CENT) for index in range(4)]

    # when
    shares = allocate(D("0.02"), weights, CENT)

    # then
    assert shares == {0: D("0.01"), 1: D("0.01")}


def test_zero_discount_allocates_nothing() -> None:
    assert allocate(D("0.00"), [(0, D("5.00"))], CENT) == {}


def test_whole_value_allocates_each_line_its_value() -> None:
    weights = [(0, D("0.01")), (1, D("7.77")), (2, D("3.33"))]

    assert allocate(D("11.11"), weights, CENT) == dict(weights)


def test_more_than_the_lines_are_worth_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot allocate"):
        allocate(D("5.01"), [(0, D("5.00"))], CENT)


def test_rounding_helpers() -> None:
    assert round_money(D("0.005"), CENT) == D("0.01")
    assert floor_money(D("0.019"), CENT) == D("0.01")
    assert round_money(D("12.5"), D(1)) == D("13")


_steps = st.sampled_from([D(1), D("0.01"), D("0.001")])


@st.composite
def _splits(draw: st.DrawFn) -> tuple[Decimal, list[tuple[int, Decimal]], Decimal]:
    step = draw(_steps)
    units = draw(st.lists(st.integers(0, 100_000), min_size=1, max_size=25))
    weights = [(index, unit * step) for index, unit in enumerate(units)]
    total = draw(st.integers(0, sum(units))) * step
    return total, weights, step


@given(_splits())
def test_shares_sum_exactly_and_stay_within_each_line(
    split: tuple[Decimal, list[tuple[int, Decimal]], Decimal],
) -> None:
    total, weights, step = split

    shares = allocate(total, weights, step)

    assert sum(shares.values(), D(0)) == total
    for index, share in shares.items():
        assert D(0) < share <= dict(weights)[index]
        assert share == share.quantize(step)
