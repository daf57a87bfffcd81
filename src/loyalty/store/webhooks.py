"""Webhook subscriptions, the fan-out of outbox rows into deliveries, and delivery leases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.orm import aliased

from loyalty.store.tables import outbox_events, webhook_deliveries, webhook_subscriptions

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class WebhookRepository:
    """Subscriptions and deliveries of one tenant."""

    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def add(
        self, url: str, secret: str, event_types: list[str], description: str | None, now: datetime
    ) -> RowMapping:
        stmt = (
            webhook_subscriptions.insert()
            .values(
                tenant_id=self.tenant_id,
                url=url,
                secret=secret,
                event_types=event_types,
                description=description,
                active=1,
                created_at=now,
            )
            .returning(*webhook_subscriptions.c)
        )
        return self.conn.execute(stmt).mappings().one()

    def _subscription_scope(self) -> Any:
        return and_(
            webhook_subscriptions.c.tenant_id == self.tenant_id,
            webhook_subscriptions.c.deleted_at.is_(None),
        )

    def get(self, subscription_id: int) -> RowMapping | None:
        stmt = select(webhook_subscriptions).where(
            self._subscription_scope(), webhook_subscriptions.c.id == subscription_id
        )
        return self.conn.execute(stmt).mappings().first()

    def all(self) -> list[RowMapping]:
        stmt = (
            select(webhook_subscriptions)
            .where(self._subscription_scope())
            .order_by(webhook_subscriptions.c.id)
        )
        return list(self.conn.execute(stmt).mappings())

    def delete(self, subscription_id: int, now: datetime) -> bool:
        stmt = (
            update(webhook_subscriptions)
            .where(self._subscription_scope(), webhook_subscriptions.c.id == subscription_id)
            .values(deleted_at=now, active=0)
        )
        return self.conn.execute(stmt).rowcount == 1

    def deliveries(
        self, subscription_id: int, status: str | None, after: int | None, limit: int
    ) -> list[RowMapping]:
        conditions = [
            webhook_deliveries.c.tenant_id == self.tenant_id,
            webhook_deliveries.c.subscription_id == subscription_id,
        ]
        if status:
            conditions.append(webhook_deliveries.c.status == status)
        if after:
            conditions.append(webhook_deliveries.c.id < after)
        stmt = (
            select(webhook_deliveries, outbox_events.c.payload, outbox_events.c.member_external_id)
            .join(outbox_events, outbox_events.c.id == webhook_deliveries.c.outbox_id)
            .where(*conditions)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        return list(self.conn.execute(stmt).mappings())

    def replay(self, subscription_id: int, delivery_id: int, now: datetime) -> bool:
        stmt = (
            update(webhook_deliveries)
            .where(
                webhook_deliveries.c.tenant_id == self.tenant_id,
                webhook_deliveries.c.subscription_id == subscription_id,
                webhook_deliveries.c.id == delivery_id,
            )
            .values(status=PENDING, next_attempt_at=now, locked_until=None)
        )
        return self.conn.execute(stmt).rowcount == 1


def _skip_locked(conn: Connection, stmt: Any) -> Any:
    return stmt.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else stmt


def fan_out(conn: Connection, now: datetime, limit: int = 1000) -> int:
    """Turn undispatched outbox rows into one pending delivery per matching subscription."""
    rows = conn.execute(
        _skip_locked(
            conn,
            select(
                outbox_events.c.id,
                outbox_events.c.tenant_id,
                outbox_events.c.type,
                outbox_events.c.member_external_id,
            )
            .where(outbox_events.c.dispatched_at.is_(None))
            .order_by(outbox_events.c.id)
            .limit(limit),
        )
    ).all()
    if not rows:
        return 0
    tenants = {r.tenant_id for r in rows}
    subscriptions = conn.execute(
        select(
            webhook_subscriptions.c.id,
            webhook_subscriptions.c.tenant_id,
            webhook_subscriptions.c.event_types,
        ).where(
            webhook_subscriptions.c.tenant_id.in_(tenants),
            webhook_subscriptions.c.deleted_at.is_(None),
            webhook_subscriptions.c.active == 1,
        )
    ).all()
    deliveries = [
        {
            "tenant_id": r.tenant_id,
            "subscription_id": s.id,
            "outbox_id": r.id,
            "event_type": r.type,
            "ordering_key": r.member_external_id or "",
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for r in rows
        for s in subscriptions
        if s.tenant_id == r.tenant_id and ("*" in s.event_types or r.type in s.event_types)
    ]
    if deliveries:
        conn.execute(webhook_deliveries.insert(), deliveries)
    ids = [r.id for r in rows]
    conn.execute(update(outbox_events).where(outbox_events.c.id.in_(ids)).values(dispatched_at=now))
    return len(rows)


def claim(conn: Connection, now: datetime, lease: timedelta, limit: int) -> list[RowMapping]:
    """Lease due deliveries; only the oldest pending one per subscription and member, so each
    receiver sees a member's events in order."""
    earlier = aliased(webhook_deliveries)
    blocked = exists().where(
        earlier.c.subscription_id == webhook_deliveries.c.subscription_id,
        earlier.c.ordering_key == webhook_deliveries.c.ordering_key,
        earlier.c.status == PENDING,
        earlier.c.id < webhook_deliveries.c.id,
    )
    due = (
        select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.next_attempt_at <= now,
            (webhook_deliveries.c.locked_until.is_(None))
            | (webhook_deliveries.c.locked_until < now),
            ~blocked,
        )
        .order_by(webhook_deliveries.c.id)
        .limit(limit)
    )
    ids = [r.id for r in conn.execute(_skip_locked(conn, due))]
    if not ids:
        return []
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_(ids))
        .values(locked_until=now + lease)
    )
    stmt = (
        select(
            webhook_deliveries,
            webhook_subscriptions.c.url,
            webhook_subscriptions.c.secret,
            outbox_events.c.payload,
            outbox_events.c.created_at.label("event_created_at"),
        )
        .join(
            webhook_subscriptions,
            webhook_subscriptions.c.id == webhook_deliveries.c.subscription_id,
        )
        .join(outbox_events, outbox_events.c.id == webhook_deliveries.c.outbox_id)
        .where(webhook_deliveries.c.id.in_(ids))
        .order_by(webhook_deliveries.c.id)
    )
    return list(conn.execute(stmt).mappings())


def record(conn: Connection, delivery_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values)
    )
