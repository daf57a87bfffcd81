"""Membership plans, memberships and their history rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store.tables import membership_history, membership_plans, memberships

_ANY_MEMBERSHIP = RawStatement("SELECT 1 FROM memberships WHERE tenant_id = :tenant_id LIMIT 1")


def any_membership(raw: RawRunner, tenant_id: int) -> bool:
    """Whether the tenant has ever had a paid membership (one indexed probe: the order path
    asks it to know whether a membership can multiply what an order earns)."""
    return raw.one(_ANY_MEMBERSHIP, {"tenant_id": tenant_id}) is not None


class MembershipRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._lock = conn.dialect.name == "postgresql"

    # --- plans --------------------------------------------------------------------------

    def add_plan(self, settings: dict[str, Any], now: datetime) -> int:
        stmt = (
            insert(membership_plans)
            .values(tenant_id=self.tenant_id, settings=settings, created_at=now, updated_at=now)
            .returning(membership_plans.c.id)
        )
        return int(self.conn.execute(stmt).scalar_one())

    def plan(self, plan_id: int) -> RowMapping | None:
        stmt = select(membership_plans).where(
            membership_plans.c.tenant_id == self.tenant_id, membership_plans.c.id == plan_id
        )
        return self.conn.execute(stmt).mappings().first()

    def plans(self) -> list[RowMapping]:
        stmt = (
            select(membership_plans)
            .where(membership_plans.c.tenant_id == self.tenant_id)
            .order_by(membership_plans.c.id)
        )
        return list(self.conn.execute(stmt).mappings())

    def put_plan(self, plan_id: int, settings: dict[str, Any], now: datetime) -> None:
        self.conn.execute(
            update(membership_plans)
            .where(membership_plans.c.tenant_id == self.tenant_id, membership_plans.c.id == plan_id)
            .values(settings=settings, updated_at=now)
        )

    # --- memberships --------------------------------------------------------------------

    def get(self, membership_id: str, *, lock: bool = False) -> RowMapping | None:
        stmt = select(memberships).where(
            memberships.c.tenant_id == self.tenant_id,
            memberships.c.membership_id == membership_id,
        )
        if lock and self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def add(self, values: dict[str, Any]) -> int:
        stmt = (
            insert(memberships)
            .values(tenant_id=self.tenant_id, **values)
            .returning(memberships.c.id)
        )
        return int(self.conn.execute(stmt).scalar_one())

    def update(self, pk: int, values: dict[str, Any]) -> None:
        self.conn.execute(
            update(memberships)
            .where(memberships.c.tenant_id == self.tenant_id, memberships.c.id == pk)
            .values(**values)
        )

    def of_member(self, member_id: int) -> list[RowMapping]:
        stmt = (
            select(memberships)
            .where(memberships.c.tenant_id == self.tenant_id, memberships.c.member_id == member_id)
            .order_by(memberships.c.id.desc())
        )
        return list(self.conn.execute(stmt).mappings())

    def active_plans(self, member_id: int, now: datetime) -> list[dict[str, Any]]:
        """Settings of the plans whose memberships give benefits at ``now``, oldest first."""
        m, p = memberships.c, membership_plans.c
        stmt = (
            select(p.settings)
            .join(membership_plans, p.id == m.plan_id)
            .where(
                m.tenant_id == self.tenant_id,
                m.member_id == member_id,
                m.status != "expired",
                m.ends_at > now,
            )
            .order_by(m.id)
        )
        return [row.settings for row in self.conn.execute(stmt)]

    def lapsed(self, now: datetime, limit: int) -> list[RowMapping]:
        """Memberships whose term ended by ``now`` but that are not marked expired yet."""
        stmt = (
            select(memberships)
            .where(
                memberships.c.tenant_id == self.tenant_id,
                memberships.c.status != "expired",
                memberships.c.ends_at <= now,
            )
            .order_by(memberships.c.id)
            .limit(limit)
        )
        if self._lock:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.conn.execute(stmt).mappings())

    # --- history ------------------------------------------------------------------------

    def add_history(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(membership_history).values(tenant_id=self.tenant_id, **values))

    def history(self, membership_pks: list[int]) -> list[RowMapping]:
        if not membership_pks:
            return []
        stmt = (
            select(membership_history)
            .where(
                membership_history.c.tenant_id == self.tenant_id,
                membership_history.c.membership_pk.in_(membership_pks),
            )
            .order_by(membership_history.c.id)
        )
        return list(self.conn.execute(stmt).mappings())


def tenants_with_lapsed(conn: Connection, now: datetime, tenant_id: int | None) -> list[int]:
    stmt = (
        select(memberships.c.tenant_id)
        .where(memberships.c.status != "expired", memberships.c.ends_at <= now)
        .distinct()
    )
    if tenant_id is not None:
        stmt = stmt.where(memberships.c.tenant_id == tenant_id)
    return list(conn.execute(stmt).scalars())
