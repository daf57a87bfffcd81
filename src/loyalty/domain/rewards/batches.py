"""Coupon batches for campaigns: N codes at once, single or multi use, optionally once per
member, with one expiry.

A batch applies a cart promotion (``promotion_id``) or hands out a catalogue reward
(``reward_id``): exactly one of them. "Once per member" counts across the batch: a member may
use one of its codes, once.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.domain.rewards._fields import Fields, datetime_text
from loyalty.domain.rewards.codes import (
    DEFAULT_PATTERN,
    CodePattern,
    RandomSource,
    generate_codes,
)
from loyalty.domain.rewards.coupons import Coupon
from loyalty.domain.rewards.errors import (
    CouponBatchTooLarge,
    InvalidCodePattern,
    InvalidCouponBatch,
)

MAX_BATCH_COUNT = 100_000

CSV_HEADER = ("code", "status", "uses", "max_uses", "expires_at", "member_id")


@dataclass(frozen=True, slots=True)
class CouponBatch:
    id: str
    count: int
    pattern: CodePattern = DEFAULT_PATTERN
    max_uses: int = 1  # 1: single use; more: each code may be used that many times
    once_per_member: bool = False
    expires_at: datetime | None = None
    promotion_id: str | None = None
    reward_id: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise InvalidCouponBatch("is required", field="id")
        if self.count < 1:
            raise InvalidCouponBatch("must be at least 1", field="count")
        if self.count > MAX_BATCH_COUNT:
            raise CouponBatchTooLarge(
                f"at most {MAX_BATCH_COUNT} codes per batch", field="count", limit=MAX_BATCH_COUNT
            )
        if self.max_uses < 1:
            raise InvalidCouponBatch("must be at least 1", field="max_uses")
        if (self.promotion_id is None) == (self.reward_id is None):
            raise InvalidCouponBatch(
                "name exactly one of promotion_id and reward_id", field="promotion_id"
            )
        if self.expires_at is not None and self.expires_at.utcoffset() is None:
            raise InvalidCouponBatch("must include a time zone offset", field="expires_at")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "count": self.count,
            "pattern": self.pattern.text,
            "max_uses": self.max_uses,
            "once_per_member": self.once_per_member,
            "expires_at": datetime_text(self.expires_at),
            "promotion_id": self.promotion_id,
            "reward_id": self.reward_id,
        }

    @classmethod
    def from_dict(cls, data: object) -> CouponBatch:
        """``pattern`` (``"SPRING-####-####-####"``) or ``prefix`` (``"SPRING"``), not both."""
        fields = Fields(data, InvalidCouponBatch)
        pattern = _pattern(fields)
        batch = cls(
            id=fields.text("id"),
            name=fields.any_text("name"),
            count=fields.required_int("count"),
            pattern=pattern,
            max_uses=fields.integer("max_uses", 1),
            once_per_member=fields.boolean("once_per_member", False),
            expires_at=fields.opt_datetime("expires_at"),
            promotion_id=fields.opt_text("promotion_id"),
            reward_id=fields.opt_text("reward_id"),
        )
        fields.done()
        return batch


def _pattern(fields: Fields) -> CodePattern:
    text, prefix = fields.opt_text("pattern"), fields.opt_text("prefix")
    if text is not None and prefix is not None:
        raise InvalidCouponBatch("give a pattern or a prefix, not both", field="prefix")
    if text is not None:
        return CodePattern(text.upper())
    try:
        return CodePattern.with_prefix(prefix)
    except InvalidCodePattern as exc:
        raise InvalidCodePattern(exc.detail, field="prefix") from None


def issue_batch(
    batch: CouponBatch,
    random: RandomSource,
    now: datetime,
    *,
    taken: Container[str] = frozenset(),
) -> list[Coupon]:
    """The batch's coupons, with codes unique in the batch and absent from ``taken``."""
    return [
        Coupon(
            code=code,
            issued_at=now,
            expires_at=batch.expires_at,
            max_uses=batch.max_uses,
            once_per_member=batch.once_per_member,
            promotion_id=batch.promotion_id,
            reward_id=batch.reward_id,
            batch_id=batch.id,
        )
        for code in generate_codes(batch.count, random, batch.pattern, taken=taken)
    ]


def csv_rows(coupons: Iterable[Coupon]) -> Iterable[tuple[str, ...]]:
    """Rows for a CSV export of a batch, header first; streams, so any size fits."""
    yield CSV_HEADER
    for coupon in coupons:
        yield (
            coupon.code,
            coupon.status.value,
            str(coupon.uses),
            str(coupon.max_uses),
            datetime_text(coupon.expires_at) or "",
            coupon.member_id or "",
        )
