"""The coupon lifecycle: issued -> reserved -> used, release, expiry, cancel and refund."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from loyalty.domain.errors import ErrorCode
from loyalty.domain.rewards import (
    Coupon,
    CouponCancelled,
    CouponExpired,
    CouponMemberRequired,
    CouponNotExpired,
    CouponNotOwned,
    CouponNotReserved,
    CouponRefundPolicy,
    CouponRefusal,
    CouponReserved,
    CouponStatus,
    CouponUsed,
    CouponUsedByMember,
    IllegalCouponTransition,
    cancel,
    check_coupon,
    expire,
    refund_use,
    release,
    release_lapsed,
    reserve,
    use,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=15)


def _coupon(**overrides: object) -> Coupon:
    values: dict[str, object] = {"code": "ABCD-EFGH-JKLM", "issued_at": NOW}
    values.update(overrides)
    return Coupon(**values)  # type: ignore[arg-type]


def test_a_single_use_coupon_is_used_once() -> None:
    # given
    coupon = _coupon()
    # when
    used = use(coupon, None, NOW)
    # then
    assert used.status is CouponStatus.USED and used.uses == 1
    with pytest.raises(CouponUsed) as caught:
        use(used, None, NOW)
    assert caught.value.code is ErrorCode.COUPON_NOT_USABLE
    assert caught.value.data["reason"] == "coupon_used"


def test_a_reservation_holds_the_last_use_until_committed_or_released() -> None:
    coupon = reserve(_coupon(), "checkout-1", LATER, NOW)
    assert coupon.status is CouponStatus.RESERVED
    with pytest.raises(CouponReserved):
        reserve(coupon, "checkout-2", LATER, NOW)

    assert use(coupon, "checkout-1", NOW).status is CouponStatus.USED
    released = release(coupon, "checkout-1", NOW)
    assert released.status is CouponStatus.ISSUED and released.holds == ()
    with pytest.raises(CouponNotReserved):
        release(released, "checkout-1", NOW)


def test_a_lapsed_hold_no_longer_blocks_the_code() -> None:
    coupon = reserve(_coupon(), "checkout-1", LATER, NOW)
    after = LATER + timedelta(seconds=1)
    assert check_coupon(coupon, after) is None
    assert release_lapsed(coupon, after).status is CouponStatus.ISSUED


def test_a_multi_use_coupon_counts_its_uses() -> None:
    coupon = _coupon(max_uses=3)
    for _ in range(2):
        coupon = use(coupon, None, NOW)
    assert coupon.status is CouponStatus.ISSUED and coupon.free_uses(NOW) == 1
    assert use(coupon, None, NOW).status is CouponStatus.USED


def test_ownership_and_once_per_member() -> None:
    mine = _coupon(member_id="alice")
    assert check_coupon(mine, NOW, member_id="bob") is CouponRefusal.NOT_OWNED
    with pytest.raises(CouponNotOwned):
        use(mine, None, NOW, member_id="bob")
    shared = _coupon(max_uses=100, once_per_member=True)
    with pytest.raises(CouponMemberRequired):
        use(shared, None, NOW)
    with pytest.raises(CouponUsedByMember):
        use(shared, None, NOW, member_id="alice", member_uses=1)
    assert use(shared, None, NOW, member_id="bob").uses == 1


def test_expiry_only_after_the_date_and_not_while_held() -> None:
    coupon = _coupon(expires_at=LATER)
    with pytest.raises(CouponNotExpired):
        expire(coupon, NOW)
    with pytest.raises(CouponExpired):
        use(coupon, None, LATER)
    expired = expire(coupon, LATER)
    assert expired.status is CouponStatus.EXPIRED
    held = reserve(_coupon(expires_at=LATER), "c", LATER + timedelta(minutes=5), NOW)
    with pytest.raises(CouponReserved):
        expire(held, LATER)
    # the checkout holding it may still commit after the date
    assert use(held, "c", LATER).status is CouponStatus.USED


def test_cancel_unused_only_refuses_a_used_code() -> None:
    coupon = use(_coupon(max_uses=2), None, NOW)
    with pytest.raises(CouponUsed):
        cancel(coupon, NOW, unused_only=True)
    cancelled = cancel(coupon, NOW)
    assert cancelled.status is CouponStatus.CANCELLED
    with pytest.raises(CouponCancelled):
        use(cancelled, None, NOW)
    with pytest.raises(CouponCancelled):
        cancel(cancelled, NOW)


def test_refund_restores_a_use_only_under_the_restore_policy() -> None:
    used = use(_coupon(), None, NOW)
    assert refund_use(used, CouponRefundPolicy.KEEP_USED, NOW) == used
    restored = refund_use(used, CouponRefundPolicy.RESTORE, NOW)
    assert restored.status is CouponStatus.ISSUED and restored.uses == 0
    with pytest.raises(IllegalCouponTransition):
        refund_use(restored, CouponRefundPolicy.RESTORE, NOW)


def test_a_coupon_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError):
        _coupon(max_uses=0)
    with pytest.raises(ValueError):
        _coupon(uses=2)
    with pytest.raises(ValueError):
        _coupon(code="")
