"""Programme settings for checkout: points as payment, hold time, code refund policy."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.domain.errors import InvalidSettings
from loyalty.domain.program import CodeRefundPolicy, Program


def test_checkout_settings_default_to_no_points_payment_and_a_15_minute_hold() -> None:
    program = Program.from_dict({"currency": "PLN"})
    assert program.point_value is None
    assert program.points_max_share == Decimal(1)
    assert program.checkout_ttl_minutes == 15
    assert program.code_refund_policy is CodeRefundPolicy.KEEP


def test_checkout_settings_survive_a_round_trip() -> None:
    program = Program.from_dict(
        {
            "currency": "EUR",
            "point_value": "0.01",
            "points_max_share": "0.3",
            "checkout_ttl_minutes": 5,
            "code_refund_policy": "release_on_any_refund",
        }
    )
    assert Program.from_dict(program.to_dict()) == program


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"point_value": "0"}, "point_value"),
        ({"points_max_share": "0"}, "points_max_share"),
        ({"points_max_share": "1.01"}, "points_max_share"),
        ({"checkout_ttl_minutes": 0}, "checkout_ttl_minutes"),
    ],
)
def test_invalid_checkout_settings_are_refused(settings: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidSettings) as raised:
        Program(currency="PLN", **{k: _typed(v) for k, v in settings.items()})
    assert raised.value.field == field


def test_an_unknown_code_refund_policy_is_refused() -> None:
    with pytest.raises(InvalidSettings):
        Program.from_dict({"currency": "PLN", "code_refund_policy": "sometimes"})


def _typed(value: object) -> object:
    return Decimal(value) if isinstance(value, str) else value
