"""Orders and refunds as recorded for the ledger."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store.program_analytics import note_change
from loyalty.store.tables import orders, refunds

_ADD = RawStatement(
    """INSERT INTO orders (tenant_id, member_id, order_id, currency, total, shipping, tax, base,
    lines, points_earned, points_reversed, status, refunded_amount, refunded_base,
    refunded_quantities, paid_at, created_at)
    VALUES (:tenant_id, :member_id, :order_id, :currency, :total, :shipping, :tax, :base,
    :lines, :points_earned, 0, 'paid', '0', '0', :refunded_quantities, :paid_at, :created_at)
    ON CONFLICT DO NOTHING RETURNING id""",
    json_params=("lines", "refunded_quantities"),
)


# Order columns the analytics read model is built from (besides points_earned, see update).
_SHOWN_IN_ANALYTICS = {"status", "total", "refunded_amount", "paid_at", "member_id"}


class OrderRepository:
    def __init__(self, conn: Connection, tenant_id: int, raw: RawRunner) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw
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

    def add_paid(
        self,
        *,
        member_id: int,
        order_id: str,
        currency: str,
        total: Decimal,
        shipping: Decimal,
        tax: Decimal,
        base: Decimal,
        lines: list[dict[str, Any]],
        points_earned: int,
        paid_at: datetime,
        now: datetime,
    ) -> int | None:
        """Record a paid order; None if the store already sent this order id."""
        row = self.raw.one(
            _ADD,
            {
                "tenant_id": self.tenant_id,
                "member_id": member_id,
                "order_id": order_id,
                "currency": currency,
                "total": str(total),
                "shipping": str(shipping),
                "tax": str(tax),
                "base": str(base),
                "lines": self.raw.json(lines),
                "points_earned": points_earned,
                "refunded_quantities": "{}",
                "paid_at": self.raw.time(paid_at),
                "created_at": self.raw.time(now),
            },
        )
        return None if row is None else int(row[0])

    def update(self, order_pk: int, **values: Any) -> None:
        """Change a recorded order. A change the analytics read model shows (status, amounts,
        owner, payment time) is noted in ``analytics_changes`` in the same transaction;
        ``points_earned`` is only set by the transaction that records the order."""
        stmt = update(orders).where(orders.c.tenant_id == self.tenant_id, orders.c.id == order_pk)
        self.conn.execute(stmt.values(**values))
        if values.keys() & _SHOWN_IN_ANALYTICS:
            note_change(self.conn, self.tenant_id, "order", order_pk)

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
