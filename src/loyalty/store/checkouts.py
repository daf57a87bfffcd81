"""Checkouts: the codes and points an open checkout holds until it is paid, cancelled or expires."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, insert, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from loyalty.store.tables import checkouts, members, orders

_HAS_ORDERS = (
    select(orders.c.id)
    .where(
        orders.c.tenant_id == bindparam("tenant_id"), orders.c.member_id == bindparam("member_id")
    )
    .limit(1)
)
# the buyer and whether they ordered before, in one statement (a dry run's member read)
_BUYER = select(
    members,
    exists()
    .where(orders.c.tenant_id == members.c.tenant_id, orders.c.member_id == members.c.id)
    .label("has_orders"),
).where(
    members.c.tenant_id == bindparam("tenant_id"),
    members.c.external_id == bindparam("external_id"),
)
RESERVED = "reserved"
COMMITTED = "committed"
RELEASED = "released"


class CheckoutRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._lock = conn.dialect.name == "postgresql"

    def get(self, checkout_id: str, *, lock: bool = False) -> RowMapping | None:
        stmt = select(checkouts).where(
            checkouts.c.tenant_id == self.tenant_id, checkouts.c.checkout_id == checkout_id
        )
        if lock and self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def of_order(self, order_pk: int) -> RowMapping | None:
        stmt = select(checkouts).where(
            checkouts.c.tenant_id == self.tenant_id, checkouts.c.order_pk == order_pk
        )
        if self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def member_has_orders(self, member_id: int) -> bool:
        params = {"tenant_id": self.tenant_id, "member_id": member_id}
        return self.conn.execute(_HAS_ORDERS, params).first() is not None

    def buyer(self, external_id: str) -> tuple[dict[str, Any] | None, bool]:
        """The member's row (unlocked) and whether they have any order; (None, False) if
        there is no such member."""
        params = {"tenant_id": self.tenant_id, "external_id": external_id}
        row = self.conn.execute(_BUYER, params).mappings().first()
        if row is None:
            return None, False
        member = dict(row)
        return member, bool(member.pop("has_orders"))

    def add(self, checkout_id: str, now: datetime) -> RowMapping:
        """An empty open checkout; filled by ``update``."""
        self.conn.execute(
            insert(checkouts).values(
                tenant_id=self.tenant_id,
                checkout_id=checkout_id,
                status=RESERVED,
                codes=[],
                promotions=[],
                points=0,
                draws=[],
                expires_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        row = self.get(checkout_id, lock=True)
        assert row is not None
        return row

    def update(self, pk: int, **values: Any) -> None:
        self.conn.execute(
            update(checkouts)
            .where(checkouts.c.tenant_id == self.tenant_id, checkouts.c.id == pk)
            .values(**values)
        )

    def due(
        self, now: datetime, limit: int = 500
    ) -> list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
        """Open checkouts of this tenant whose hold has run out, with the codes and the
        promotions they hold."""
        stmt = (
            select(checkouts.c.checkout_id, checkouts.c.codes, checkouts.c.promotions)
            .where(
                checkouts.c.tenant_id == self.tenant_id,
                checkouts.c.status == RESERVED,
                checkouts.c.expires_at <= now,
            )
            .order_by(checkouts.c.expires_at)
            .limit(limit)
        )
        return [(row.checkout_id, row.codes, row.promotions) for row in self.conn.execute(stmt)]


def tenants_with_due_checkouts(engine: Engine, now: datetime, tenant_id: int | None) -> list[int]:
    stmt = (
        select(checkouts.c.tenant_id)
        .where(checkouts.c.status == RESERVED, checkouts.c.expires_at <= now)
        .distinct()
    )
    if tenant_id is not None:
        stmt = stmt.where(checkouts.c.tenant_id == tenant_id)
    with engine.connect() as conn:
        return list(conn.execute(stmt).scalars())
