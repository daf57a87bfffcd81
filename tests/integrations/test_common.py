from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.integrations._common import Buyer, event_id, order_line, profile
from loyalty.integrations._fields import JsonObject, decimal_of, id_of, parse_json
from loyalty.integrations.errors import MalformedJson, MalformedPayload


@pytest.mark.parametrize(
    ("gross", "net", "quantity"),
    [("10.00", "10.00", 3), ("100", "33.33", 7), ("0.01", "0", 3), ("59.97", "50", 3)],
)
def test_a_line_always_nets_exactly_the_store_figure(gross: str, net: str, quantity: int) -> None:
    line = order_line(sku="A", quantity=quantity, gross=Decimal(gross), net=Decimal(net))
    assert line.net == Decimal(net)
    assert line.discount >= 0
    assert line.unit_price * quantity >= Decimal(gross)


def test_an_even_unit_price_keeps_the_store_s_digits() -> None:
    line = order_line(sku="A", quantity=3, gross=Decimal("59.97"), net=Decimal("59.97"))
    assert (str(line.unit_price), line.discount) == ("19.99", Decimal(0))


def test_numbers_are_parsed_exactly() -> None:
    data = parse_json(b'{"id": 18446744073709551615, "price": 0.1, "n": 2}')
    assert data == {"id": 18446744073709551615, "price": Decimal("0.1"), "n": 2}
    with pytest.raises(MalformedJson):
        parse_json(b'{"price": NaN}')
    with pytest.raises(MalformedJson):
        parse_json(b"\xff\xfe{")


@pytest.mark.parametrize("value", [True, None, 1.5, "abc", "Infinity", [1]])
def test_only_decimal_strings_and_json_numbers_are_money(value: object) -> None:
    with pytest.raises(MalformedPayload):
        decimal_of(value, "price")


@pytest.mark.parametrize("value", [True, "", "  ", Decimal("1.5"), None])
def test_ids_are_integers_or_strings(value: object) -> None:
    with pytest.raises(MalformedPayload):
        id_of(value, "id")


def test_errors_name_the_nested_field() -> None:
    order = JsonObject({"lines": [{"quantity": "2"}]})
    with pytest.raises(MalformedPayload) as caught:
        order.objs("lines")[0].integer("quantity")
    assert caught.value.field == "lines[0].quantity"


def test_contact_data_that_does_not_normalise_is_left_out() -> None:
    assert profile(email="not an email", phone="12", locale="English", first_name="Ala") == {
        "first_name": "Ala"
    }


def test_a_guest_with_an_address_too_long_for_an_id_stays_a_guest() -> None:
    email = "a" * 190 + "@example.com"
    assert Buyer(None, email).member(guest_matching=True) is None


def test_long_event_ids_are_hashed_to_fit() -> None:
    long_id = event_id("order_refunded", "x" * 150, "y" * 100)
    assert len(long_id) <= 200
    assert long_id == event_id("order_refunded", "x" * 150, "y" * 100)
    assert event_id("a", "b") == "a:b"
