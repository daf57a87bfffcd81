"""Why a promotion was not applied, as stable machine codes, and the errors promotions raise.

``RejectReason`` values are part of the API: clients switch on them, so never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from loyalty.domain.errors import ValidationFailed


class RejectReason(StrEnum):
    UNKNOWN_CODE = "unknown_code"
    DUPLICATE_CODE = "duplicate_code"
    CURRENCY_MISMATCH = "currency_mismatch"
    NOT_STARTED = "not_started"
    ENDED = "ended"
    NO_MATCHING_ITEMS = "no_matching_items"
    MIN_SUBTOTAL_NOT_MET = "min_subtotal_not_met"
    MIN_QUANTITY_NOT_MET = "min_quantity_not_met"
    TIER_NOT_ELIGIBLE = "tier_not_eligible"
    NOT_FIRST_ORDER = "not_first_order"
    SEGMENT_NOT_ELIGIBLE = "segment_not_eligible"
    EXPRESSION_FALSE = "expression_false"
    EXPRESSION_ERROR = "expression_error"
    GLOBAL_LIMIT_REACHED = "global_limit_reached"
    MEMBER_LIMIT_REACHED = "member_limit_reached"
    BUDGET_EXHAUSTED = "budget_exhausted"
    BLOCKED_BY_EXCLUSIVE = "blocked_by_exclusive"
    EXCLUSIVE_NOT_ALONE = "exclusive_not_alone"
    NOT_COMBINABLE = "not_combinable"
    NO_DISCOUNT = "no_discount"
    CODE_USED_UP = "code_used_up"  # a single-use (or limited) code has no uses left
    CODE_RESERVED = "code_reserved"  # another open checkout holds the code's last use
    # issued coupons (rewards, batches, referral welcome codes)
    COUPON_EXPIRED = "coupon_expired"
    COUPON_CANCELLED = "coupon_cancelled"
    COUPON_NOT_OWNED = "coupon_not_owned"
    COUPON_MEMBER_REQUIRED = "coupon_member_required"
    COUPON_USED_BY_MEMBER = "coupon_used_by_member"


class InvalidPromotion(ValidationFailed):
    """Promotion data that cannot be used; ``field`` is the path, e.g. ``benefits[0].percent``."""


class PointsOverLimit(ValidationFailed):
    """More points requested as payment than the programme allows for this order.

    Carries ``reason="points_over_max_share"`` and ``max_points`` in ``data``.
    """


@dataclass(frozen=True, slots=True)
class Refusal:
    """A reason not to apply a promotion, with a message a person can read."""

    reason: RejectReason
    message: str
