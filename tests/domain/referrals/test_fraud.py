"""Each fraud check, on and off, each answering with its own reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from loyalty.domain.referrals import (
    FraudPolicy,
    FraudReason,
    InvalidReferralProgram,
    Party,
    ReferralFacts,
    VelocityCap,
    VelocityWindow,
    check_fraud,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ANNA = Party("anna", email="anna.nowak@gmail.com", phone="+48 600 100 200")
BEN = Party("ben", email="ben@example.com", phone="+48 700 200 300")
FACTS = ReferralFacts(ANNA, BEN, referee_member_since=NOW)


def reasons(facts: ReferralFacts, policy: FraudPolicy | None = None) -> list[FraudReason]:
    return [finding.reason for finding in check_fraud(policy or FraudPolicy(), facts, NOW)]


def test_a_genuine_friend_passes_every_check() -> None:
    assert reasons(FACTS) == []


def test_the_referrer_cannot_refer_their_own_member_record() -> None:
    assert reasons(replace(FACTS, referee=replace(ANNA))) == [FraudReason.SELF_REFERRAL]


def test_same_mailbox_after_dots_and_plus_alias_is_a_self_referral() -> None:
    # given the referrer's own mailbox spelled another way
    referee = replace(BEN, email="Anna.Nowak+friend@googlemail.com")

    # then
    assert reasons(replace(FACTS, referee=referee)) == [FraudReason.SAME_EMAIL]


def test_same_phone_in_another_format_is_a_self_referral() -> None:
    referee = replace(BEN, phone="0048 600-100-200")

    assert reasons(replace(FACTS, referee=referee)) == [FraudReason.SAME_PHONE]


def test_a_shared_shipping_address_is_a_self_referral() -> None:
    facts = replace(
        FACTS,
        referrer=replace(ANNA, address_keys=frozenset({"pl|30001|ul lakowa 5"})),
        referee=replace(BEN, address_keys=frozenset({"pl|30001|ul lakowa 5", "pl|00001|x 1"})),
    )

    assert reasons(facts) == [FraudReason.SAME_ADDRESS]


def test_a_shared_device_or_ip_hash_is_a_self_referral() -> None:
    facts = replace(
        FACTS,
        referrer=replace(ANNA, device_hashes=frozenset({"d1"}), ip_hashes=frozenset({"i1"})),
        referee=replace(BEN, device_hashes=frozenset({"d1"}), ip_hashes=frozenset({"i1", "i2"})),
    )

    assert reasons(facts) == [FraudReason.SAME_DEVICE, FraudReason.SAME_IP]


def test_every_finding_is_kept_with_a_detail() -> None:
    referee = replace(BEN, email="annanowak@gmail.com", phone="600100200")
    findings = check_fraud(FraudPolicy(), replace(FACTS, referee=referee), NOW)

    assert [f.reason for f in findings] == [FraudReason.SAME_EMAIL, FraudReason.SAME_PHONE]
    assert all(f.detail for f in findings)


@pytest.mark.parametrize(
    ("switch", "facts"),
    [
        ("same_email", replace(FACTS, referee=replace(BEN, email="anna.nowak@gmail.com"))),
        ("same_phone", replace(FACTS, referee=replace(BEN, phone="600100200"))),
        (
            "same_address",
            replace(
                FACTS,
                referrer=replace(ANNA, address_keys=frozenset({"a"})),
                referee=replace(BEN, address_keys=frozenset({"a"})),
            ),
        ),
        (
            "same_device",
            replace(
                FACTS,
                referrer=replace(ANNA, device_hashes=frozenset({"d"})),
                referee=replace(BEN, device_hashes=frozenset({"d"})),
            ),
        ),
        (
            "same_ip",
            replace(
                FACTS,
                referrer=replace(ANNA, ip_hashes=frozenset({"i"})),
                referee=replace(BEN, ip_hashes=frozenset({"i"})),
            ),
        ),
        ("existing_customer", replace(FACTS, referee_prior_orders=1)),
    ],
)
def test_each_check_can_be_switched_off(switch: str, facts: ReferralFacts) -> None:
    assert reasons(facts) != []
    assert reasons(facts, FraudPolicy.from_dict({switch: False})) == []


def test_velocity_cap_counts_a_rolling_day() -> None:
    # given five referrals in the last 24 hours (one just outside it)
    recent = tuple(NOW - timedelta(hours=h) for h in (1, 2, 3, 4, 23.9, 24.1))
    facts = replace(FACTS, referrer_recent=recent)

    # then the sixth is over the daily cap of five; a cap of six lets it through
    assert reasons(facts) == [FraudReason.VELOCITY]
    six = FraudPolicy(velocity=(VelocityCap(VelocityWindow.DAY, 6),))
    assert reasons(facts, six) == []


def test_velocity_cap_per_week() -> None:
    recent = tuple(NOW - timedelta(days=d) for d in (1.5, 2, 3, 4, 5, 6))
    policy = FraudPolicy(velocity=(VelocityCap(VelocityWindow.WEEK, 6),))

    findings = check_fraud(policy, replace(FACTS, referrer_recent=recent), NOW)

    assert [f.reason for f in findings] == [FraudReason.VELOCITY]
    assert "6 referrals in the last week" in findings[0].detail


def test_no_velocity_caps_when_switched_off() -> None:
    recent = tuple(NOW - timedelta(minutes=m) for m in range(50))

    assert reasons(replace(FACTS, referrer_recent=recent), FraudPolicy(velocity=())) == []


def test_a_referee_with_earlier_orders_is_an_existing_customer() -> None:
    assert reasons(replace(FACTS, referee_prior_orders=2)) == [FraudReason.EXISTING_CUSTOMER]


def test_an_old_account_is_an_existing_customer_a_fresh_one_is_not() -> None:
    old = replace(FACTS, referee_member_since=NOW - timedelta(hours=25))
    fresh = replace(FACTS, referee_member_since=NOW - timedelta(hours=23))

    assert reasons(old) == [FraudReason.EXISTING_CUSTOMER]
    assert reasons(fresh) == []
    assert reasons(old, FraudPolicy.from_dict({"new_customer_grace_hours": None})) == []


def test_policy_round_trips_through_its_dict() -> None:
    policy = FraudPolicy.from_dict(
        {
            "same_ip": False,
            "velocity": [{"window": "week", "max_referrals": 3}],
            "new_customer_grace_hours": 48,
            "phone_digits": 10,
            "dotless_domains": ["Corp.Example"],
        }
    )

    assert FraudPolicy.from_dict(policy.to_dict()) == policy
    assert policy.lookback == timedelta(days=7)
    assert policy.to_dict()["dotless_domains"] == ["corp.example"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"same_ip": "no"}, "same_ip"),
        ({"velocity": [{"window": "month", "max_referrals": 1}]}, "velocity[0].window"),
        ({"velocity": [{"window": "day", "max_referrals": 0}]}, "velocity[0].max_referrals"),
        (
            {"velocity": [{"window": "day", "max_referrals": 1}] * 2},
            "velocity[1]",
        ),
        ({"velocity": "day"}, "velocity"),
        ({"phone_digits": 3}, "phone_digits"),
        ({"new_customer_grace_hours": -1}, "new_customer_grace_hours"),
        ({"dotless_domains": [""]}, "dotless_domains"),
        ({"same_emial": True}, "same_emial"),
    ],
)
def test_invalid_policy_names_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidReferralProgram) as raised:
        FraudPolicy.from_dict(data)

    assert raised.value.field == field
