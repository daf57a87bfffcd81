"""Coupon codes, their uses and status history, and the batches that issue them in bulk.

"issued" is a coupon row's ``issued_at``; every later status change adds a history row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.domain.rewards import Coupon, CouponStatus, Hold
from loyalty.store.tables import (
    coupon_batches,
    coupon_status_history,
    coupon_uses,
    coupons,
    members,
)

_CHUNK = 1_000
_COUPON_COLUMNS = (*coupons.c, members.c.external_id.label("member_external_id"))
_MANY = (  # built once: checkout looks entered codes up on every evaluation
    select(*_COUPON_COLUMNS)
    .outerjoin(members, members.c.id == coupons.c.member_id)
    .where(
        coupons.c.tenant_id == bindparam("tenant_id"),
        coupons.c.code.in_(bindparam("codes", expanding=True)),
    )
)


def to_coupon(row: RowMapping, batch_id: str | None = None) -> Coupon:
    """The domain coupon of a stored row (joined with its owner's external id)."""
    return Coupon(
        code=row["code"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        max_uses=row["max_uses"],
        uses=row["uses"],
        once_per_member=bool(row["once_per_member"]),
        member_id=row["member_external_id"],
        promotion_id=row["promotion_id"],
        reward_id=row["reward_id"],
        batch_id=batch_id,
        status=CouponStatus(row["status"]),
        holds=tuple(
            Hold(h["checkout_id"], datetime.fromisoformat(h["until"])) for h in row["holds"]
        ),
    )


def holds_json(coupon: Coupon) -> list[dict[str, str]]:
    return [{"checkout_id": h.checkout_id, "until": h.until.isoformat()} for h in coupon.holds]


class CouponRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def taken(self, codes: Iterable[str]) -> set[str]:
        """Which of ``codes`` exist already in this tenant."""
        found: set[str] = set()
        batch = list(codes)
        for start in range(0, len(batch), _CHUNK):
            chunk = batch[start : start + _CHUNK]
            found.update(
                self.conn.execute(
                    select(coupons.c.code).where(
                        coupons.c.tenant_id == self.tenant_id, coupons.c.code.in_(chunk)
                    )
                ).scalars()
            )
        return found

    def add_many(self, rows: list[dict[str, Any]], now: datetime) -> None:
        values = [
            {
                "tenant_id": self.tenant_id,
                "status": CouponStatus.ISSUED.value,
                "member_id": None,
                "reward_id": None,
                "redemption_id": None,
                "batch_pk": None,
                "promotion_id": None,
                "max_uses": 1,
                "uses": 0,
                "once_per_member": 0,
                "holds": [],
                "expires_at": None,
                "issued_at": now,
                "updated_at": now,
                **row,
            }
            for row in rows
        ]
        for start in range(0, len(values), _CHUNK):
            self.conn.execute(insert(coupons), values[start : start + _CHUNK])

    def get(self, code: str, *, lock: bool = False) -> RowMapping | None:
        stmt = (
            select(*_COUPON_COLUMNS)
            .outerjoin(members, members.c.id == coupons.c.member_id)
            .where(coupons.c.tenant_id == self.tenant_id, coupons.c.code == code)
        )
        if lock and self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=coupons)
        return self.conn.execute(stmt).mappings().first()

    def get_many(self, codes: Iterable[str]) -> dict[str, RowMapping]:
        """code -> row (with the owner's external id) of the given codes that exist."""
        wanted = list(codes)
        if not wanted:
            return {}
        rows = self.conn.execute(_MANY, {"tenant_id": self.tenant_id, "codes": wanted})
        return {row["code"]: row for row in rows.mappings()}

    def save(
        self, row: RowMapping, coupon: Coupon, action: str, now: datetime, **detail: Any
    ) -> None:
        """Store the coupon's new state; a status change writes a history row."""
        self.conn.execute(
            update(coupons)
            .where(coupons.c.tenant_id == self.tenant_id, coupons.c.id == row["id"])
            .values(
                status=coupon.status.value,
                uses=coupon.uses,
                holds=holds_json(coupon),
                updated_at=now,
            )
        )
        if coupon.status.value != row["status"]:
            self.add_history([(row["id"], row["status"], coupon.status.value)], action, now, detail)

    def add_history(
        self,
        changes: list[tuple[int, str | None, str]],
        action: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        if changes:
            self.conn.execute(
                insert(coupon_status_history),
                [
                    {
                        "tenant_id": self.tenant_id,
                        "coupon_id": pk,
                        "from_status": old,
                        "to_status": new,
                        "action": action,
                        "detail": detail or None,
                        "created_at": now,
                    }
                    for pk, old, new in changes
                ],
            )

    def history(self, coupon_pk: int) -> list[RowMapping]:
        stmt = (
            select(coupon_status_history)
            .where(
                coupon_status_history.c.tenant_id == self.tenant_id,
                coupon_status_history.c.coupon_id == coupon_pk,
            )
            .order_by(coupon_status_history.c.id)
        )
        return list(self.conn.execute(stmt).mappings())

    def use_for_order(self, coupon_pk: int, order_id: str) -> RowMapping | None:
        stmt = select(coupon_uses).where(
            coupon_uses.c.tenant_id == self.tenant_id,
            coupon_uses.c.coupon_id == coupon_pk,
            coupon_uses.c.order_id == order_id,
        )
        return self.conn.execute(stmt).mappings().first()

    def add_use(self, row: RowMapping, member_id: int | None, order_id: str, now: datetime) -> None:
        self.conn.execute(
            insert(coupon_uses).values(
                tenant_id=self.tenant_id,
                coupon_id=row["id"],
                batch_pk=row["batch_pk"],
                member_id=member_id,
                order_id=order_id,
                used_at=now,
            )
        )

    def member_uses(self, row: RowMapping, member_id: int) -> int:
        """The member's uses of this coupon or, for a batch code, of any code of its batch."""
        match = (
            coupon_uses.c.batch_pk == row["batch_pk"]
            if row["batch_pk"] is not None
            else coupon_uses.c.coupon_id == row["id"]
        )
        stmt = select(func.count()).where(
            coupon_uses.c.tenant_id == self.tenant_id, coupon_uses.c.member_id == member_id, match
        )
        return int(self.conn.execute(stmt).scalar_one())

    def of_batch(self, batch_pk: int) -> Iterator[RowMapping]:
        """Every code of a batch in id order, read a chunk at a time."""
        after = 0
        while True:
            stmt = (
                select(*_COUPON_COLUMNS)
                .outerjoin(members, members.c.id == coupons.c.member_id)
                .where(
                    coupons.c.tenant_id == self.tenant_id,
                    coupons.c.batch_pk == batch_pk,
                    coupons.c.id > after,
                )
                .order_by(coupons.c.id)
                .limit(_CHUNK)
            )
            rows = list(self.conn.execute(stmt).mappings())
            yield from rows
            if len(rows) < _CHUNK:
                return
            after = rows[-1]["id"]

    def add_batch(
        self, batch_id: str, data: dict[str, Any], count: int, now: datetime
    ) -> int | None:
        """Insert a batch row; None if the id is taken."""
        if self.batch(batch_id) is not None:
            return None
        stmt = insert(coupon_batches).values(
            tenant_id=self.tenant_id, batch_id=batch_id, data=data, count=count, created_at=now
        )
        return int(self.conn.execute(stmt.returning(coupon_batches.c.id)).scalar_one())

    def batch(self, batch_id: str) -> RowMapping | None:
        stmt = select(coupon_batches).where(
            coupon_batches.c.tenant_id == self.tenant_id, coupon_batches.c.batch_id == batch_id
        )
        return self.conn.execute(stmt).mappings().first()

    def batch_by_pk(self, pk: int) -> RowMapping | None:
        stmt = select(coupon_batches).where(
            coupon_batches.c.tenant_id == self.tenant_id, coupon_batches.c.id == pk
        )
        return self.conn.execute(stmt).mappings().first()

    def batches(self, after: int | None, limit: int) -> list[RowMapping]:
        stmt = select(coupon_batches).where(coupon_batches.c.tenant_id == self.tenant_id)
        if after:
            stmt = stmt.where(coupon_batches.c.id > after)
        return list(self.conn.execute(stmt.order_by(coupon_batches.c.id).limit(limit)).mappings())


def due_for_expiry(conn: Connection, now: datetime, after: int, limit: int) -> list[RowMapping]:
    """Coupons of any tenant whose expiry date has passed and that are not yet final."""
    stmt = (
        select(*_COUPON_COLUMNS)
        .outerjoin(members, members.c.id == coupons.c.member_id)
        .where(
            coupons.c.status.in_((CouponStatus.ISSUED.value, CouponStatus.RESERVED.value)),
            and_(coupons.c.expires_at.is_not(None), coupons.c.expires_at <= now),
            coupons.c.id > after,
        )
        .order_by(coupons.c.id)
        .limit(limit)
    )
    return list(conn.execute(stmt).mappings())


def lapsed_holds(conn: Connection, after: int, limit: int) -> list[RowMapping]:
    """Reserved coupons of any tenant (few: a checkout holds a code for minutes)."""
    stmt = (
        select(*_COUPON_COLUMNS)
        .outerjoin(members, members.c.id == coupons.c.member_id)
        .where(coupons.c.status == CouponStatus.RESERVED.value, coupons.c.id > after)
        .order_by(coupons.c.id)
        .limit(limit)
    )
    return list(conn.execute(stmt).mappings())
