"""Errors of rewards, redemptions, coupons and fulfilment.

Each is a ``DomainError`` with an ``ErrorCode`` (what the API maps to a status) and a stable
``reason`` (a finer cause clients may switch on: every coupon refusal shares
``coupon_not_usable`` and says which in its reason). The reason also rides in ``data`` so
the problem+json body carries it. Never rename a reason.
"""

from __future__ import annotations

from typing import Any, ClassVar

from loyalty.domain.errors import (
    BatchTooLarge,
    DomainError,
    ErrorCode,
    InsufficientPoints,
    NotFound,
    ValidationFailed,
)


class ReasonedError(DomainError):
    """A domain error with a stable ``reason`` string, also put into ``data["reason"]``."""

    reason: ClassVar[str] = "unspecified"

    def __init__(self, detail: str, *, field: str | None = None, **data: Any) -> None:
        data["reason"] = self.reason
        super().__init__(detail, field=field, **data)


# --- data that cannot be used ---------------------------------------------------------------


class InvalidReward(ReasonedError, ValidationFailed):
    """Reward data that cannot be used; ``field`` is the path, e.g. ``benefit.cap``."""

    reason = "invalid_reward"


class InvalidCodePattern(ReasonedError, ValidationFailed):
    reason = "invalid_code_pattern"


class InvalidCouponBatch(ReasonedError, ValidationFailed):
    reason = "invalid_coupon_batch"


class CouponBatchTooLarge(ReasonedError, BatchTooLarge):
    reason = "coupon_batch_too_large"


class CodeSpaceExhausted(ReasonedError, ValidationFailed):
    """Could not find enough unused codes: the pattern or the random source is too narrow."""

    reason = "code_space_exhausted"


# --- a redemption the rules refuse ----------------------------------------------------------


class RewardNotRedeemable(ReasonedError):
    """Base of the refusals of ``redeem``; ``reason`` equals the ``RefusalReason`` value.

    Each refusal has its own ``ErrorCode`` (the API answers 409); insufficient points keeps
    the ledger's ``insufficient_points``."""


class RewardInactive(RewardNotRedeemable):
    code = ErrorCode.REWARD_INACTIVE
    reason = "inactive"


class RewardNotVisible(RewardNotRedeemable):
    code = ErrorCode.REWARD_NOT_VISIBLE
    reason = "not_visible"


class RewardExclusive(RewardNotRedeemable):
    """An ``exclusive`` reward, and neither the member's tier nor a paid plan grants
    ``exclusive_rewards``."""

    code = ErrorCode.REWARD_EXCLUSIVE
    reason = "exclusive"


class RewardOutOfStock(RewardNotRedeemable):
    code = ErrorCode.REWARD_OUT_OF_STOCK
    reason = "out_of_stock"


class RedemptionLimitReached(RewardNotRedeemable):
    code = ErrorCode.REDEMPTION_LIMIT_REACHED
    reason = "member_limit_reached"


class RewardInsufficientPoints(RewardNotRedeemable, InsufficientPoints):
    reason = "insufficient_points"


# --- coupon lifecycle -----------------------------------------------------------------------


class IllegalCouponTransition(ReasonedError, ValidationFailed):
    """The coupon's state does not allow the action; ``data`` names ``coupon_code``,
    ``coupon_status`` and ``action``. Subclasses name the usual causes."""

    code = ErrorCode.COUPON_NOT_USABLE

    reason = "illegal_coupon_transition"


class CouponExpired(IllegalCouponTransition):
    reason = "coupon_expired"


class CouponNotExpired(IllegalCouponTransition):
    reason = "coupon_not_expired"


class CouponUsed(IllegalCouponTransition):
    reason = "coupon_used"


class CouponCancelled(IllegalCouponTransition):
    reason = "coupon_cancelled"


class CouponReserved(IllegalCouponTransition):
    """Every remaining use is held by other checkouts."""

    reason = "coupon_reserved"


class CouponNotReserved(IllegalCouponTransition):
    """The checkout holds no reservation on this coupon."""

    reason = "coupon_not_reserved"


class CouponNotOwned(IllegalCouponTransition):
    reason = "coupon_not_owned"


class CouponMemberRequired(IllegalCouponTransition):
    reason = "coupon_member_required"


class CouponUsedByMember(IllegalCouponTransition):
    reason = "coupon_used_by_member"


# --- physical gift fulfilment ---------------------------------------------------------------


class IllegalFulfilmentTransition(ReasonedError, ValidationFailed):
    code = ErrorCode.FULFILMENT_CONFLICT
    reason = "illegal_fulfilment_transition"


# --- catalogue and redemption records -------------------------------------------------------


class RewardNotFound(NotFound):
    code = ErrorCode.REWARD_NOT_FOUND


class RewardExists(DomainError):
    code = ErrorCode.REWARD_EXISTS


class RedemptionNotFound(NotFound):
    code = ErrorCode.REDEMPTION_NOT_FOUND


class RedemptionNotCancellable(DomainError):
    """The redemption cannot be undone; ``data["reason"]`` says why (e.g. ``coupon_used``)."""

    code = ErrorCode.REDEMPTION_NOT_CANCELLABLE


class StoreCreditUnavailable(DomainError):
    code = ErrorCode.STORE_CREDIT_UNAVAILABLE


class CouponNotFound(NotFound):
    code = ErrorCode.COUPON_NOT_FOUND


class CouponBatchNotFound(NotFound):
    code = ErrorCode.COUPON_BATCH_NOT_FOUND


class CouponBatchExists(DomainError):
    code = ErrorCode.COUPON_BATCH_EXISTS
