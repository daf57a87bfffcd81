"""The coupon lifecycle: issued -> reserved -> used, with release, expiry, cancel and refund.

A coupon may be used ``max_uses`` times (1: single use). A checkout reserves one use with a
``Hold`` (checkout id, until); ``use`` commits the hold when the order is paid, ``release``
gives it back when the checkout is abandoned. A hold whose ``until`` has passed no longer
counts, so a lapsed checkout never blocks a code even before a job tidies it away.

``status`` is the coupon's state as of its last transition:

- ``issued``: at least one use is free;
- ``reserved``: every free use is held by a checkout;
- ``used``: every use is spent;
- ``expired``, ``cancelled``: final.

Every transition is a pure function returning a new ``Coupon``; an action the state does not
allow raises a typed ``IllegalCouponTransition``. A refund gives a use back when the
programme's ``CouponRefundPolicy`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from loyalty.domain.rewards.errors import (
    CouponCancelled,
    CouponExpired,
    CouponMemberRequired,
    CouponNotExpired,
    CouponNotOwned,
    CouponNotReserved,
    CouponReserved,
    CouponUsed,
    CouponUsedByMember,
    IllegalCouponTransition,
)


class CouponStatus(StrEnum):
    ISSUED = "issued"
    RESERVED = "reserved"
    USED = "used"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


FINAL = frozenset({CouponStatus.EXPIRED, CouponStatus.CANCELLED})


class CouponRefundPolicy(StrEnum):
    """What a refunded order does to the coupon it used."""

    RESTORE = "restore"  # the use comes back: the code works again
    KEEP_USED = "keep_used"  # the use stays spent


class CouponRefusal(StrEnum):
    """Why a coupon cannot be used now; equal to the ``reason`` of the matching error."""

    EXPIRED = "coupon_expired"
    USED = "coupon_used"
    CANCELLED = "coupon_cancelled"
    RESERVED = "coupon_reserved"
    NOT_OWNED = "coupon_not_owned"
    MEMBER_REQUIRED = "coupon_member_required"
    USED_BY_MEMBER = "coupon_used_by_member"


_ERRORS: dict[CouponRefusal, type[IllegalCouponTransition]] = {
    CouponRefusal.EXPIRED: CouponExpired,
    CouponRefusal.USED: CouponUsed,
    CouponRefusal.CANCELLED: CouponCancelled,
    CouponRefusal.RESERVED: CouponReserved,
    CouponRefusal.NOT_OWNED: CouponNotOwned,
    CouponRefusal.MEMBER_REQUIRED: CouponMemberRequired,
    CouponRefusal.USED_BY_MEMBER: CouponUsedByMember,
}

_MESSAGES: dict[CouponRefusal, str] = {
    CouponRefusal.EXPIRED: "has expired",
    CouponRefusal.USED: "has been used",
    CouponRefusal.CANCELLED: "has been cancelled",
    CouponRefusal.RESERVED: "is held by another checkout",
    CouponRefusal.NOT_OWNED: "belongs to another member",
    CouponRefusal.MEMBER_REQUIRED: "can be used only by a signed-in member",
    CouponRefusal.USED_BY_MEMBER: "can be used once per member and this member has used it",
}


@dataclass(frozen=True, slots=True)
class Hold:
    checkout_id: str
    until: datetime

    def active(self, now: datetime) -> bool:
        return now < self.until


@dataclass(frozen=True, slots=True)
class Coupon:
    """One code. ``member_id``: its owner (None: anyone who has the code). ``once_per_member``:
    a member may use it (or, for a batch, any code of the batch) once. ``promotion_id`` is
    what it is worth at checkout; ``reward_id`` and ``batch_id`` say where it came from."""

    code: str
    issued_at: datetime
    expires_at: datetime | None = None
    max_uses: int = 1
    uses: int = 0
    once_per_member: bool = False
    member_id: str | None = None
    promotion_id: str | None = None
    reward_id: str | None = None
    batch_id: str | None = None
    status: CouponStatus = CouponStatus.ISSUED
    holds: tuple[Hold, ...] = ()

    def __post_init__(self) -> None:
        if not self.code:
            raise ValueError("a coupon needs a code")
        if self.max_uses < 1:
            raise ValueError("max_uses must be at least 1")
        if not 0 <= self.uses <= self.max_uses:
            raise ValueError("uses must be between 0 and max_uses")

    def active_holds(self, now: datetime) -> tuple[Hold, ...]:
        return tuple(hold for hold in self.holds if hold.active(now))

    def held_by(self, checkout_id: str, now: datetime) -> bool:
        return any(hold.checkout_id == checkout_id for hold in self.active_holds(now))

    def free_uses(self, now: datetime) -> int:
        """Uses neither spent nor held by a live checkout."""
        return self.max_uses - self.uses - len(self.active_holds(now))

    def is_past_expiry(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def check_coupon(
    coupon: Coupon,
    now: datetime,
    *,
    member_id: str | None = None,
    member_uses: int = 0,
    checkout_id: str | None = None,
) -> CouponRefusal | None:
    """Why ``member_id`` cannot use the coupon in ``checkout_id`` now, or None if they can.

    ``member_uses``: the member's uses of this coupon, or of any coupon of its batch. A live
    hold by ``checkout_id`` is honoured even if the coupon expired after it was taken.
    """
    if coupon.status is CouponStatus.CANCELLED:
        return CouponRefusal.CANCELLED
    if checkout_id is not None and coupon.held_by(checkout_id, now):
        return None
    if coupon.status is CouponStatus.EXPIRED or coupon.is_past_expiry(now):
        return CouponRefusal.EXPIRED
    if coupon.member_id is not None and member_id != coupon.member_id:
        return CouponRefusal.NOT_OWNED
    if coupon.once_per_member:
        if member_id is None:
            return CouponRefusal.MEMBER_REQUIRED
        if member_uses > 0:
            return CouponRefusal.USED_BY_MEMBER
    if coupon.uses >= coupon.max_uses:
        return CouponRefusal.USED
    if coupon.free_uses(now) <= 0:
        return CouponRefusal.RESERVED
    return None


def reserve(
    coupon: Coupon,
    checkout_id: str,
    until: datetime,
    now: datetime,
    *,
    member_id: str | None = None,
    member_uses: int = 0,
) -> Coupon:
    """Hold one use for ``checkout_id`` until ``until``; again by the same checkout: extend."""
    if until <= now:
        raise ValueError("a hold must end after now")
    refusal = check_coupon(
        coupon, now, member_id=member_id, member_uses=member_uses, checkout_id=checkout_id
    )
    if refusal is not None:
        raise _error(coupon, refusal, "reserve")
    others = tuple(h for h in coupon.active_holds(now) if h.checkout_id != checkout_id)
    return _settle(replace(coupon, holds=(*others, Hold(checkout_id, until))), now)


def use(
    coupon: Coupon,
    checkout_id: str | None,
    now: datetime,
    *,
    member_id: str | None = None,
    member_uses: int = 0,
) -> Coupon:
    """Spend one use: the checkout's hold if it has one, else a free use (an order that
    arrives without a prior reservation)."""
    if checkout_id is not None and coupon.held_by(checkout_id, now):
        holds = tuple(h for h in coupon.holds if h.checkout_id != checkout_id)
        return _settle(replace(coupon, holds=holds, uses=coupon.uses + 1), now)
    refusal = check_coupon(coupon, now, member_id=member_id, member_uses=member_uses)
    if refusal is not None:
        raise _error(coupon, refusal, "use")
    return _settle(replace(coupon, uses=coupon.uses + 1), now)


def release(coupon: Coupon, checkout_id: str, now: datetime) -> Coupon:
    """Give back the use ``checkout_id`` holds (live or lapsed): the checkout was abandoned."""
    if not any(hold.checkout_id == checkout_id for hold in coupon.holds):
        raise CouponNotReserved(
            f"coupon '{coupon.code}' is not reserved by checkout '{checkout_id}'",
            field="checkout_id",
            **_data(coupon, "release"),
        )
    holds = tuple(h for h in coupon.holds if h.checkout_id != checkout_id)
    return _settle(replace(coupon, holds=holds), now)


def release_lapsed(coupon: Coupon, now: datetime) -> Coupon:
    """Drop holds whose time has passed (the reservation TTL job); never raises."""
    if coupon.status in FINAL:
        return coupon
    return _settle(replace(coupon, holds=coupon.active_holds(now)), now)


def expire(coupon: Coupon, now: datetime) -> Coupon:
    """Mark a coupon past its expiry as expired (the expiry job). A live hold defers it."""
    _refuse_final_or_used(coupon, "expire")
    if not coupon.is_past_expiry(now):
        raise CouponNotExpired(
            f"coupon '{coupon.code}' is valid until {_when(coupon.expires_at)}",
            **_data(coupon, "expire"),
        )
    _refuse_live_holds(coupon, now, "expire")
    return replace(coupon, status=CouponStatus.EXPIRED, holds=())


def cancel(coupon: Coupon, now: datetime, *, unused_only: bool = False) -> Coupon:
    """Withdraw the coupon. ``unused_only``: refuse if it was ever used (cancelling a
    redemption gives the points back only while the code is untouched)."""
    _refuse_final_or_used(coupon, "cancel")
    _refuse_live_holds(coupon, now, "cancel")
    if unused_only and coupon.uses > 0:
        raise CouponUsed(
            f"coupon '{coupon.code}' has been used {coupon.uses} time(s)",
            **_data(coupon, "cancel"),
        )
    return replace(coupon, status=CouponStatus.CANCELLED, holds=())


def refund_use(coupon: Coupon, policy: CouponRefundPolicy, now: datetime) -> Coupon:
    """An order that used the coupon was refunded: give the use back if ``policy`` says so.

    A cancelled or expired coupon stays as it is (there is nothing to give back to); a coupon
    restored after its expiry date is left for the expiry job like any other.
    """
    if coupon.uses == 0:
        raise IllegalCouponTransition(
            f"coupon '{coupon.code}' has no use to refund", **_data(coupon, "refund")
        )
    if policy is CouponRefundPolicy.KEEP_USED or coupon.status in FINAL:
        return coupon
    return _settle(replace(coupon, uses=coupon.uses - 1), now)


def _settle(coupon: Coupon, now: datetime) -> Coupon:
    """The status that follows from the uses and the live holds."""
    if coupon.status in FINAL:
        return coupon
    if coupon.uses >= coupon.max_uses:
        status = CouponStatus.USED
    elif coupon.free_uses(now) <= 0:
        status = CouponStatus.RESERVED
    else:
        status = CouponStatus.ISSUED
    return coupon if status is coupon.status else replace(coupon, status=status)


def _refuse_final_or_used(coupon: Coupon, action: str) -> None:
    refusal = {
        CouponStatus.CANCELLED: CouponRefusal.CANCELLED,
        CouponStatus.EXPIRED: CouponRefusal.EXPIRED,
        CouponStatus.USED: CouponRefusal.USED,
    }.get(coupon.status)
    if refusal is not None:
        raise _error(coupon, refusal, action)


def _refuse_live_holds(coupon: Coupon, now: datetime, action: str) -> None:
    holds = coupon.active_holds(now)
    if holds:
        raise CouponReserved(
            f"coupon '{coupon.code}' is held by checkout '{holds[0].checkout_id}' "
            f"until {holds[0].until.isoformat()}",
            **_data(coupon, action),
        )


def _error(coupon: Coupon, refusal: CouponRefusal, action: str) -> IllegalCouponTransition:
    return _ERRORS[refusal](
        f"coupon '{coupon.code}' {_MESSAGES[refusal]}", field="code", **_data(coupon, action)
    )


def _data(coupon: Coupon, action: str) -> dict[str, str]:
    # not "code" or "status": the problem+json body uses those names for its own fields
    return {"coupon_code": coupon.code, "coupon_status": coupon.status.value, "action": action}


def _when(moment: datetime | None) -> str:
    return "forever" if moment is None else moment.isoformat()
