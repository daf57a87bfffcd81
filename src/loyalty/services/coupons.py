"""Coupon codes: look one up, use it for an order (once per order), expire the lapsed ones,
and issue campaign codes in batches with a CSV export."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import MemberNotFound
from loyalty.domain.rewards import (
    CouponBatch,
    CouponBatchExists,
    CouponBatchNotFound,
    CouponNotFound,
    CouponRefundPolicy,
    CouponReserved,
    IllegalCouponTransition,
    InvalidCouponBatch,
    cancel,
    coupon_promotion_id,
    csv_rows,
    expire,
    generate_codes,
    refund_use,
    release,
    release_lapsed,
    reserve,
    use,
)
from loyalty.services.outbox import emit
from loyalty.services.rewards import get_reward_model
from loyalty.store.coupons import CouponRepository, due_for_expiry, lapsed_holds, to_coupon
from loyalty.store.uow import Database, UnitOfWork

EXPIRY_CHUNK = 500


def get_coupon(uow: UnitOfWork, code: str) -> dict[str, Any]:
    row = _require(uow, code)
    view = coupon_view(uow, row)
    view["history"] = [
        {
            "from": h["from_status"],
            "to": h["to_status"],
            "action": h["action"],
            "detail": h["detail"],
            "at": h["created_at"].isoformat(),
        }
        for h in uow.coupons.history(row["id"])
    ]
    return view


def use_coupon(
    uow: UnitOfWork,
    code: str,
    order_id: str,
    member: str | None,
    now: datetime,
    *,
    checkout_id: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Spend one use of a code for ``order_id``; the same order again changes nothing.

    With ``checkout_id`` the use that checkout reserved is committed (honoured even if the
    code expired meanwhile). Returns (201, view) on first use and (200, view) when the order
    had used it already.
    """
    row = _require(uow, code, lock=True)
    if uow.coupons.use_for_order(row["id"], order_id) is not None:
        return 200, {**coupon_view(uow, row), "order_id": order_id}
    member_pk = _member_pk(uow, member)
    coupon = to_coupon(row, _batch_id(uow, row))
    member_uses = uow.coupons.member_uses(row, member_pk) if member_pk is not None else 0
    used = use(coupon, checkout_id, now, member_id=member, member_uses=member_uses)
    uow.coupons.save(row, used, "use", now, order_id=order_id)
    uow.coupons.add_use(row, member_pk, order_id, now)
    view = {**coupon_view(uow, _require(uow, code)), "order_id": order_id}
    emit(uow, "coupon.used", view["member"] or member, {"coupon": view}, now)
    return 201, view


def reserve_coupon(
    uow: UnitOfWork,
    code: str,
    checkout_id: str,
    until: datetime,
    member: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Hold one use of a code for a checkout until ``until`` (the same checkout again extends
    its hold); the last free use held makes the coupon ``reserved``."""
    row = _require(uow, code, lock=True)
    member_pk = _member_pk(uow, member)
    member_uses = uow.coupons.member_uses(row, member_pk) if member_pk is not None else 0
    coupon = to_coupon(row, _batch_id(uow, row))
    held = reserve(coupon, checkout_id, until, now, member_id=member, member_uses=member_uses)
    uow.coupons.save(row, held, "reserve", now, checkout_id=checkout_id)
    return coupon_view(uow, _require(uow, code))


def release_coupon(uow: UnitOfWork, code: str, checkout_id: str, now: datetime) -> dict[str, Any]:
    """Give back the use a checkout held (abandoned or cancelled checkout)."""
    row = _require(uow, code, lock=True)
    released = release(to_coupon(row, _batch_id(uow, row)), checkout_id, now)
    uow.coupons.save(row, released, "release", now, checkout_id=checkout_id)
    return coupon_view(uow, _require(uow, code))


def give_back_use(uow: UnitOfWork, code: str, note: str, now: datetime) -> bool:
    """The order that used the code was cancelled or refunded (and the programme gives codes
    back): the use comes back unless the coupon is final. False if there was none to give."""
    row = _require(uow, code, lock=True)
    if row["uses"] == 0:
        return False
    restored = refund_use(to_coupon(row), CouponRefundPolicy.RESTORE, now)
    if restored == to_coupon(row):
        return False
    uow.coupons.save(row, restored, "refund", now, note=note)
    return True


def issue_coupon(
    uow: UnitOfWork,
    code: str,
    *,
    member_pk: int,
    promotion_id: str | None,
    reward_id: str | None,
    now: datetime,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """Issue one single-use code to one member; issuing the same code again changes
    nothing (a retry), and the existing coupon is returned."""
    row = uow.coupons.get(code)
    if row is None:
        uow.coupons.add_many(
            [
                {
                    "code": code,
                    "member_id": member_pk,
                    "reward_id": reward_id,
                    "promotion_id": promotion_id,
                    "expires_at": expires_at,
                }
            ],
            now,
        )
        row = uow.coupons.get(code)
        assert row is not None
    return coupon_view(uow, row)


def withdraw_coupon(uow: UnitOfWork, code: str, reason: str, now: datetime) -> bool:
    """Cancel a coupon that was never used and no checkout holds now; False (left as it
    is) otherwise."""
    row = uow.coupons.get(code, lock=True)
    if row is None:
        return False
    try:
        cancelled = cancel(to_coupon(row), now, unused_only=True)
    except IllegalCouponTransition:
        return False
    uow.coupons.save(row, cancelled, "cancel", now, reason=reason)
    return True


def _member_pk(uow: UnitOfWork, member: str | None) -> int | None:
    if member is None:
        return None
    found = uow.members.get(member)
    if found is None:
        raise MemberNotFound(f"no member with external id '{member}'", field="member")
    return int(found["id"])


def coupon_view(uow: UnitOfWork, row: RowMapping) -> dict[str, Any]:
    return {
        "code": row["code"],
        "status": row["status"],
        "uses": row["uses"],
        "max_uses": row["max_uses"],
        "once_per_member": bool(row["once_per_member"]),
        "member": row["member_external_id"],
        "reward_id": row["reward_id"],
        "redemption_id": row["redemption_id"],
        "batch_id": _batch_id(uow, row),
        "promotion_id": row["promotion_id"],
        "issued_at": row["issued_at"].isoformat(),
        "expires_at": None if row["expires_at"] is None else row["expires_at"].isoformat(),
    }


def _require(uow: UnitOfWork, code: str, *, lock: bool = False) -> RowMapping:
    row = uow.coupons.get(code.strip().upper(), lock=lock)
    if row is None:
        raise CouponNotFound(f"no coupon with code '{code}'", field="code")
    return row


def _batch_id(uow: UnitOfWork, row: RowMapping) -> str | None:
    if row["batch_pk"] is None:
        return None
    batch = uow.coupons.batch_by_pk(row["batch_pk"])
    return None if batch is None else str(batch["batch_id"])


# --- expiry (a job) -------------------------------------------------------------------------


def expire_due_coupons(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """Mark every coupon past its expiry date as expired; a live checkout hold defers one.

    Holds whose checkout lapsed are dropped first, so a lapsed reservation never blocks a
    code. Idempotent and catch-up safe: a run finds what is due by status and date.
    """
    _drop_lapsed_holds(db, now, tenant_id)
    expired = 0
    after = 0
    while True:
        with db.begin() as conn:
            rows = due_for_expiry(conn, now, after, EXPIRY_CHUNK)
            for row in rows:
                if tenant_id is not None and row["tenant_id"] != tenant_id:
                    continue
                try:
                    coupon = expire(to_coupon(row), now)
                except CouponReserved:
                    continue
                CouponRepository(conn, row["tenant_id"]).save(row, coupon, "expire", now)
                expired += 1
        if len(rows) < EXPIRY_CHUNK:
            return expired
        after = rows[-1]["id"]


def _drop_lapsed_holds(db: Database, now: datetime, tenant_id: int | None) -> None:
    after = 0
    while True:
        with db.begin() as conn:
            rows = lapsed_holds(conn, after, EXPIRY_CHUNK)
            for row in rows:
                if tenant_id is not None and row["tenant_id"] != tenant_id:
                    continue
                coupon = to_coupon(row)
                settled = release_lapsed(coupon, now)
                if settled != coupon:
                    CouponRepository(conn, row["tenant_id"]).save(row, settled, "release", now)
        if len(rows) < EXPIRY_CHUNK:
            return
        after = rows[-1]["id"]


# --- batches --------------------------------------------------------------------------------


def create_batch(uow: UnitOfWork, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Issue ``count`` codes at once; codes never collide with any code of the tenant."""
    batch = CouponBatch.from_dict({"id": f"cb_{secrets.token_hex(6)}", **data})
    promotion_id = batch.promotion_id
    if batch.reward_id is not None:
        promotion_id = coupon_promotion_id(get_reward_model(uow, batch.reward_id))
        if promotion_id is None:
            raise InvalidCouponBatch(
                "batch codes can hand out only rewards that are checkout coupons",
                field="reward_id",
            )
    pk = uow.coupons.add_batch(batch.id, batch.to_dict(), batch.count, now)
    if pk is None:
        raise CouponBatchExists(f"a coupon batch with id '{batch.id}' exists", field="id")
    codes = _unused_codes(uow, batch)
    uow.coupons.add_many(
        [
            {
                "code": code,
                "batch_pk": pk,
                "reward_id": batch.reward_id,
                "promotion_id": promotion_id,
                "max_uses": batch.max_uses,
                "once_per_member": int(batch.once_per_member),
                "expires_at": batch.expires_at,
            }
            for code in codes
        ],
        now,
    )
    return batch_view(_require_batch(uow, batch.id))


def _unused_codes(uow: UnitOfWork, batch: CouponBatch) -> list[str]:
    random = secrets.SystemRandom()
    codes = generate_codes(batch.count, random, batch.pattern)
    while taken := uow.coupons.taken(codes):
        kept = [c for c in codes if c not in taken]
        codes = kept + generate_codes(len(taken), random, batch.pattern, taken=set(codes))
    return codes


def list_batches(
    uow: UnitOfWork, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    rows = uow.coupons.batches(after, limit + 1)
    last = rows[limit - 1]["id"] if len(rows) > limit else None
    rows = rows[:limit]
    return [batch_view(r) for r in rows], last


def get_batch(uow: UnitOfWork, batch_id: str) -> dict[str, Any]:
    return batch_view(_require_batch(uow, batch_id))


def batch_csv(uow: UnitOfWork, batch_id: str) -> str:
    """The batch's codes as CSV (header first), for printing or a mailing."""
    row = _require_batch(uow, batch_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    coupons = (to_coupon(r, batch_id) for r in uow.coupons.of_batch(row["id"]))
    writer.writerows(csv_rows(coupons))
    return out.getvalue()


def batch_view(row: RowMapping) -> dict[str, Any]:
    return {**row["data"], "created_at": row["created_at"].isoformat()}


def _require_batch(uow: UnitOfWork, batch_id: str) -> RowMapping:
    row = uow.coupons.batch(batch_id)
    if row is None:
        raise CouponBatchNotFound(f"no coupon batch with id '{batch_id}'", field="batch_id")
    return row
