"""Referral programme settings: defaults, round trip, refusals with the field named."""

from __future__ import annotations

import pytest

from loyalty.domain.errors import ErrorCode
from loyalty.domain.referrals import InvalidReferralProgram, ReferralProgram, WelcomeTiming


def test_defaults_round_trip() -> None:
    program = ReferralProgram()

    assert ReferralProgram.from_dict(program.to_dict()) == program
    assert ReferralProgram.from_dict({}) == program


def test_settings_are_read_with_their_types() -> None:
    program = ReferralProgram.from_dict(
        {
            "referrer_points": 250,
            "welcome_timing": "attribution",
            "welcome_promotion_id": "welcome",
            "welcome_valid_days": 30,
            "link_base_url": "https://shop.example/invite",
            "fraud": {"same_ip": False},
        }
    )

    assert program.referrer_points == 250
    assert program.welcome_timing is WelcomeTiming.ATTRIBUTION
    assert (program.welcome_promotion_id, program.welcome_valid_days) == ("welcome", 30)
    assert program.issues_welcome_coupon
    assert program.link_base_url == "https://shop.example/invite"
    assert program.fraud.same_ip is False


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"referrer_points": -1}, "referrer_points"),
        ({"referrer_points": "10"}, "referrer_points"),
        ({"welcome_timing": "later"}, "welcome_timing"),
        ({"link_base_url": "ftp://shop.example"}, "link_base_url"),
        ({"link_base_url": "shop.example"}, "link_base_url"),
        ({"link_param": "re f"}, "link_param"),
        ({"fraud": {"phone_digits": 99}}, "fraud.phone_digits"),
        ({"fraud": []}, "fraud"),
        ({"bonus": 1}, "bonus"),
        ({"welcome_reward_id": "r", "welcome_promotion_id": "p"}, "welcome_promotion_id"),
        ({"welcome_valid_days": 0}, "welcome_valid_days"),
        ({"welcome_valid_days": "7"}, "welcome_valid_days"),
    ],
)
def test_invalid_settings_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidReferralProgram) as raised:
        ReferralProgram.from_dict(data)

    assert raised.value.field == field
    assert raised.value.code is ErrorCode.INVALID_SETTINGS


def test_settings_must_be_an_object() -> None:
    with pytest.raises(InvalidReferralProgram):
        ReferralProgram.from_dict([])
