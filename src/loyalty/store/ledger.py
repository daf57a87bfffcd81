"""Ledger entries, lots and allocations. Entries are only ever inserted.

Hot-path statements are built once with bind parameters: building SQLAlchemy statements per
call costs several times more than executing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.domain.ledger import Draw, LotStatus, OpenLot
from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store.tables import allocations, ledger_entries, lot_returns, lots, orders

_ENTRY_FIELDS = (
    "tenant_id",
    "member_id",
    "kind",
    "points",
    "available_delta",
    "pending_delta",
    "lifetime_delta",
    "lot_id",
    "order_pk",
    "refund_id",
    "event_pk",
    "reason",
    "actor",
    "rule_id",
    "rule_version",
    "meta",
    "occurred_at",
    "created_at",
)
_INSERT_ENTRY = RawStatement(
    f"INSERT INTO ledger_entries ({', '.join(_ENTRY_FIELDS)}) "
    f"VALUES ({', '.join(':' + f for f in _ENTRY_FIELDS)}) RETURNING id",
    json_params=("meta",),
)
_LOT_FIELDS = (
    "tenant_id",
    "member_id",
    "amount",
    "remaining",
    "status",
    "earned_at",
    "available_at",
    "expires_at",
)
_INSERT_LOT = RawStatement(
    f"INSERT INTO lots ({', '.join(_LOT_FIELDS)}) VALUES ({', '.join(':' + f for f in _LOT_FIELDS)}) "
    "RETURNING id"
)
_OPEN_LOTS = RawStatement(
    """SELECT id, remaining, expires_at FROM lots WHERE tenant_id = :tenant_id
    AND member_id = :member_id AND status = 'available' AND remaining > 0"""
)
_DRAW = RawStatement(
    """UPDATE lots SET remaining = remaining - :points
    WHERE id = :lot_id AND tenant_id = :tenant_id AND remaining >= :points"""
)
_INSERT_ALLOCATION = RawStatement(
    "INSERT INTO allocations (tenant_id, entry_id, lot_id, points) VALUES (:tenant_id, :entry_id, :lot_id, :points)"
)
_LOT = select(lots).where(
    lots.c.tenant_id == bindparam("tenant_id"), lots.c.id == bindparam("lot_id")
)
_EARN_LOT = select(ledger_entries.c.lot_id).where(
    ledger_entries.c.tenant_id == bindparam("tenant_id"),
    ledger_entries.c.order_pk == bindparam("order_pk"),
    ledger_entries.c.kind == "earn",
)


class EarnLot(NamedTuple):
    lot_id: int
    amount: int
    rule_id: int | None
    rule_version: int | None


class LedgerRepository:
    def __init__(self, conn: Connection, tenant_id: int, raw: RawRunner) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw

    def add_entry(self, **values: Any) -> int:
        params = dict.fromkeys(_ENTRY_FIELDS)
        params["lifetime_delta"] = 0
        params.update(values)
        params["tenant_id"] = self.tenant_id
        params["occurred_at"] = self.raw.time(params["occurred_at"])
        params["created_at"] = self.raw.time(params["created_at"])
        params["meta"] = self.raw.json(params["meta"])
        for name in ("kind",):
            params[name] = str(params[name])
        return int(self.raw.one(_INSERT_ENTRY, params)[0])

    def add_lot(
        self,
        *,
        member_id: int,
        amount: int,
        status: LotStatus,
        earned_at: datetime,
        available_at: datetime,
        expires_at: datetime | None,
    ) -> int:
        params = {
            "tenant_id": self.tenant_id,
            "member_id": member_id,
            "amount": amount,
            "remaining": amount,
            "status": status.value,
            "earned_at": self.raw.time(earned_at),
            "available_at": self.raw.time(available_at),
            "expires_at": self.raw.time(expires_at),
        }
        return int(self.raw.one(_INSERT_LOT, params)[0])

    def lot(self, lot_id: int) -> RowMapping | None:
        return (
            self.conn.execute(_LOT, {"tenant_id": self.tenant_id, "lot_id": lot_id})
            .mappings()
            .first()
        )

    def earn_lot_of_order(self, order_pk: int) -> int | None:
        params = {"tenant_id": self.tenant_id, "order_pk": order_pk}
        return self.conn.execute(_EARN_LOT, params).scalar()

    def earn_lots_of_order(self, order_pk: int) -> list[EarnLot]:
        """The lots an order earned into, one per earning rule, oldest first."""
        e = ledger_entries.c
        stmt = (
            select(e.lot_id, e.points, e.rule_id, e.rule_version)
            .where(e.tenant_id == self.tenant_id, e.order_pk == order_pk, e.kind == "earn")
            .order_by(e.id)
        )
        return [EarnLot(*row) for row in self.conn.execute(stmt)]

    def open_lots(self, member_id: int, *, exclude: int | None = None) -> list[OpenLot]:
        rows = self.raw.execute(_OPEN_LOTS, {"tenant_id": self.tenant_id, "member_id": member_id})
        return [
            OpenLot(lot_id, remaining, self.raw.read_time(expires_at))
            for lot_id, remaining, expires_at in rows.fetchall()
            if lot_id != exclude
        ]

    def draw(self, entry_id: int, draws: Iterable[Draw]) -> None:
        """Take points from lots (conditionally: a lot never goes below zero) and record it."""
        rows = []
        for d in draws:
            params = {"lot_id": d.lot_id, "tenant_id": self.tenant_id, "points": d.points}
            if self.raw.execute(_DRAW, params).rowcount != 1:
                raise RuntimeError(f"lot {d.lot_id} changed under a locked member")
            rows.append(
                {
                    "tenant_id": self.tenant_id,
                    "entry_id": entry_id,
                    "lot_id": d.lot_id,
                    "points": d.points,
                }
            )
        for row in rows:
            self.raw.execute(_INSERT_ALLOCATION, row)

    def drawn_by(self, entry_id: int) -> list[tuple[Draw, str]]:
        """What a spend entry drew, lot by lot, with each lot's current status."""
        stmt = (
            select(allocations.c.lot_id, allocations.c.points, lots.c.expires_at, lots.c.status)
            .join(lots, lots.c.id == allocations.c.lot_id)
            .where(allocations.c.tenant_id == self.tenant_id, allocations.c.entry_id == entry_id)
            .order_by(allocations.c.id)
        )
        return [(Draw(r.lot_id, r.points, r.expires_at), r.status) for r in self.conn.execute(stmt)]

    def was_returned(self, spend_entry_id: int) -> bool:
        stmt = select(lot_returns.c.id).where(
            lot_returns.c.tenant_id == self.tenant_id,
            lot_returns.c.spend_entry_id == spend_entry_id,
        )
        return self.conn.execute(stmt.limit(1)).first() is not None

    def give_back(self, entry_id: int, spend_entry_id: int, draws: Iterable[Draw]) -> None:
        """Put drawn points back into their lots and record it (the opposite of ``draw``)."""
        for d in draws:
            done = self.conn.execute(
                update(lots)
                .where(
                    lots.c.tenant_id == self.tenant_id,
                    lots.c.id == d.lot_id,
                    lots.c.remaining + d.points <= lots.c.amount,
                )
                .values(remaining=lots.c.remaining + d.points)
            ).rowcount
            if done != 1:
                raise RuntimeError(f"lot {d.lot_id} cannot take back {d.points} points")
            self.conn.execute(
                lot_returns.insert().values(
                    tenant_id=self.tenant_id,
                    entry_id=entry_id,
                    spend_entry_id=spend_entry_id,
                    lot_id=d.lot_id,
                    points=d.points,
                )
            )

    def entries_with_unsettled_debt(self, member_id: int) -> list[tuple[int, int]]:
        """Reverse entries whose allocations do not yet cover what they took, oldest first."""
        allocated = (
            select(func.coalesce(func.sum(allocations.c.points), 0))
            .where(allocations.c.entry_id == ledger_entries.c.id)
            .scalar_subquery()
        )
        owed = -(ledger_entries.c.available_delta + ledger_entries.c.pending_delta) - allocated
        stmt = (
            select(ledger_entries.c.id, owed.label("owed"))
            .where(
                ledger_entries.c.tenant_id == self.tenant_id,
                ledger_entries.c.member_id == member_id,
                ledger_entries.c.kind == "reverse",
                owed > 0,
            )
            .order_by(ledger_entries.c.id)
        )
        return [(r.id, r.owed) for r in self.conn.execute(stmt)]

    def entries(self, member_id: int, after: int | None, limit: int) -> list[RowMapping]:
        conditions = [
            ledger_entries.c.tenant_id == self.tenant_id,
            ledger_entries.c.member_id == member_id,
        ]
        if after:
            conditions.append(ledger_entries.c.id < after)
        stmt = (
            select(
                ledger_entries,
                lots.c.available_at,
                lots.c.expires_at,
                lots.c.status.label("lot_status"),
                orders.c.order_id.label("order_external_id"),
            )
            .outerjoin(lots, lots.c.id == ledger_entries.c.lot_id)
            .outerjoin(orders, orders.c.id == ledger_entries.c.order_pk)
            .where(*conditions)
            .order_by(ledger_entries.c.id.desc())
            .limit(limit)
        )
        return list(self.conn.execute(stmt).mappings())

    def expiring(
        self, member_id: int, now: datetime, until: datetime
    ) -> list[tuple[int, datetime]]:
        stmt = (
            select(func.sum(lots.c.remaining), lots.c.expires_at)
            .where(
                lots.c.tenant_id == self.tenant_id,
                lots.c.member_id == member_id,
                lots.c.status == LotStatus.AVAILABLE,
                lots.c.remaining > 0,
                lots.c.expires_at > now,
                lots.c.expires_at <= until,
            )
            .group_by(lots.c.expires_at)
            .order_by(lots.c.expires_at)
        )
        return [(int(points), expires_at) for points, expires_at in self.conn.execute(stmt)]
