"""A referral from attribution to reward, and the ways it ends early."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from loyalty.domain.referrals import (
    CancelWelcomeCoupon,
    FraudReason,
    GrantReferrerPoints,
    IllegalReferralTransition,
    IssueWelcomeCoupon,
    Party,
    Referral,
    ReferralFacts,
    ReferralProgram,
    ReferralReason,
    ReferralStatus,
    ReverseReferrerPoints,
    WelcomeTiming,
    attribute,
    mark_rewarded,
    qualify_due,
    record_first_order,
    record_refund,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=14)
PROGRAM = ReferralProgram(referrer_points=300, welcome_reward_id="welcome-10")
FACTS = ReferralFacts(
    Party("anna", email="anna@example.com"),
    Party("ben", email="ben@example.com"),
    referee_member_since=NOW,
)


def attributed(program: ReferralProgram = PROGRAM) -> Referral:
    return attribute(program, FACTS, "ANNA-7K", NOW, welcome_code="W-1").referral


def first_order(referral: Referral, program: ReferralProgram = PROGRAM) -> Referral:
    change = record_first_order(
        program, referral, "o-1", NOW, return_window=WINDOW, welcome_code="W-2"
    )
    return change.referral


def rewarded() -> Referral:
    due = qualify_due(PROGRAM, first_order(attributed()), NOW + WINDOW).referral
    return mark_rewarded(due, NOW + WINDOW)


def test_attribution_makes_a_pending_referral_without_effects() -> None:
    change = attribute(PROGRAM, FACTS, "ANNA-7K", NOW, welcome_code="W-1")

    assert change.referral.status is ReferralStatus.PENDING
    assert (change.referral.referrer_id, change.referral.referee_id) == ("anna", "ben")
    assert change.effects == ()


def test_a_failed_check_rejects_with_the_first_reason_and_keeps_all_findings() -> None:
    facts = replace(
        FACTS,
        referee=Party("ben", email="anna@example.com"),
        referee_prior_orders=1,
    )

    referral = attribute(PROGRAM, facts, "ANNA-7K", NOW, welcome_code="W-1").referral

    assert referral.status is ReferralStatus.REJECTED
    assert referral.reason == FraudReason.SAME_EMAIL
    assert [f.reason for f in referral.findings] == [
        FraudReason.SAME_EMAIL,
        FraudReason.EXISTING_CUSTOMER,
    ]
    assert referral.closed_at == NOW


def test_a_referee_with_a_live_referral_cannot_be_referred_again() -> None:
    change = attribute(PROGRAM, FACTS, "CARL-1", NOW, welcome_code="W", existing=attributed())

    assert change.referral.reason == ReferralReason.ALREADY_REFERRED


def test_a_rejected_referral_does_not_block_another_referrer() -> None:
    earlier = replace(attributed(), status=ReferralStatus.REJECTED)

    change = attribute(PROGRAM, FACTS, "CARL-1", NOW, welcome_code="W", existing=earlier)

    assert change.referral.status is ReferralStatus.PENDING


def test_a_disabled_programme_rejects() -> None:
    referral = attributed(ReferralProgram(enabled=False))

    assert referral.reason == ReferralReason.PROGRAM_DISABLED


def test_first_order_starts_the_return_window_and_issues_the_welcome_coupon() -> None:
    change = record_first_order(
        PROGRAM, attributed(), "o-1", NOW, return_window=WINDOW, welcome_code="W-2"
    )

    assert change.referral.qualifies_at == NOW + WINDOW
    assert change.referral.welcome_code == "W-2"
    assert change.effects == (IssueWelcomeCoupon("ben", "W-2", "welcome-10"),)


def test_a_second_order_changes_nothing() -> None:
    referral = first_order(attributed())

    change = record_first_order(
        PROGRAM, referral, "o-2", NOW + timedelta(days=1), return_window=WINDOW, welcome_code="W3"
    )

    assert change == type(change)(referral)


def test_welcome_coupon_on_attribution_is_issued_once() -> None:
    program = ReferralProgram(
        welcome_timing=WelcomeTiming.ATTRIBUTION,
        welcome_promotion_id="welcome",
        welcome_valid_days=30,
    )

    change = attribute(program, FACTS, "ANNA-7K", NOW, welcome_code="W-1")
    later = record_first_order(
        program, change.referral, "o-1", NOW, return_window=WINDOW, welcome_code="W-2"
    )

    assert change.effects == (IssueWelcomeCoupon("ben", "W-1", None, "welcome", 30),)
    assert later.effects == ()
    assert later.referral.welcome_code == "W-1"


def test_no_welcome_coupon_when_switched_off() -> None:
    program = ReferralProgram(welcome_coupon=False)

    change = record_first_order(
        program, attributed(program), "o-1", NOW, return_window=WINDOW, welcome_code="W"
    )

    assert change.effects == ()
    assert change.referral.welcome_code is None


def test_no_welcome_coupon_while_its_benefit_is_not_configured() -> None:
    program = ReferralProgram(welcome_coupon=True)

    change = record_first_order(
        program, attributed(program), "o-1", NOW, return_window=WINDOW, welcome_code="W"
    )

    assert not program.issues_welcome_coupon
    assert change.effects == ()
    assert change.referral.welcome_code is None


def test_the_referral_qualifies_only_once_the_window_has_passed() -> None:
    referral = first_order(attributed())

    early = qualify_due(PROGRAM, referral, NOW + WINDOW - timedelta(seconds=1))
    due = qualify_due(PROGRAM, referral, NOW + WINDOW + timedelta(days=3))  # a late job run

    assert early.referral is referral and early.effects == ()
    assert due.referral.status is ReferralStatus.QUALIFIED
    assert due.referral.qualified_at == NOW + WINDOW
    assert due.effects == (GrantReferrerPoints("anna", 300),)


def test_without_a_first_order_nothing_qualifies() -> None:
    referral = attributed()

    assert qualify_due(PROGRAM, referral, NOW + timedelta(days=400)).referral is referral


def test_zero_referrer_points_leave_it_qualified_without_a_grant() -> None:
    program = ReferralProgram(referrer_points=0)

    change = qualify_due(program, first_order(attributed(program), program), NOW + WINDOW)

    assert change.referral.status is ReferralStatus.QUALIFIED
    assert change.effects == ()


def test_mark_rewarded_only_from_qualified() -> None:
    referral = rewarded()

    assert referral.status is ReferralStatus.REWARDED
    assert referral.rewarded_at == NOW + WINDOW
    with pytest.raises(IllegalReferralTransition) as raised:
        mark_rewarded(referral, NOW)
    assert raised.value.data == {"referral_status": "rewarded", "action": "mark_rewarded"}


def test_refund_within_the_window_cancels_the_welcome_coupon() -> None:
    referral = first_order(attributed())

    change = record_refund(PROGRAM, referral, "o-1", NOW + timedelta(days=2))

    assert change.referral.status is ReferralStatus.CANCELLED
    assert change.referral.reason == ReferralReason.FIRST_ORDER_REFUNDED
    assert change.effects == (CancelWelcomeCoupon("ben", "W-2"),)
    assert qualify_due(PROGRAM, change.referral, NOW + WINDOW).effects == ()


def test_a_late_refund_event_dated_within_the_window_cancels_both() -> None:
    change = record_refund(
        PROGRAM,
        rewarded(),
        "o-1",
        NOW + timedelta(days=2),
        reason=ReferralReason.FIRST_ORDER_CANCELLED,
    )

    assert change.referral.reason == ReferralReason.FIRST_ORDER_CANCELLED
    assert change.effects == (
        CancelWelcomeCoupon("ben", "W-2"),
        ReverseReferrerPoints("anna", 300),
    )


@pytest.mark.parametrize(
    ("order_id", "at", "full"),
    [
        ("o-1", NOW + WINDOW, True),  # after the window
        ("o-2", NOW + timedelta(days=1), True),  # another order
    ],
)
def test_refunds_that_do_not_apply_change_nothing(order_id: str, at: datetime, full: bool) -> None:
    referral = first_order(attributed())

    assert record_refund(PROGRAM, referral, order_id, at, full=full).referral is referral


def test_partial_refund_follows_the_programme_setting() -> None:
    keep = ReferralProgram(cancel_on_partial_refund=False)
    referral = first_order(attributed(keep), keep)
    at = NOW + timedelta(days=1)

    assert record_refund(keep, referral, "o-1", at, full=False).referral is referral
    assert record_refund(keep, referral, "o-1", at, full=True).referral.status is (
        ReferralStatus.CANCELLED
    )
    assert record_refund(PROGRAM, referral, "o-1", at, full=False).referral.status is (
        ReferralStatus.CANCELLED
    )


def test_a_cancelled_referral_is_not_cancelled_twice() -> None:
    cancelled = record_refund(PROGRAM, first_order(attributed()), "o-1", NOW).referral

    assert record_refund(PROGRAM, cancelled, "o-1", NOW).effects == ()
