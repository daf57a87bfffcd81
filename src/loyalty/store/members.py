"""Member rows and their cached balances. Balances change only through ``apply_deltas``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._upsert import insert_if_absent
from loyalty.store.tables import members

MEMBER_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "birthday",
    "locale",
    "consents",
    "status",
)


class MemberRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._lock = conn.dialect.name == "postgresql"

    def _scoped(self, *conditions: Any) -> Any:
        return and_(members.c.tenant_id == self.tenant_id, *conditions)

    def get(self, external_id: str, *, lock: bool = False) -> RowMapping | None:
        stmt = select(members).where(self._scoped(members.c.external_id == external_id))
        if lock and self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def get_by_id(self, member_id: int, *, lock: bool = False) -> RowMapping | None:
        stmt = select(members).where(self._scoped(members.c.id == member_id))
        if lock and self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def lock_many(self, member_ids: list[int]) -> None:
        """Lock rows in primary-key order so two transfers never deadlock."""
        if self._lock and member_ids:
            stmt = (
                select(members.c.id)
                .where(self._scoped(members.c.id.in_(member_ids)))
                .order_by(members.c.id)
                .with_for_update()
            )
            self.conn.execute(stmt).all()

    def add(self, external_id: str, fields: dict[str, Any], now: datetime) -> int | None:
        """Insert a member; None if that external id exists already."""
        values = {
            "tenant_id": self.tenant_id,
            "external_id": external_id,
            "consents": {},
            "status": "active",
            **fields,
            "available": 0,
            "pending": 0,
            "lifetime_earned": 0,
            "debt": 0,
            "created_at": now,
            "updated_at": now,
        }
        return insert_if_absent(self.conn, members, values)

    def update_fields(self, member_id: int, fields: dict[str, Any], now: datetime) -> None:
        stmt = update(members).where(self._scoped(members.c.id == member_id))
        self.conn.execute(stmt.values(**fields, updated_at=now))

    def apply_deltas(
        self,
        member_id: int,
        *,
        available: int = 0,
        pending: int = 0,
        lifetime: int = 0,
        debt: int = 0,
        activity_at: datetime | None = None,
    ) -> bool:
        """Change balances in one conditional statement; False if it would overdraw."""
        values: dict[str, Any] = {
            "available": members.c.available + available,
            "pending": members.c.pending + pending,
            "lifetime_earned": members.c.lifetime_earned + lifetime,
            "debt": members.c.debt + debt,
        }
        if activity_at is not None:
            values["last_activity_at"] = activity_at
        stmt = (
            update(members)
            .where(
                self._scoped(
                    members.c.id == member_id,
                    members.c.available + available >= -(members.c.debt + debt),
                    members.c.pending + pending >= 0,
                )
            )
            .values(**values)
        )
        return self.conn.execute(stmt).rowcount == 1

    def page(self, after: int | None, limit: int, filters: dict[str, Any]) -> list[RowMapping]:
        conditions = [members.c.id > after] if after else []
        for name in ("email", "status", "phone"):
            if filters.get(name) is not None:
                conditions.append(members.c[name] == filters[name])
        if filters.get("created_after") is not None:
            conditions.append(members.c.created_at >= filters["created_after"])
        if filters.get("created_before") is not None:
            conditions.append(members.c.created_at < filters["created_before"])
        if filters.get("min_available") is not None:
            conditions.append(members.c.available >= filters["min_available"])
        stmt = select(members).where(self._scoped(*conditions)).order_by(members.c.id).limit(limit)
        return list(self.conn.execute(stmt).mappings())
