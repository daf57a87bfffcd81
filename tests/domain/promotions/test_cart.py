"""Carts: lines and shipping must be real amounts in the cart's currency."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from loyalty.domain.errors import UnknownCurrency, ValidationFailed
from loyalty.domain.promotions import Cart, CartLine, normalize_code

D = Decimal


def test_subtotal_sums_line_values() -> None:
    shopping = Cart("PLN", (CartLine("a", 2, D("1.50")), CartLine("b", 1, D("0.99"))))

    assert shopping.subtotal == D("3.99")


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: CartLine("a", 0, D(1)), "quantity"),
        (lambda: CartLine("a", 1, D(-1)), "unit_price"),
        (lambda: CartLine("", 1, D(1)), "sku"),
        (lambda: Cart("PLN", (CartLine("a", 1, D("1.001")),)), "lines[0].unit_price"),
        (lambda: Cart("JPY", (CartLine("a", 1, D("100.5")),)), "lines[0].unit_price"),
        (lambda: Cart("PLN", (), D(-1)), "shipping"),
        (lambda: Cart("PLN", (), D("0.001")), "shipping"),
    ],
)
def test_invalid_cart_names_the_field(make: Callable[[], object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        make()

    assert caught.value.field == field


def test_trailing_zeros_beyond_the_minor_unit_are_fine() -> None:
    Cart("PLN", (CartLine("a", 1, D("19.990")),))


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency):
        Cart("ZZZ", ())


def test_codes_normalise_to_upper_case_without_blanks() -> None:
    assert normalize_code("  summer10 ") == "SUMMER10"
