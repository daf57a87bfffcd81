"""Orders: line validation, the earning base, what a refund is worth and what it reverses."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.errors import (
    ErrorCode,
    RefundExceedsOrder,
    UnknownCurrency,
    UnknownLine,
    ValidationFailed,
)
from loyalty.domain.orders import (
    OrderLine,
    PaidOrder,
    RefundState,
    RefundValue,
    points_to_reverse,
    refund_by_amount,
    refund_by_lines,
)
from loyalty.domain.program import Program

D = Decimal


def order(
    *lines: OrderLine, shipping: str = "0", tax: str = "0", total: str | None = None
) -> PaidOrder:
    return PaidOrder(
        "o1",
        "PLN",
        tuple(lines),
        shipping=D(shipping),
        tax=D(tax),
        total=None if total is None else D(total),
    )


def after(state: RefundState, value: RefundValue) -> RefundState:
    """The refund state once ``value`` has been applied (what the service stores)."""
    quantities = dict(state.quantities)
    for sku, quantity in value.quantities.items():
        quantities[sku] = quantities.get(sku, 0) + quantity
    return RefundState(state.amount + value.amount, state.base + value.base, quantities)


# --- lines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "price", "discount", "field"),
    [
        (0, "1", "0", "quantity"),
        (-1, "1", "0", "quantity"),
        (1, "-0.01", "0", "unit_price"),
        (1, "1", "-0.01", "discount"),
        (2, "5.00", "10.01", "discount"),  # more than the line is worth
    ],
)
def test_order_line_refuses_impossible_values(
    quantity: int, price: str, discount: str, field: str
) -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as caught:
        OrderLine("a", quantity, D(price), D(discount))
    assert caught.value.field == field
    assert caught.value.code is ErrorCode.VALIDATION_FAILED


def test_order_line_net_is_value_after_discount() -> None:
    # given a line with a discount as large as its value, and an ordinary one
    free = OrderLine("a", 2, D("5.00"), D("10.00"))
    line = OrderLine("b", 3, D("10.75"), D("2.25"))
    # when / then
    assert free.net == D(0)
    assert line.net == D("30.00")


def test_free_lines_are_allowed() -> None:
    # given / when / then a zero price is a valid line (a gift)
    assert OrderLine("gift", 1, D(0)).net == 0


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"order_id": ""}, ValidationFailed),
        ({"currency": "XXX"}, UnknownCurrency),
        ({"shipping": D("-1")}, ValidationFailed),
        ({"tax": D("-0.01")}, ValidationFailed),
        ({"total": D("-5")}, ValidationFailed),
    ],
)
def test_paid_order_refuses_impossible_values(
    changes: dict[str, object], error: type[Exception]
) -> None:
    # given the fields of a valid order with one of them broken
    fields: dict[str, object] = {
        "order_id": "o1",
        "currency": "PLN",
        "lines": (OrderLine("a", 1, D(10)),),
        **changes,
    }
    # when / then
    with pytest.raises(error):
        PaidOrder(**fields)  # type: ignore[arg-type]


def test_charged_total_is_the_stores_total_or_lines_plus_shipping_and_tax() -> None:
    # given / when / then
    lines = (OrderLine("a", 2, D("10.75")), OrderLine("b", 1, D("5.00"), D("1.00")))
    assert order(*lines, shipping="15", tax="7").charged_total == D("47.50")
    assert order(*lines, shipping="15", tax="7", total="40.00").charged_total == D("40.00")


# --- earning base ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exclude_shipping", "exclude_tax", "base"),
    [
        (True, True, "25.50"),
        (False, True, "40.50"),
        (True, False, "32.50"),
        (False, False, "47.50"),
    ],
)
def test_earning_base_excludes_shipping_and_tax_as_configured(
    exclude_shipping: bool, exclude_tax: bool, base: str
) -> None:
    # given lines worth 21.50 + 4.00 after discounts, 15 shipping and 7 tax
    paid = order(
        OrderLine("a", 2, D("10.75")),
        OrderLine("b", 1, D("5.00"), D("1.00")),
        shipping="15",
        tax="7",
    )
    program = Program("PLN", exclude_shipping=exclude_shipping, exclude_tax=exclude_tax)
    # when / then (the history import asks for total and base at once: the same figures)
    assert paid.earning_base(program) == D(base)
    total, both_base = paid.total_and_base(program)
    assert str(total) == str(paid.charged_total) == "47.50"
    assert str(both_base) == str(paid.earning_base(program))


def test_earning_base_ignores_the_stores_total() -> None:
    # given a store total that differs from the lines (e.g. a gift card paid part of it)
    paid = order(OrderLine("a", 1, D("100")), total="60")
    # when / then the base is still computed from the lines
    assert paid.earning_base(Program("PLN")) == D("100")
    assert paid.total_and_base(Program("PLN")) == (D("60"), D("100"))


# --- refund by lines ------------------------------------------------------------------------


def test_refund_of_an_unknown_sku_is_refused() -> None:
    # given an order of sku 'a'
    paid = order(OrderLine("a", 1, D("10")))
    # when / then refunding 'b' fails and names the field
    with pytest.raises(UnknownLine) as caught:
        refund_by_lines(paid, D("10"), RefundState(), [("b", 1)])
    assert caught.value.field == "sku"
    assert caught.value.code is ErrorCode.UNKNOWN_LINE


@pytest.mark.parametrize("quantity", [0, -1])
def test_refund_quantity_must_be_positive(quantity: int) -> None:
    # given / when / then
    paid = order(OrderLine("a", 2, D("10")))
    with pytest.raises(ValidationFailed):
        refund_by_lines(paid, D("20"), RefundState(), [("a", quantity)])


def test_refund_of_more_units_than_were_bought_is_refused() -> None:
    # given an order of 2 x 'a'
    paid = order(OrderLine("a", 2, D("10")))
    # when / then refunding 3 fails
    with pytest.raises(RefundExceedsOrder) as caught:
        refund_by_lines(paid, D("20"), RefundState(), [("a", 3)])
    assert caught.value.field == "quantity"
    # and so does asking for the same sku twice in one refund
    with pytest.raises(RefundExceedsOrder):
        refund_by_lines(paid, D("20"), RefundState(), [("a", 2), ("a", 1)])


def test_refund_of_more_units_than_are_left_is_refused() -> None:
    # given an order of 3 x 'a' of which 2 were refunded
    paid = order(OrderLine("a", 3, D("10")))
    state = RefundState(D("20"), D("20"), {"a": 2})
    # when / then one more is fine but two are not
    with pytest.raises(RefundExceedsOrder):
        refund_by_lines(paid, D("30"), state, [("a", 2)])
    assert refund_by_lines(paid, D("30"), state, [("a", 1)]).amount == D("10")


def test_refund_by_lines_is_worth_the_units_share_of_the_line_after_discount() -> None:
    # given 4 x 'a' at 10 with a 4.00 discount (net 36) and 1 x 'b' at 14 (lines net 50)
    paid = order(OrderLine("a", 4, D("10"), D("4.00")), OrderLine("b", 1, D("14")))
    base = D("50")
    # when one unit of 'a' is refunded
    value = refund_by_lines(paid, base, RefundState(), [("a", 1)])
    # then it is worth a quarter of the line's net value, and the same share of the base
    assert value.amount == D("9")
    assert value.base == D("9")
    assert value.quantities == {"a": 1}


def test_refund_by_lines_takes_back_its_share_of_a_base_that_includes_shipping() -> None:
    # given a base of lines 50 + shipping 10 (shipping earns in this programme)
    paid = order(OrderLine("a", 2, D("25")), shipping="10")
    base = paid.earning_base(Program("PLN", exclude_shipping=False))
    assert base == D("60")
    # when one of two units is refunded
    value = refund_by_lines(paid, base, RefundState(), [("a", 1)])
    # then half the lines' money and half of the base come back
    assert (value.amount, value.base) == (D("25"), D("30"))


def test_refund_of_all_units_takes_back_exactly_the_rest_of_the_base() -> None:
    # given 3 units whose net (29.99) does not divide by 3
    paid = order(OrderLine("a", 3, D("10.00"), D("0.01")))
    base = D("29.99")
    state = RefundState()
    values = []
    # when they are refunded one at a time
    for _ in range(3):
        value = refund_by_lines(paid, base, state, [("a", 1)])
        values.append(value)
        state = after(state, value)
    # then the last refund takes the exact remainder, so the shares add up to the whole base
    assert state.base == base
    assert values[-1].base == base - (values[0].base + values[1].base)
    assert state.quantities == {"a": 3}
    # and nothing more can be refunded
    with pytest.raises(RefundExceedsOrder):
        refund_by_lines(paid, base, state, [("a", 1)])


def test_refund_by_lines_returns_money_in_minor_units_that_adds_up_to_the_line() -> None:
    # given 3 units whose net (29.99) does not divide by 3
    paid = order(OrderLine("a", 3, D("10.00"), D("0.01")))
    state = RefundState()
    amounts = []
    # when they are refunded one at a time
    for _ in range(3):
        value = refund_by_lines(paid, D("29.99"), state, [("a", 1)])
        amounts.append(value.amount)
        state = after(state, value)
    # then each refund is a sum a store can pay back (rounded on the cumulative count:
    # 10.00, 19.99, 29.99) and together they return the line exactly
    assert amounts == [D("10.00"), D("9.99"), D("10.00")]
    assert state.amount == D("29.99")


def test_refund_by_lines_then_the_rest_by_amount_reverses_everything() -> None:
    # given 29 points earned on 3 units worth 29.99, one unit refunded by lines
    program = Program("PLN")
    paid = order(OrderLine("a", 3, D("10.00"), D("0.01")))
    base = paid.earning_base(program)
    earned = program.points_for(base)
    first = refund_by_lines(paid, base, RefundState(), [("a", 1)])
    state = after(RefundState(), first)
    # when the store refunds the rest of the money
    rest = paid.charged_total - state.amount
    second = refund_by_amount(paid, base, state, rest)
    # then it is recognised as the last of the money and all 29 points are reversed
    assert rest == D("19.99")
    assert state.base + second.base == base
    reversed_points = points_to_reverse(earned, base, D(0), first.base) + points_to_reverse(
        earned, base, state.base, second.base
    )
    assert reversed_points == earned == 29
    # and a cent more than the rest would have been refused
    with pytest.raises(RefundExceedsOrder):
        refund_by_amount(paid, base, state, rest + D("0.01"))


def test_refund_of_all_units_of_every_line_at_once_takes_the_whole_base() -> None:
    # given an order with shipping counted in the base
    paid = order(OrderLine("a", 3, D("3.33")), OrderLine("b", 7, D("1.01")), shipping="4.99")
    base = paid.earning_base(Program("PLN", exclude_shipping=False))
    # when every unit is refunded
    value = refund_by_lines(paid, base, RefundState(), [("a", 3), ("b", 7)])
    # then the whole base (including shipping) is taken back, but only the lines' money
    assert value.base == base
    assert value.amount == paid.lines_net


def test_refund_by_lines_cannot_return_money_already_refunded_by_amount() -> None:
    # given an order of 2 x 50 of which 60 was refunded as an amount
    paid = order(OrderLine("a", 2, D("50")))
    state = RefundState(D("60"), D("60"), {})
    # when / then refunding one unit (50) would return more money than is left (40)
    with pytest.raises(RefundExceedsOrder) as caught:
        refund_by_lines(paid, D("100"), state, [("a", 1)])
    assert caught.value.field == "amount"


def test_refund_of_a_free_order_takes_back_no_base() -> None:
    # given an order whose lines are free
    paid = order(OrderLine("gift", 2, D("0")))
    # when / then a unit can be refunded, returning nothing and reversing nothing
    value = refund_by_lines(paid, D(0), RefundState(), [("gift", 1)])
    assert (value.amount, value.base) == (D(0), D(0))


# --- refund by amount -----------------------------------------------------------------------


@pytest.mark.parametrize("amount", ["0", "-1"])
def test_refund_amount_must_be_positive(amount: str) -> None:
    # given / when / then
    paid = order(OrderLine("a", 1, D("100")))
    with pytest.raises(ValidationFailed) as caught:
        refund_by_amount(paid, D("100"), RefundState(), D(amount))
    assert caught.value.field == "amount"


def test_refund_amount_may_not_exceed_what_is_left() -> None:
    # given an order of 100 of which 70 was refunded
    paid = order(OrderLine("a", 1, D("90")), shipping="10")
    state = RefundState(D("70"), D("63"), {})
    # when / then 30.01 is too much, 30 is exactly the rest
    with pytest.raises(RefundExceedsOrder) as caught:
        refund_by_amount(paid, D("90"), state, D("30.01"))
    assert caught.value.code is ErrorCode.REFUND_EXCEEDS_ORDER
    assert caught.value.field == "amount"
    assert refund_by_amount(paid, D("90"), state, D("30")).amount == D("30")
    # and more than the whole order is refused outright
    with pytest.raises(RefundExceedsOrder):
        refund_by_amount(paid, D("90"), RefundState(), D("100.01"))


def test_refund_amount_takes_back_the_same_share_of_the_base() -> None:
    # given a total of 100 (90 lines + 10 shipping, shipping excluded from the base of 90)
    paid = order(OrderLine("a", 1, D("90")), shipping="10")
    # when half the money is refunded
    value = refund_by_amount(paid, D("90"), RefundState(), D("50"))
    # then half of the base is taken back
    assert value == RefundValue(amount=D("50"), base=D("45"), quantities={})


def test_refund_amount_is_a_share_of_the_stores_total() -> None:
    # given a store total of 80 for lines worth 100
    paid = order(OrderLine("a", 1, D("100")), total="80")
    # when / then 40 is half of what was charged, so half of the base
    assert refund_by_amount(paid, D("100"), RefundState(), D("40")).base == D("50")
    with pytest.raises(RefundExceedsOrder):
        refund_by_amount(paid, D("100"), RefundState(), D("80.01"))


def test_the_last_of_the_money_takes_back_exactly_the_rest_of_the_base() -> None:
    # given 100.00 refunded in three amounts whose shares of 99.99 do not divide evenly
    paid = order(OrderLine("a", 3, D("33.33")), shipping="0.01")
    base = D("99.99")
    state = RefundState()
    # when
    for amount in (D("33.33"), D("33.33"), D("33.34")):
        state = after(state, refund_by_amount(paid, base, state, amount))
    # then the shares add up exactly to the base
    assert state.amount == paid.charged_total
    assert state.base == base


# --- points to reverse ----------------------------------------------------------------------


def test_thirds_of_99_points_reverse_33_each() -> None:
    # given 99 points earned on a base of 99.99, refunded in thirds
    earned, base = 99, D("99.99")
    # when / then
    first = points_to_reverse(earned, base, D(0), D("33.33"))
    second = points_to_reverse(earned, base, D("33.33"), D("33.33"))
    third = points_to_reverse(earned, base, D("66.66"), D("33.33"))
    assert (first, second, third) == (33, 33, 33)


def test_points_to_reverse_rounds_the_cumulative_share_down() -> None:
    # given 10 points on a base of 100
    # when refunds of 15 each come in, the cumulative share is floored, then differenced
    steps = [points_to_reverse(10, D(100), D(15) * i, D(15)) for i in range(6)]
    # then 1.5 -> 1, 3.0 -> 3, 4.5 -> 4, 6 -> 6, 7.5 -> 7, 9 -> 9
    assert steps == [1, 2, 1, 2, 1, 2]


def test_points_to_reverse_never_exceeds_what_was_earned() -> None:
    # given / when / then refunding more than the base reverses only the rest
    assert points_to_reverse(50, D(100), D(0), D(150)) == 50
    assert points_to_reverse(50, D(100), D(60), D(80)) == 20
    assert points_to_reverse(50, D(100), D(100), D(10)) == 0
    assert points_to_reverse(50, D(100), D(0), D(0)) == 0


def test_a_zero_base_reverses_everything_at_the_first_refund() -> None:
    # given / when / then
    assert points_to_reverse(5, D(0), D(0), D("0.01")) == 5


@given(
    earned=st.integers(min_value=0, max_value=10_000_000),
    base_cents=st.integers(min_value=1, max_value=10_000_000),
    cuts=st.lists(st.integers(min_value=1, max_value=10_000_000), max_size=12),
)
def test_partial_refunds_then_the_rest_reverse_exactly_what_was_earned(
    earned: int, base_cents: int, cuts: list[int]
) -> None:
    # given a base split at arbitrary cent boundaries into partial refunds plus the rest
    base = D(base_cents) / 100
    bounds = sorted({c for c in cuts if c < base_cents})
    edges = [0, *bounds, base_cents]
    refunds = [D(b - a) / 100 for a, b in pairwise(edges)]
    # when each refund is reversed in turn on the cumulative share
    refunded = D(0)
    reversed_so_far = 0
    for refund in refunds:
        points = points_to_reverse(earned, base, refunded, refund)
        refunded += refund
        reversed_so_far += points
        # then no refund reverses a negative amount and the running total tracks the share
        assert points >= 0
        assert reversed_so_far == earned * refunded_cents(refunded) // base_cents
    # and the full refund brings the total to exactly what was earned
    assert reversed_so_far == earned


def refunded_cents(amount: Decimal) -> int:
    return int(amount * 100)


@given(
    earned=st.integers(min_value=0, max_value=1_000_000),
    base_cents=st.integers(min_value=1, max_value=10_000_000),
    weights=st.lists(st.integers(min_value=1, max_value=1_000), min_size=1, max_size=12),
)
def test_proportional_shares_with_an_exact_remainder_reverse_exactly_what_was_earned(
    earned: int, base_cents: int, weights: list[int]
) -> None:
    # given a base refunded in shares that do not terminate in decimal (as the service computes
    # them: base x amount / total), the last one being the exact remainder
    base = D(base_cents) / 100
    total_weight = sum(weights)
    refunded = D(0)
    reversed_so_far = 0
    for i, weight in enumerate(weights):
        last = i == len(weights) - 1
        refund = base - refunded if last else base * weight / total_weight
        # when
        points = points_to_reverse(earned, base, refunded, refund)
        refunded += refund
        reversed_so_far += points
        # then
        assert 0 <= points <= earned
        assert reversed_so_far <= earned
    assert reversed_so_far == earned
