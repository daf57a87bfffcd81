"""Exactly-once bookkeeping: inbound events by (source, id) and Idempotency-Key responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store.tables import idempotency_keys, inbox_events

_CLAIM = RawStatement(
    """INSERT INTO inbox_events (tenant_id, source, event_id, type, body_hash, occurred_at, received_at)
    VALUES (:tenant_id, :source, :event_id, :type, :body_hash, :occurred_at, :received_at)
    ON CONFLICT DO NOTHING RETURNING id"""
)
_SET_RESPONSE = RawStatement(
    "UPDATE inbox_events SET response = :response WHERE id = :id", json_params=("response",)
)


class InboxRepository:
    def __init__(self, conn: Connection, tenant_id: int, raw: RawRunner) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw

    def claim(
        self,
        source: str,
        event_id: str,
        type_: str,
        body_hash: str,
        occurred_at: datetime,
        now: datetime,
    ) -> int | None:
        """Record the event as received; None if it was received before."""
        row = self.raw.one(
            _CLAIM,
            {
                "tenant_id": self.tenant_id,
                "source": source,
                "event_id": event_id,
                "type": type_,
                "body_hash": body_hash,
                "occurred_at": self.raw.time(occurred_at),
                "received_at": self.raw.time(now),
            },
        )
        return None if row is None else int(row[0])

    def get(self, source: str, event_id: str) -> RowMapping | None:
        stmt = select(inbox_events).where(
            inbox_events.c.tenant_id == self.tenant_id,
            inbox_events.c.source == source,
            inbox_events.c.event_id == event_id,
        )
        return self.conn.execute(stmt).mappings().first()

    def set_response(self, event_pk: int, response: dict[str, Any]) -> None:
        self.raw.execute(_SET_RESPONSE, {"id": event_pk, "response": self.raw.json(response)})


class IdempotencyRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def get(self, key: str) -> RowMapping | None:
        stmt = select(idempotency_keys).where(
            idempotency_keys.c.tenant_id == self.tenant_id, idempotency_keys.c.key == key
        )
        return self.conn.execute(stmt).mappings().first()

    def put(
        self, key: str, request_hash: str, status_code: int, response: Any, now: datetime
    ) -> bool:
        """Store the first response for a key; False if another request stored one first."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = (
            dialect.insert(idempotency_keys)
            .values(
                tenant_id=self.tenant_id,
                key=key,
                request_hash=request_hash,
                status_code=status_code,
                response=response,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.key)
        )
        # RETURNING, not rowcount: SQLAlchemy does not keep an INSERT's rowcount (psycopg gives -1)
        return self.conn.execute(stmt).first() is not None
