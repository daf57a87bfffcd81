"""Programme settings rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from loyalty.store.tables import programs, tenants


class ProgramRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def get(self) -> tuple[dict[str, Any], int, str]:
        """Settings, their version and the tenant's time zone."""
        stmt = (
            select(programs.c.settings, programs.c.version, tenants.c.timezone)
            .join(tenants, tenants.c.id == programs.c.tenant_id)
            .where(programs.c.tenant_id == self.tenant_id)
        )
        row = self.conn.execute(stmt).one()
        return row.settings, row.version, row.timezone

    def put(self, settings: dict[str, Any], now: datetime) -> int:
        stmt = (
            update(programs)
            .where(programs.c.tenant_id == self.tenant_id)
            .values(settings=settings, version=programs.c.version + 1, updated_at=now)
            .returning(programs.c.version)
        )
        return int(self.conn.execute(stmt).scalar_one())
