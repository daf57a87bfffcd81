"""Connector settings per platform and guest orders waiting to be claimed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store.program_analytics import note_change
from loyalty.store.tables import connectors, guest_orders


class ConnectorRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def get(self, platform: str) -> RowMapping | None:
        stmt = select(connectors).where(
            connectors.c.tenant_id == self.tenant_id, connectors.c.platform == platform
        )
        return self.conn.execute(stmt).mappings().first()

    def put(
        self,
        platform: str,
        sealed: str,
        guest_matching: bool,
        enabled: bool,
        now: datetime,
        settings: dict[str, str] | None = None,
    ) -> None:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        values = {
            "secrets": sealed,
            "settings": settings or None,
            "guest_matching": int(guest_matching),
            "enabled": int(enabled),
            "updated_at": now,
        }
        stmt = dialect.insert(connectors).values(
            tenant_id=self.tenant_id, platform=platform, **values
        )
        self.conn.execute(
            stmt.on_conflict_do_update(index_elements=["tenant_id", "platform"], set_=values)
        )

    def keep_guest_order(
        self, platform: str, event_id: str, email: str | None, event: dict[str, Any], now: datetime
    ) -> bool:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(guest_orders)
            .values(
                tenant_id=self.tenant_id,
                platform=platform,
                event_id=event_id,
                email=email,
                event=event,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(guest_orders.c.id)
        )
        return self.conn.execute(stmt).first() is not None

    def unclaimed_for(self, email: str) -> list[RowMapping]:
        stmt = (
            select(guest_orders)
            .where(
                guest_orders.c.tenant_id == self.tenant_id,
                guest_orders.c.email == email,
                guest_orders.c.claimed_at.is_(None),
            )
            .order_by(guest_orders.c.id)
        )
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return list(self.conn.execute(stmt).mappings())

    def mark_claimed(self, guest_order_id: int, member_external_id: str, now: datetime) -> None:
        stmt = (
            update(guest_orders)
            .where(guest_orders.c.tenant_id == self.tenant_id, guest_orders.c.id == guest_order_id)
            .values(claimed_by=member_external_id, claimed_at=now)
        )
        self.conn.execute(stmt)
        note_change(self.conn, self.tenant_id, "guest_order", guest_order_id)
