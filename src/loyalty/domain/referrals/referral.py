"""A referral: one referee attributed to one referrer, and where it stands.

- ``pending``: attributed; waiting for the friend's first order and for its return window;
- ``qualified``: the first order cleared the window; the referrer's reward is due;
- ``rewarded``: the referrer's reward was granted;
- ``rejected``: a fraud check or an attribution rule said no (``reason``, ``findings``);
- ``cancelled``: the first order was refunded within the window, or an admin cancelled it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from loyalty.domain.referrals.fraud import FraudFinding


class ReferralStatus(StrEnum):
    PENDING = "pending"
    QUALIFIED = "qualified"
    REWARDED = "rewarded"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


CLOSED = frozenset({ReferralStatus.REJECTED, ReferralStatus.CANCELLED})


class ReferralReason(StrEnum):
    """Why a referral was rejected or cancelled, besides the fraud reasons. Part of the API."""

    ALREADY_REFERRED = "already_referred"
    PROGRAM_DISABLED = "program_disabled"
    FIRST_ORDER_REFUNDED = "first_order_refunded"
    FIRST_ORDER_CANCELLED = "first_order_cancelled"


@dataclass(frozen=True, slots=True)
class Referral:
    referrer_id: str
    referee_id: str
    code: str
    attributed_at: datetime
    status: ReferralStatus = ReferralStatus.PENDING
    reason: str | None = None  # a FraudReason, a ReferralReason or an admin's reason
    findings: tuple[FraudFinding, ...] = ()
    first_order_id: str | None = None
    first_order_at: datetime | None = None
    qualifies_at: datetime | None = None  # first order paid + return window
    welcome_code: str | None = None  # the friend's welcome coupon, once issued
    welcome_cancelled: bool = False
    referrer_points: int | None = None  # what the referrer earns, set on qualifying
    qualified_at: datetime | None = None
    rewarded_at: datetime | None = None
    closed_at: datetime | None = None  # when rejected or cancelled

    @property
    def welcome_issued(self) -> bool:
        return self.welcome_code is not None

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED
