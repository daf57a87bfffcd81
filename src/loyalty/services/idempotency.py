"""``Idempotency-Key`` for write endpoints: the first response is stored with the effect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from loyalty.domain.errors import IdempotencyConflict
from loyalty.store.uow import Database, UnitOfWork


class _Raced(Exception):
    """Another request with the same key committed first; start again to read its response."""


def run_write(
    db: Database,
    tenant_id: int,
    work: Callable[[UnitOfWork], tuple[int, Any]],
    *,
    key: str | None,
    request_hash: str,
    now: datetime,
) -> tuple[int, Any, bool]:
    """Run ``work`` in one transaction; with a key, at most once. Returns (status, body, replayed)."""
    for _ in range(3):
        try:
            return db.run(tenant_id, lambda uow: _once(uow, work, key, request_hash, now))
        except _Raced:
            continue
    raise RuntimeError("idempotency key kept racing")  # pragma: no cover


def _once(
    uow: UnitOfWork,
    work: Callable[[UnitOfWork], tuple[int, Any]],
    key: str | None,
    request_hash: str,
    now: datetime,
) -> tuple[int, Any, bool]:
    if key is None:
        return (*work(uow), False)
    stored = uow.idempotency.get(key)
    if stored is not None:
        if stored["request_hash"] != request_hash:
            raise IdempotencyConflict(
                "this Idempotency-Key was used with a different request", field="Idempotency-Key"
            )
        return stored["status_code"], stored["response"], True
    status, body = work(uow)
    if not uow.idempotency.put(key, request_hash, status, body, now):
        raise _Raced()
    return status, body, False
