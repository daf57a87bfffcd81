"""Outbound webhooks: subscriptions, fan-out of the outbox, and the retry schedule."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from loyalty.domain.errors import NotFound, ValidationFailed
from loyalty.services.outbox import EVENT_TYPES
from loyalty.store import webhooks as store
from loyalty.store.uow import Database, UnitOfWork
from loyalty.store.webhooks import WebhookRepository

# Seconds to wait after each failed attempt: about 24 hours in all, then the delivery is dead.
RETRY_SCHEDULE = (10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800)
JITTER = 0.2


def _repo(uow: UnitOfWork) -> WebhookRepository:
    return WebhookRepository(uow.conn, uow.tenant_id)


def _check(url: str, event_types: list[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationFailed("url must be an absolute http(s) URL", field="url")
    unknown = [t for t in event_types if t != "*" and t not in EVENT_TYPES]
    if unknown or not event_types:
        raise ValidationFailed(
            f"unknown event types {unknown}; choose from {', '.join(EVENT_TYPES)} or '*'",
            field="event_types",
        )


def _view(row: Any, *, with_secret: bool = False) -> dict[str, Any]:
    view = {
        "id": row["id"],
        "url": row["url"],
        "event_types": row["event_types"],
        "description": row["description"],
        "created_at": row["created_at"].isoformat(),
    }
    if with_secret:
        view["secret"] = row["secret"]
    return view


def create_subscription(
    uow: UnitOfWork, url: str, event_types: list[str], description: str | None, now: datetime
) -> dict[str, Any]:
    """The signing secret is shown once, in this response."""
    _check(url, event_types)
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = _repo(uow).add(url, secret, sorted(set(event_types)), description, now)
    uow.audit(
        "api", "webhook.created", str(row["id"]), {"url": url, "event_types": event_types}, now
    )
    return _view(row, with_secret=True)


def list_subscriptions(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [_view(row) for row in _repo(uow).all()]


def delete_subscription(uow: UnitOfWork, subscription_id: int, now: datetime) -> None:
    if not _repo(uow).delete(subscription_id, now):
        raise NotFound(f"no webhook subscription {subscription_id}", field="id")
    uow.audit("api", "webhook.deleted", str(subscription_id), None, now)


def deliveries(
    uow: UnitOfWork, subscription_id: int, status: str | None, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    if _repo(uow).get(subscription_id) is None:
        raise NotFound(f"no webhook subscription {subscription_id}", field="id")
    rows = _repo(uow).deliveries(subscription_id, status, after, limit + 1)
    items = [
        {
            "id": r["id"],
            "event_id": event_id(r["outbox_id"]),
            "event_type": r["event_type"],
            "member": r["member_external_id"],
            "status": r["status"],
            "attempts": r["attempts"],
            "next_attempt_at": r["next_attempt_at"].isoformat()
            if r["status"] == "pending"
            else None,
            "last_status_code": r["last_status_code"],
            "last_error": r["last_error"],
            "delivered_at": r["delivered_at"].isoformat() if r["delivered_at"] else None,
        }
        for r in rows[:limit]
    ]
    return items, rows[limit - 1]["id"] if len(rows) > limit else None


def replay(uow: UnitOfWork, subscription_id: int, delivery_id: int, now: datetime) -> None:
    if not _repo(uow).replay(subscription_id, delivery_id, now):
        raise NotFound(
            f"no delivery {delivery_id} for webhook {subscription_id}", field="delivery_id"
        )
    uow.audit("api", "webhook.replayed", str(delivery_id), None, now)


def event_id(outbox_id: int) -> str:
    return f"evt_{outbox_id}"


# --- the worker's side --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    url: str
    secret: str
    attempts: int
    created_at: datetime
    body: dict[str, Any]


def dispatch(db: Database, now: datetime) -> int:
    """Fan out everything waiting in the outbox; returns outbox rows handled."""
    handled = 0
    while True:
        with db.begin() as conn:
            count = store.fan_out(conn, now)
        handled += count
        if count == 0:
            return handled


def claim(db: Database, now: datetime, lease: timedelta, limit: int = 50) -> list[Delivery]:
    with db.begin() as conn:
        rows = store.claim(conn, now, lease, limit)
    return [
        Delivery(
            id=r["id"],
            url=r["url"],
            secret=r["secret"],
            attempts=r["attempts"],
            created_at=r["created_at"],
            body={
                "id": event_id(r["outbox_id"]),
                "type": r["event_type"],
                "created_at": r["event_created_at"].isoformat(),
                "data": r["payload"],
            },
        )
        for r in rows
    ]


def next_attempt(attempts: int, now: datetime, rng: random.Random | None = None) -> datetime | None:
    """When to try again after ``attempts`` failures (None: give up), with +/-20% jitter."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[attempts - 1]
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return now + timedelta(seconds=delay * spread)


def record_result(
    db: Database, delivery: Delivery, status_code: int | None, error: str | None, now: datetime
) -> str:
    """Store what an attempt did; returns the delivery's new status."""
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "locked_until": None,
        "last_status_code": status_code,
    }
    if status_code is not None and 200 <= status_code < 300:
        values.update(status=store.DELIVERED, delivered_at=now, last_error=None)
    else:
        retry_at = next_attempt(attempts, now)
        values["last_error"] = (error or f"HTTP {status_code}")[:500]
        values.update(status=store.DEAD) if retry_at is None else values.update(
            next_attempt_at=retry_at
        )
    with db.begin() as conn:
        store.record(conn, delivery.id, values)
    return str(values.get("status", store.PENDING))
