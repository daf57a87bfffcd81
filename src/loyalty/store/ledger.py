"""Ledger entries, lots and allocations. Entries are only ever inserted."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.domain.ledger import Draw, LotStatus, OpenLot
from loyalty.store.tables import allocations, ledger_entries, lots, orders


class LedgerRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def add_entry(self, **values: Any) -> int:
        values.setdefault("lifetime_delta", 0)
        stmt = ledger_entries.insert().values(tenant_id=self.tenant_id, **values)
        return int(self.conn.execute(stmt.returning(ledger_entries.c.id)).scalar_one())

    def add_lot(self, **values: Any) -> int:
        stmt = lots.insert().values(tenant_id=self.tenant_id, remaining=values["amount"], **values)
        return int(self.conn.execute(stmt.returning(lots.c.id)).scalar_one())

    def link_lot(self, entry_id: int, lot_id: int) -> None:
        stmt = update(ledger_entries).where(ledger_entries.c.id == entry_id).values(lot_id=lot_id)
        self.conn.execute(stmt)

    def lot(self, lot_id: int) -> RowMapping | None:
        stmt = select(lots).where(lots.c.tenant_id == self.tenant_id, lots.c.id == lot_id)
        return self.conn.execute(stmt).mappings().first()

    def open_lots(self, member_id: int, *, exclude: int | None = None) -> list[OpenLot]:
        conditions = [
            lots.c.tenant_id == self.tenant_id,
            lots.c.member_id == member_id,
            lots.c.status == LotStatus.AVAILABLE,
            lots.c.remaining > 0,
        ]
        if exclude is not None:
            conditions.append(lots.c.id != exclude)
        stmt = select(lots.c.id, lots.c.remaining, lots.c.expires_at).where(and_(*conditions))
        return [OpenLot(r.id, r.remaining, r.expires_at) for r in self.conn.execute(stmt)]

    def draw(self, entry_id: int, draws: Iterable[Draw]) -> None:
        """Take points from lots (conditionally: a lot never goes below zero) and record it."""
        rows = []
        for d in draws:
            stmt = (
                update(lots)
                .where(
                    lots.c.id == d.lot_id,
                    lots.c.tenant_id == self.tenant_id,
                    lots.c.remaining >= d.points,
                )
                .values(remaining=lots.c.remaining - d.points)
            )
            if self.conn.execute(stmt).rowcount != 1:
                raise RuntimeError(f"lot {d.lot_id} changed under a locked member")
            rows.append(
                {
                    "tenant_id": self.tenant_id,
                    "entry_id": entry_id,
                    "lot_id": d.lot_id,
                    "points": d.points,
                }
            )
        if rows:
            self.conn.execute(allocations.insert(), rows)

    def allocations_of(self, entry_id: int) -> list[RowMapping]:
        stmt = (
            select(allocations.c.lot_id, allocations.c.points, lots.c.expires_at, lots.c.status)
            .join(lots, lots.c.id == allocations.c.lot_id)
            .where(allocations.c.tenant_id == self.tenant_id, allocations.c.entry_id == entry_id)
            .order_by(allocations.c.id)
        )
        return list(self.conn.execute(stmt).mappings())

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
