"""Rows that track background imports and their progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store.tables import imports


class ImportRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def add(
        self, kind: str, filename: str, earn: bool, mapping: dict[str, str], now: datetime
    ) -> int:
        stmt = imports.insert().values(
            tenant_id=self.tenant_id,
            kind=kind,
            filename=filename,
            earn=int(earn),
            mapping=mapping,
            status="running",
            report={},
            created_at=now,
        )
        return int(self.conn.execute(stmt.returning(imports.c.id)).scalar_one())

    def get(self, import_id: int) -> RowMapping | None:
        stmt = select(imports).where(
            imports.c.tenant_id == self.tenant_id, imports.c.id == import_id
        )
        return self.conn.execute(stmt).mappings().first()

    def update(self, import_id: int, **values: Any) -> None:
        stmt = update(imports).where(
            imports.c.tenant_id == self.tenant_id, imports.c.id == import_id
        )
        self.conn.execute(stmt.values(**values))
