"""Referrals: member codes, attribution, fraud checks and the reward timing. Pure, no clock.

Start at ``attribute`` (a friend arrives with a code), then ``record_first_order``,
``qualify_due`` (a job, once the return window has passed) and ``record_refund``; each
returns the new ``Referral`` and the effects the services must carry out.
"""

from loyalty.domain.referrals.codes import (
    ALPHABET,
    RandomSource,
    name_prefix,
    new_referral_code,
    new_welcome_code,
    normalise_code,
    referral_link,
)
from loyalty.domain.referrals.errors import IllegalReferralTransition, InvalidReferralProgram
from loyalty.domain.referrals.fraud import (
    FraudFinding,
    FraudPolicy,
    FraudReason,
    Party,
    ReferralFacts,
    VelocityCap,
    VelocityWindow,
    check_fraud,
)
from loyalty.domain.referrals.identity import Address, EmailRules, address_key, mailbox, phone_key
from loyalty.domain.referrals.lifecycle import (
    CancelWelcomeCoupon,
    Effect,
    GrantReferrerPoints,
    IssueWelcomeCoupon,
    ReferralChange,
    ReverseReferrerPoints,
    attribute,
    mark_rewarded,
    qualify_due,
    record_first_order,
    record_refund,
)
from loyalty.domain.referrals.program import ReferralProgram, WelcomeTiming
from loyalty.domain.referrals.referral import Referral, ReferralReason, ReferralStatus

__all__ = [
    "ALPHABET",
    "Address",
    "CancelWelcomeCoupon",
    "Effect",
    "EmailRules",
    "FraudFinding",
    "FraudPolicy",
    "FraudReason",
    "GrantReferrerPoints",
    "IllegalReferralTransition",
    "InvalidReferralProgram",
    "IssueWelcomeCoupon",
    "Party",
    "RandomSource",
    "Referral",
    "ReferralChange",
    "ReferralFacts",
    "ReferralProgram",
    "ReferralReason",
    "ReferralStatus",
    "ReverseReferrerPoints",
    "VelocityCap",
    "VelocityWindow",
    "WelcomeTiming",
    "address_key",
    "attribute",
    "check_fraud",
    "mailbox",
    "mark_rewarded",
    "name_prefix",
    "new_referral_code",
    "new_welcome_code",
    "normalise_code",
    "phone_key",
    "qualify_due",
    "record_first_order",
    "record_refund",
    "referral_link",
]
