"""Coupon batches: validation, unique codes, CSV rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from loyalty.domain.errors import ErrorCode
from loyalty.domain.rewards import (
    CSV_HEADER,
    MAX_BATCH_COUNT,
    CouponBatch,
    CouponBatchTooLarge,
    CouponStatus,
    InvalidCodePattern,
    InvalidCouponBatch,
    csv_rows,
    issue_batch,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _batch(**data: object) -> CouponBatch:
    return CouponBatch.from_dict({"id": "spring", "count": 5, "promotion_id": "p1", **data})


def test_a_batch_issues_distinct_codes_with_its_prefix() -> None:
    batch = _batch(prefix="spring", max_uses=3, once_per_member=True)
    coupons = issue_batch(batch, random.Random(7), NOW, taken={"X"})
    assert len({c.code for c in coupons}) == 5
    assert all(c.code.startswith("SPRING-") for c in coupons)
    assert all(c.max_uses == 3 and c.once_per_member and c.batch_id == "spring" for c in coupons)
    assert all(c.status is CouponStatus.ISSUED for c in coupons)


def test_a_pattern_is_used_as_written() -> None:
    batch = _batch(pattern="vip-############")
    (coupon, *_) = issue_batch(batch, random.Random(1), NOW)
    assert coupon.code.startswith("VIP-") and len(coupon.code) == 16


@pytest.mark.parametrize(
    ("data", "error", "field"),
    [
        ({"count": 0}, InvalidCouponBatch, "count"),
        ({"max_uses": 0}, InvalidCouponBatch, "max_uses"),
        ({"reward_id": "r"}, InvalidCouponBatch, "promotion_id"),
        ({"pattern": "A-####", "prefix": "B"}, InvalidCouponBatch, "prefix"),
        ({"pattern": "SHORT-####"}, InvalidCodePattern, "pattern"),
        ({"prefix": "bad prefix!"}, InvalidCodePattern, "prefix"),
        ({"expires_at": "2026-04-01T00:00:00"}, InvalidCouponBatch, "expires_at"),
        ({"colour": "red"}, InvalidCouponBatch, "colour"),
    ],
)
def test_bad_batches_are_refused_with_the_field(
    data: dict[str, object], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as caught:
        _batch(**data)
    assert getattr(caught.value, "field") == field  # noqa: B009


def test_too_many_codes_is_its_own_error() -> None:
    with pytest.raises(CouponBatchTooLarge) as caught:
        _batch(count=MAX_BATCH_COUNT + 1)
    assert caught.value.code is ErrorCode.BATCH_TOO_LARGE


def test_csv_rows_start_with_the_header() -> None:
    batch = _batch(count=2, expires_at="2026-04-01T00:00:00+00:00")
    rows = list(csv_rows(issue_batch(batch, random.Random(3), NOW)))
    assert rows[0] == CSV_HEADER
    assert [r[1:5] for r in rows[1:]] == [("issued", "0", "1", "2026-04-01T00:00:00+00:00")] * 2
