"""Typed domain errors, each with a stable machine code.

The API maps ``ErrorCode`` to an HTTP status in exactly one place (``loyalty.api.problems``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    MALFORMED_JSON = "malformed_json"
    VALIDATION_FAILED = "validation_failed"
    UNAUTHENTICATED = "unauthenticated"
    SIGNING_KEYS_UNAVAILABLE = "signing_keys_unavailable"  # a store's JWKS could not be fetched
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    TENANT_NOT_FOUND = "tenant_not_found"
    MEMBER_NOT_FOUND = "member_not_found"
    MEMBER_EXISTS = "member_exists"
    MEMBER_BLOCKED = "member_blocked"
    UNKNOWN_CURRENCY = "unknown_currency"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    EVENT_CONFLICT = "event_conflict"
    IDEMPOTENCY_CONFLICT = "idempotency_key_conflict"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_NOT_PAID = "order_not_paid"
    REFUND_EXCEEDS_ORDER = "refund_exceeds_order"
    REFUND_CONFLICT = "refund_conflict"
    UNKNOWN_LINE = "unknown_line"
    INSUFFICIENT_POINTS = "insufficient_points"
    TRANSFERS_DISABLED = "transfers_disabled"
    INVALID_TRANSFER = "invalid_transfer"
    INVALID_SETTINGS = "invalid_settings"
    INVALID_CURSOR = "invalid_cursor"
    BATCH_TOO_LARGE = "batch_too_large"
    UNKNOWN_REFERRAL_CODE = "unknown_referral_code"
    REFERRAL_NOT_ALLOWED = "referral_not_allowed"
    MEMBERSHIP_TRANSITION = "membership_transition"
    # rewards and coupons
    REWARD_NOT_FOUND = "reward_not_found"
    REWARD_EXISTS = "reward_exists"
    REWARD_INACTIVE = "reward_inactive"
    REWARD_NOT_VISIBLE = "reward_not_visible"
    REWARD_EXCLUSIVE = "reward_exclusive"
    REWARD_OUT_OF_STOCK = "reward_out_of_stock"
    REDEMPTION_LIMIT_REACHED = "redemption_limit_reached"
    REDEMPTION_NOT_FOUND = "redemption_not_found"
    REDEMPTION_NOT_CANCELLABLE = "redemption_not_cancellable"
    STORE_CREDIT_UNAVAILABLE = "store_credit_unavailable"
    COUPON_NOT_FOUND = "coupon_not_found"
    COUPON_NOT_USABLE = "coupon_not_usable"
    COUPON_BATCH_NOT_FOUND = "coupon_batch_not_found"
    COUPON_BATCH_EXISTS = "coupon_batch_exists"
    FULFILMENT_CONFLICT = "fulfilment_conflict"
    INVALID_SEGMENT_RULE = "invalid_segment_rule"
    UNKNOWN_SEGMENT_FIELD = "unknown_segment_field"
    SEGMENT_NOT_FOUND = "segment_not_found"
    SEGMENT_EXISTS = "segment_exists"
    SEGMENT_READ_ONLY = "segment_read_only"
    SURVEY_NOT_FOUND = "survey_not_found"
    SURVEY_INACTIVE = "survey_inactive"
    SCORE_OUT_OF_RANGE = "score_out_of_range"
    ALREADY_ANSWERED = "already_answered"
    RESPONSE_CONFLICT = "response_conflict"
    PROMOTION_NOT_FOUND = "promotion_not_found"
    PROMOTION_EXISTS = "promotion_exists"
    CODE_TAKEN = "code_taken"
    CHECKOUT_CLOSED = "checkout_closed"
    POINTS_PAYMENT_DISABLED = "points_payment_disabled"
    INVALID_RULE = "invalid_rule"
    INVALID_CONDITION = "invalid_condition"
    UNKNOWN_CONDITION_FIELD = "unknown_condition_field"
    UNKNOWN_CONDITION_FUNCTION = "unknown_condition_function"
    RULE_NOT_FOUND = "rule_not_found"
    INSUFFICIENT_CREDIT = "insufficient_credit"
    WALLET_REFERENCE_CONFLICT = "wallet_reference_conflict"


class DomainError(Exception):
    """Base of every error the business rules raise."""

    code: ErrorCode = ErrorCode.VALIDATION_FAILED

    def __init__(self, detail: str, *, field: str | None = None, **data: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.data = data


class ValidationFailed(DomainError):
    code = ErrorCode.VALIDATION_FAILED


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class MemberNotFound(NotFound):
    code = ErrorCode.MEMBER_NOT_FOUND


class MemberExists(DomainError):
    code = ErrorCode.MEMBER_EXISTS


class MemberBlocked(DomainError):
    code = ErrorCode.MEMBER_BLOCKED


class UnknownCurrency(DomainError):
    code = ErrorCode.UNKNOWN_CURRENCY


class CurrencyMismatch(DomainError):
    code = ErrorCode.CURRENCY_MISMATCH


class UnknownEventType(DomainError):
    code = ErrorCode.UNKNOWN_EVENT_TYPE


class EventConflict(DomainError):
    """The same event id was sent again with a different body."""

    code = ErrorCode.EVENT_CONFLICT


class IdempotencyConflict(DomainError):
    code = ErrorCode.IDEMPOTENCY_CONFLICT


class UnknownOrder(DomainError):
    code = ErrorCode.UNKNOWN_ORDER


class RefundExceedsOrder(DomainError):
    code = ErrorCode.REFUND_EXCEEDS_ORDER


class RefundConflict(DomainError):
    code = ErrorCode.REFUND_CONFLICT


class UnknownLine(DomainError):
    code = ErrorCode.UNKNOWN_LINE


class InsufficientPoints(DomainError):
    code = ErrorCode.INSUFFICIENT_POINTS


class TransfersDisabled(DomainError):
    code = ErrorCode.TRANSFERS_DISABLED


class InvalidTransfer(DomainError):
    code = ErrorCode.INVALID_TRANSFER


class InvalidSettings(DomainError):
    code = ErrorCode.INVALID_SETTINGS


class InvalidCursor(DomainError):
    code = ErrorCode.INVALID_CURSOR


class BatchTooLarge(DomainError):
    code = ErrorCode.BATCH_TOO_LARGE


class UnknownReferralCode(DomainError):
    code = ErrorCode.UNKNOWN_REFERRAL_CODE


class ReferralNotAllowed(DomainError):
    code = ErrorCode.REFERRAL_NOT_ALLOWED


class MembershipTransition(DomainError):
    """A membership change its state does not allow (renewing an expired one)."""

    code = ErrorCode.MEMBERSHIP_TRANSITION


# --- segments and feedback ----------------------------------------------------------------


class InvalidSegmentRule(DomainError):
    """A rule that does not parse, or that can never give true or false."""

    code = ErrorCode.INVALID_SEGMENT_RULE


class UnknownSegmentField(DomainError):
    code = ErrorCode.UNKNOWN_SEGMENT_FIELD


class SegmentNotFound(NotFound):
    code = ErrorCode.SEGMENT_NOT_FOUND


class SegmentExists(DomainError):
    code = ErrorCode.SEGMENT_EXISTS


class SegmentReadOnly(DomainError):
    """Built-in segments cannot be changed; rule segments get their members from the rule."""

    code = ErrorCode.SEGMENT_READ_ONLY


class SurveyNotFound(NotFound):
    code = ErrorCode.SURVEY_NOT_FOUND


class SurveyInactive(DomainError):
    code = ErrorCode.SURVEY_INACTIVE


class ScoreOutOfRange(DomainError):
    code = ErrorCode.SCORE_OUT_OF_RANGE


class AlreadyAnswered(DomainError):
    """One response per member, survey and order."""

    code = ErrorCode.ALREADY_ANSWERED


class ResponseConflict(DomainError):
    """The same response id was sent again with a different body."""

    code = ErrorCode.RESPONSE_CONFLICT


class PromotionNotFound(NotFound):
    code = ErrorCode.PROMOTION_NOT_FOUND


class PromotionExists(DomainError):
    code = ErrorCode.PROMOTION_EXISTS


class CodeTaken(DomainError):
    """A promotion code is already used by another promotion of the tenant."""

    code = ErrorCode.CODE_TAKEN


class CheckoutClosed(DomainError):
    """The checkout was already committed by a paid order or released."""

    code = ErrorCode.CHECKOUT_CLOSED


class PointsPaymentDisabled(DomainError):
    code = ErrorCode.POINTS_PAYMENT_DISABLED


class InvalidRule(DomainError):
    """An earning rule's data is malformed; ``field`` is the path, e.g. ``effect.lines.skus``."""

    code = ErrorCode.INVALID_RULE


class InvalidCondition(DomainError):
    """A rule condition does not compile; ``data`` carries ``line`` and ``column`` (1-based)."""

    code = ErrorCode.INVALID_CONDITION


class UnknownConditionField(InvalidCondition):
    """A condition refers to a variable or field the activation does not declare."""

    code = ErrorCode.UNKNOWN_CONDITION_FIELD


class UnknownConditionFunction(InvalidCondition):
    """A condition calls a function the condition language here does not provide."""

    code = ErrorCode.UNKNOWN_CONDITION_FUNCTION


class RuleNotFound(NotFound):
    code = ErrorCode.RULE_NOT_FOUND


class InsufficientCredit(DomainError):
    """A wallet debit larger than the member's store-credit balance."""

    code = ErrorCode.INSUFFICIENT_CREDIT


class WalletReferenceConflict(DomainError):
    """A wallet reference was used before for a different amount."""

    code = ErrorCode.WALLET_REFERENCE_CONFLICT
