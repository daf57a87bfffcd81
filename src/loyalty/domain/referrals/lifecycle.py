"""How a referral moves, and what the services must do when it does.

Each step returns a ``ReferralChange``: the new referral and the effects to carry out in the
same unit of work (issue or cancel the friend's welcome coupon, grant or reverse the
referrer's points). Store events arrive as they arrive: a step that does not apply (an order
that is not the first, a refund after the window, a repeat) returns the referral unchanged
with no effects instead of failing, so event handlers stay simple and idempotent.

Attribution rules: a referee has at most one live referral, the first (a rejected one does not
count, so another referrer may try); attribution runs every enabled fraud check and a failed
check rejects the referral with the first finding as its reason and all findings kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from loyalty.domain.referrals.errors import IllegalReferralTransition
from loyalty.domain.referrals.fraud import ReferralFacts, check_fraud
from loyalty.domain.referrals.program import ReferralProgram, WelcomeTiming
from loyalty.domain.referrals.referral import Referral, ReferralReason, ReferralStatus


@dataclass(frozen=True, slots=True)
class IssueWelcomeCoupon:
    """Issue the friend a single-use coupon worth the programme's welcome benefit: the
    catalogue reward ``reward_id`` or the code promotion ``promotion_id``."""

    member_id: str  # the friend
    code: str
    reward_id: str | None
    promotion_id: str | None = None
    valid_days: int | None = None  # None: the code does not expire


@dataclass(frozen=True, slots=True)
class CancelWelcomeCoupon:
    """Cancel the friend's welcome coupon if it is still unused."""

    member_id: str
    code: str


@dataclass(frozen=True, slots=True)
class GrantReferrerPoints:
    """Give the referrer ``points`` through the ledger (reason "referral")."""

    member_id: str
    points: int


@dataclass(frozen=True, slots=True)
class ReverseReferrerPoints:
    """Take back what ``GrantReferrerPoints`` gave, with a ledger reversal."""

    member_id: str
    points: int


Effect = IssueWelcomeCoupon | CancelWelcomeCoupon | GrantReferrerPoints | ReverseReferrerPoints


@dataclass(frozen=True, slots=True)
class ReferralChange:
    referral: Referral
    effects: tuple[Effect, ...] = ()


def attribute(
    program: ReferralProgram,
    facts: ReferralFacts,
    code: str,
    now: datetime,
    *,
    welcome_code: str,
    existing: Referral | None = None,
) -> ReferralChange:
    """Attribute ``facts.referee`` to ``facts.referrer`` (whose code is ``code``).

    ``existing``: the referee's current referral, if any. ``welcome_code``: a fresh code the
    friend gets if the programme issues the welcome coupon now. The result is a new referral,
    pending or rejected with its reason; the services store it either way.
    """
    referral = Referral(facts.referrer.member_id, facts.referee.member_id, code, now)
    if not program.enabled:
        return ReferralChange(_rejected(referral, ReferralReason.PROGRAM_DISABLED, now))
    if existing is not None and existing.status is not ReferralStatus.REJECTED:
        return ReferralChange(_rejected(referral, ReferralReason.ALREADY_REFERRED, now))
    findings = check_fraud(program.fraud, facts, now)
    if findings:
        rejected = _rejected(referral, findings[0].reason, now)
        return ReferralChange(replace(rejected, findings=findings))
    if program.welcome_timing is WelcomeTiming.ATTRIBUTION:
        return _with_welcome(program, referral, welcome_code)
    return ReferralChange(referral)


def record_first_order(
    program: ReferralProgram,
    referral: Referral,
    order_id: str,
    paid_at: datetime,
    *,
    return_window: timedelta,
    welcome_code: str,
) -> ReferralChange:
    """The referee's order was paid; if it is their first since attribution, its return
    window starts (``qualifies_at``) and the welcome coupon is issued if it is due now."""
    if referral.status is not ReferralStatus.PENDING or referral.first_order_id is not None:
        return ReferralChange(referral)
    started = replace(
        referral,
        first_order_id=order_id,
        first_order_at=paid_at,
        qualifies_at=paid_at + return_window,
    )
    if program.welcome_timing is WelcomeTiming.FIRST_ORDER:
        return _with_welcome(program, started, welcome_code)
    return ReferralChange(started)


def qualify_due(program: ReferralProgram, referral: Referral, now: datetime) -> ReferralChange:
    """The first order cleared its return window by ``now``: the referrer's points are due.

    Run by a job over pending referrals with ``qualifies_at <= now``; catches up after
    downtime. With ``referrer_points`` 0 the referral stays ``qualified``.
    """
    due = referral.qualifies_at
    if referral.status is not ReferralStatus.PENDING or due is None or now < due:
        return ReferralChange(referral)
    qualified = replace(
        referral,
        status=ReferralStatus.QUALIFIED,
        referrer_points=program.referrer_points,
        qualified_at=due,
    )
    if program.referrer_points == 0:
        return ReferralChange(qualified)
    return ReferralChange(
        qualified, (GrantReferrerPoints(referral.referrer_id, program.referrer_points),)
    )


def mark_rewarded(referral: Referral, now: datetime) -> Referral:
    """The services granted the referrer's points."""
    if referral.status is not ReferralStatus.QUALIFIED:
        raise IllegalReferralTransition(
            f"a {referral.status.value} referral cannot be marked rewarded",
            referral_status=referral.status.value,
            action="mark_rewarded",
        )
    return replace(referral, status=ReferralStatus.REWARDED, rewarded_at=now)


def record_refund(
    program: ReferralProgram,
    referral: Referral,
    order_id: str,
    refunded_at: datetime,
    *,
    full: bool = True,
    reason: ReferralReason = ReferralReason.FIRST_ORDER_REFUNDED,
) -> ReferralChange:
    """A refund (or cancellation) of the first order dated within its return window cancels
    both rewards.

    Judged by ``refunded_at`` (when the store refunded), not by when the event arrives, so a
    late event still cancels a referral that already paid out.
    """
    if (
        not referral.is_open
        or order_id != referral.first_order_id
        or referral.qualifies_at is None
        or refunded_at >= referral.qualifies_at
        or (not full and not program.cancel_on_partial_refund)
    ):
        return ReferralChange(referral)
    return _cancelled(referral, reason.value, refunded_at)


def _with_welcome(program: ReferralProgram, referral: Referral, code: str) -> ReferralChange:
    if not program.issues_welcome_coupon or referral.welcome_issued:
        return ReferralChange(referral)
    issue = IssueWelcomeCoupon(
        referral.referee_id,
        code,
        program.welcome_reward_id,
        program.welcome_promotion_id,
        program.welcome_valid_days,
    )
    return ReferralChange(replace(referral, welcome_code=code), (issue,))


def _cancelled(referral: Referral, reason: str, now: datetime) -> ReferralChange:
    effects: list[Effect] = []
    if referral.welcome_code is not None and not referral.welcome_cancelled:
        effects.append(CancelWelcomeCoupon(referral.referee_id, referral.welcome_code))
    if referral.status is ReferralStatus.REWARDED and referral.referrer_points:
        effects.append(ReverseReferrerPoints(referral.referrer_id, referral.referrer_points))
    cancelled = replace(
        referral,
        status=ReferralStatus.CANCELLED,
        reason=reason,
        closed_at=now,
        welcome_cancelled=referral.welcome_code is not None,
    )
    return ReferralChange(cancelled, tuple(effects))


def _rejected(referral: Referral, reason: str, now: datetime) -> Referral:
    return replace(referral, status=ReferralStatus.REJECTED, reason=reason, closed_at=now)
