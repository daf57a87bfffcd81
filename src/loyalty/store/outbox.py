"""Outbox rows: events for the outside world, written in the transaction that caused them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.store._raw import RawRunner, RawStatement, dump_json

_INSERT = RawStatement(
    """INSERT INTO outbox_events (tenant_id, type, member_external_id, payload, created_at)
    VALUES (:tenant_id, :type, :member_external_id, :payload, :created_at)""",
    json_params=("payload",),
)


class OutboxRepository:
    def __init__(self, raw: RawRunner, tenant_id: int) -> None:
        self.raw = raw
        self.tenant_id = tenant_id
        self.muted = False  # the history import's lean mode: old orders announce nothing

    def add(
        self, type_: str, member_external_id: str | None, payload: dict[str, Any], now: datetime
    ) -> None:
        self.add_many([(type_, member_external_id, payload)], now)

    def add_many(self, rows: list[tuple[str, str | None, dict[str, Any]]], now: datetime) -> None:
        if self.muted or not rows:
            return
        created = self.raw.time(now)
        self.raw.executemany(
            _INSERT,
            [
                {
                    "tenant_id": self.tenant_id,
                    "type": type_,
                    "member_external_id": member,
                    "payload": dump_json(payload),
                    "created_at": created,
                }
                for type_, member, payload in rows
            ],
        )
