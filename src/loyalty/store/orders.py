"""Orders and refunds as recorded for the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._upsert import insert_if_absent
from loyalty.store.tables import orders, refunds


class OrderRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._lock = conn.dialect.name == "postgresql"

    def get(self, order_id: str, *, lock: bool = False) -> RowMapping | None:
        stmt = select(orders).where(
            orders.c.tenant_id == self.tenant_id, orders.c.order_id == order_id
        )
        if lock and self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def exists(self) -> bool:
        stmt = select(orders.c.id).where(orders.c.tenant_id == self.tenant_id).limit(1)
        return self.conn.execute(stmt).first() is not None

    def add(self, **values: Any) -> int | None:
        """Insert an order; None if the store already sent this order id."""
        return insert_if_absent(self.conn, orders, {"tenant_id": self.tenant_id, **values})

    def update(self, order_pk: int, **values: Any) -> None:
        stmt = update(orders).where(orders.c.tenant_id == self.tenant_id, orders.c.id == order_pk)
        self.conn.execute(stmt.values(**values))

    def get_refund(self, order_pk: int, refund_id: str) -> RowMapping | None:
        stmt = select(refunds).where(
            refunds.c.tenant_id == self.tenant_id,
            refunds.c.order_pk == order_pk,
            refunds.c.refund_id == refund_id,
        )
        return self.conn.execute(stmt).mappings().first()

    def add_refund(self, order_pk: int, refund_id: str, now: datetime, **values: Any) -> None:
        self.conn.execute(
            refunds.insert().values(
                tenant_id=self.tenant_id,
                order_pk=order_pk,
                refund_id=refund_id,
                created_at=now,
                **values,
            )
        )
