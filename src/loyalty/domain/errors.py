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
