"""Money: ISO 4217 minor units, half-up rounding to the minor unit, one currency at a time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.domain.errors import CurrencyMismatch, ErrorCode, UnknownCurrency
from loyalty.domain.money import Money, check_currency, minor_units, quantum


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("PLN", 2),
        ("EUR", 2),
        ("USD", 2),
        ("RON", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("TND", 3),
    ],
)
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    # given a known currency code
    # when asking for its minor units
    units = minor_units(currency)
    # then it is the number of decimal places the currency uses
    assert units == digits
    assert quantum(currency) == Decimal(1).scaleb(-digits)


@pytest.mark.parametrize("currency", ["XXX", "pln", "", "EURO", "ZZZ"])
def test_unknown_currency_is_refused_with_a_stable_code(currency: str) -> None:
    # given a code that is not an active ISO 4217 currency (codes are case-sensitive)
    # when it is looked up
    with pytest.raises(UnknownCurrency) as caught:
        minor_units(currency)
    # then the error names the field and carries the stable code
    assert caught.value.code is ErrorCode.UNKNOWN_CURRENCY
    assert caught.value.field == "currency"
    assert repr(currency) in caught.value.detail


def test_check_currency_returns_a_known_code_unchanged() -> None:
    # given / when / then
    assert check_currency("PLN") == "PLN"
    with pytest.raises(UnknownCurrency):
        check_currency("ABC")


def test_money_cannot_be_made_in_an_unknown_currency() -> None:
    # given / when / then
    with pytest.raises(UnknownCurrency):
        Money(Decimal("1.00"), "XYZ")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1.005", "PLN", "1.01"),  # half up, not banker's rounding
        ("1.004", "PLN", "1.00"),
        ("2.5", "JPY", "3"),
        ("3.5", "JPY", "4"),
        ("1.0005", "BHD", "1.001"),
        ("10", "EUR", "10.00"),
    ],
)
def test_money_rounds_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    # given an amount with more digits than the currency has
    money = Money(Decimal(amount), currency)
    # when rounded
    rounded = money.rounded()
    # then it is half-up at the minor unit, with exactly that many places
    assert rounded == Money(Decimal(expected), currency)
    assert str(rounded.amount) == expected


def test_money_adds_and_subtracts_exactly_in_one_currency() -> None:
    # given two amounts in PLN
    a = Money(Decimal("0.10"), "PLN")
    b = Money(Decimal("0.20"), "PLN")
    # when combined
    # then decimal arithmetic is exact (no float drift)
    assert (a + b).amount == Decimal("0.30")
    assert (b - a).amount == Decimal("0.10")
    assert (a + b).currency == "PLN"


def test_money_refuses_to_mix_currencies() -> None:
    # given amounts in two currencies
    pln = Money(Decimal(1), "PLN")
    eur = Money(Decimal(1), "EUR")
    # when / then combining them fails with a typed error
    with pytest.raises(CurrencyMismatch) as caught:
        _ = pln + eur
    assert caught.value.code is ErrorCode.CURRENCY_MISMATCH
    with pytest.raises(CurrencyMismatch):
        _ = pln - eur


def test_money_prints_rounded_with_its_currency() -> None:
    # given / when / then
    assert str(Money(Decimal("12.345"), "PLN")) == "12.35 PLN"
    assert str(Money(Decimal("7"), "JPY")) == "7 JPY"
