"""Tier ladders (versioned), member tier state, tier history, and the activity tiers measure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store.tables import (
    ledger_entries,
    member_tiers,
    members,
    orders,
    refunds,
    tier_history,
    tier_ladders,
)


class TierRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._lock = conn.dialect.name == "postgresql"

    # --- the ladder ---------------------------------------------------------------------

    def ladder(self) -> tuple[dict[str, Any], int] | None:
        """The ladder in force (the highest version) and its version."""
        row = self.conn.execute(
            select(tier_ladders.c.settings, tier_ladders.c.version)
            .where(tier_ladders.c.tenant_id == self.tenant_id)
            .order_by(tier_ladders.c.version.desc())
            .limit(1)
        ).first()
        return None if row is None else (row.settings, row.version)

    def add_ladder(self, version: int, settings: dict[str, Any], actor: str, now: datetime) -> None:
        self.conn.execute(
            insert(tier_ladders).values(
                tenant_id=self.tenant_id,
                version=version,
                settings=settings,
                actor=actor,
                created_at=now,
            )
        )

    def members_holding(self, tier_ids: Iterable[str]) -> int:
        """How many members hold (or have a manual floor on) one of ``tier_ids``."""
        ids = list(tier_ids)
        if not ids:
            return 0
        stmt = select(func.count()).where(
            member_tiers.c.tenant_id == self.tenant_id,
            or_(member_tiers.c.tier.in_(ids), member_tiers.c.manual_tier.in_(ids)),
        )
        return int(self.conn.execute(stmt).scalar_one())

    # --- member state -------------------------------------------------------------------

    def state(self, member_id: int, *, lock: bool = False) -> RowMapping | None:
        stmt = select(member_tiers).where(
            member_tiers.c.tenant_id == self.tenant_id, member_tiers.c.member_id == member_id
        )
        if lock and self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def save_state(self, member_id: int, values: dict[str, Any], exists: bool) -> None:
        if exists:
            self.conn.execute(
                update(member_tiers)
                .where(
                    member_tiers.c.tenant_id == self.tenant_id,
                    member_tiers.c.member_id == member_id,
                )
                .values(**values)
            )
        else:
            self.conn.execute(
                insert(member_tiers).values(tenant_id=self.tenant_id, member_id=member_id, **values)
            )

    def due(self, now: datetime, after: int, limit: int) -> list[int]:
        """Members whose review, grace period or manual floor has come due, by member id."""
        stmt = (
            select(member_tiers.c.member_id)
            .where(
                member_tiers.c.tenant_id == self.tenant_id,
                member_tiers.c.check_at <= now,
                member_tiers.c.member_id > after,
            )
            .order_by(member_tiers.c.member_id)
            .limit(limit)
        )
        return list(self.conn.execute(stmt).scalars())

    def member_ref(self, member_id: int) -> tuple[int, str] | None:
        row = self.conn.execute(
            select(members.c.id, members.c.external_id).where(
                members.c.tenant_id == self.tenant_id, members.c.id == member_id
            )
        ).first()
        return None if row is None else (row.id, row.external_id)

    # --- history ------------------------------------------------------------------------

    def add_history(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(
                insert(tier_history), [{**row, "tenant_id": self.tenant_id} for row in rows]
            )

    def history(self, member_id: int, limit: int) -> list[RowMapping]:
        stmt = (
            select(tier_history)
            .where(
                tier_history.c.tenant_id == self.tenant_id, tier_history.c.member_id == member_id
            )
            .order_by(tier_history.c.id.desc())
            .limit(limit)
        )
        return list(self.conn.execute(stmt).mappings())

    # --- activity the metric is measured on ---------------------------------------------

    def points(self, member_id: int, since: datetime | None) -> list[tuple[datetime, int]]:
        """Points earned (+) and reversed (-), and positive manual adjustments, by date."""
        e = ledger_entries.c
        counted = or_(e.lifetime_delta != 0, and_(e.kind == "adjust", e.points > 0))
        value = func.coalesce(func.nullif(e.lifetime_delta, 0), e.points)
        stmt = select(e.occurred_at, value).where(
            e.tenant_id == self.tenant_id, e.member_id == member_id, counted
        )
        if since is not None:
            stmt = stmt.where(e.occurred_at >= since)
        return [(row[0], int(row[1])) for row in self.conn.execute(stmt)]

    def spend(
        self, member_id: int, currency: str, since: datetime | None
    ) -> list[tuple[datetime, Decimal]]:
        """Paid order totals (+) and refunds (-), by date; cancelled orders do not count."""
        o, r = orders.c, refunds.c
        live = and_(
            o.tenant_id == self.tenant_id,
            o.member_id == member_id,
            o.currency == currency,
            o.status != "cancelled",
        )
        paid = select(o.paid_at, o.total).where(live)
        refunded = select(r.created_at, r.amount).join(orders, o.id == r.order_pk).where(live)
        if since is not None:
            paid = paid.where(o.paid_at >= since)
            refunded = refunded.where(r.created_at >= since)
        facts = [(row[0], row[1]) for row in self.conn.execute(paid)]
        facts += [(row[0], -row[1]) for row in self.conn.execute(refunded)]
        return facts

    def orders(self, member_id: int, since: datetime | None) -> list[datetime]:
        """When each paid order that was not cancelled was paid."""
        o = orders.c
        stmt = select(o.paid_at).where(
            o.tenant_id == self.tenant_id, o.member_id == member_id, o.status != "cancelled"
        )
        if since is not None:
            stmt = stmt.where(o.paid_at >= since)
        return list(self.conn.execute(stmt).scalars())


def tenants_with_ladders(conn: Connection, tenant_id: int | None) -> list[int]:
    stmt = select(tier_ladders.c.tenant_id).distinct()
    if tenant_id is not None:
        stmt = stmt.where(tier_ladders.c.tenant_id == tenant_id)
    return list(conn.execute(stmt).scalars())
