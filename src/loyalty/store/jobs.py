"""Set-based ledger jobs: release pending lots and expire lots, a chunk per transaction.

Each chunk writes its ledger entries with ``INSERT ... SELECT``, moves balances with one
``UPDATE ... FROM`` per member aggregate and flips the lots' status, all in one transaction,
so a crash leaves either the whole chunk or none of it. Lots are chosen by status and due
date, which makes every run idempotent and lets a late run catch up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, literal, literal_column, select, text, update
from sqlalchemy.engine import Connection

from loyalty.domain.ledger import EntryKind, LotStatus
from loyalty.store.tables import (
    allocations,
    ledger_entries,
    lots,
    members,
    outbox_events,
    programs,
)
from loyalty.store.uow import Database

CHUNK = 50_000


def _lock(conn: Connection) -> None:
    """One job runner at a time on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7250001)"))


def _chunk_bound(conn: Connection, due: Any) -> int | None:
    ids = select(lots.c.id).where(due).order_by(lots.c.id).limit(CHUNK).subquery()
    return conn.execute(select(func.max(ids.c.id))).scalar()


def _member_totals(due: Any) -> Any:
    return (
        select(lots.c.member_id, func.sum(lots.c.remaining).label("total"))
        .where(due)
        .group_by(lots.c.member_id)
        .subquery()
    )


def release_chunk(
    db: Database, now: datetime, tenant_id: int | None
) -> tuple[int, list[tuple[int, int]]]:
    """Release one chunk; returns (lots released, members with a negative balance to settle)."""
    with db.begin() as conn:
        _lock(conn)
        due = and_(_PENDING, lots.c.available_at <= now, *_tenant(tenant_id))
        bound = _chunk_bound(conn, due)
        if bound is None:
            return 0, []
        due = and_(due, lots.c.id <= bound)
        moving = and_(due, lots.c.remaining > 0)
        conn.execute(
            insert(ledger_entries).from_select(
                _ENTRY_COLUMNS,
                select(
                    lots.c.tenant_id,
                    lots.c.member_id,
                    literal(EntryKind.RELEASE.value),
                    lots.c.remaining,
                    lots.c.remaining,
                    -lots.c.remaining,
                    literal(0),
                    lots.c.id,
                    literal("return window closed"),
                    lots.c.available_at,
                    literal(now, ledger_entries.c.created_at.type),
                ).where(moving),
            )
        )
        totals = _member_totals(moving)
        conn.execute(
            update(members)
            .where(members.c.id == totals.c.member_id)
            .values(
                available=members.c.available + totals.c.total,
                pending=members.c.pending - totals.c.total,
            )
        )
        in_debt = conn.execute(
            select(members.c.tenant_id, members.c.id).where(
                members.c.debt > 0, members.c.id.in_(select(lots.c.member_id).where(moving))
            )
        ).all()
        count = conn.execute(update(lots).where(due).values(status=LotStatus.AVAILABLE)).rowcount
        return count, [(r.tenant_id, r.id) for r in in_debt]


# Literal statuses, so the planners can use the partial indexes on lots.
_PENDING = lots.c.status == literal_column("'pending'")
_AVAILABLE = lots.c.status == literal_column("'available'")

_ENTRY_COLUMNS = [
    "tenant_id",
    "member_id",
    "kind",
    "points",
    "available_delta",
    "pending_delta",
    "lifetime_delta",
    "lot_id",
    "reason",
    "occurred_at",
    "created_at",
]


def _tenant(tenant_id: int | None) -> list[Any]:
    return [] if tenant_id is None else [lots.c.tenant_id == tenant_id]


def expire_chunk(db: Database, now: datetime, tenant_id: int | None) -> int:
    """Expire one chunk of lots whose own expiry date has passed."""
    due = and_(
        _AVAILABLE, lots.c.expires_at.is_not(None), lots.c.expires_at <= now, *_tenant(tenant_id)
    )
    return _expire(db, now, due, "points expired", lots.c.expires_at)


def expire_inactive_chunk(db: Database, now: datetime, tenant_id: int, cutoff: datetime) -> int:
    """Expire the available points of members with no activity since ``cutoff``."""
    idle = select(members.c.id).where(
        members.c.tenant_id == tenant_id, members.c.last_activity_at <= cutoff
    )
    due = and_(
        lots.c.tenant_id == tenant_id,
        _AVAILABLE,
        lots.c.remaining > 0,
        lots.c.member_id.in_(idle),
    )
    return _expire(
        db, now, due, "points expired after inactivity", literal(now, lots.c.expires_at.type)
    )


def _expire(db: Database, now: datetime, due: Any, reason: str, occurred: Any) -> int:
    with db.begin() as conn:
        _lock(conn)
        bound = _chunk_bound(conn, due)
        if bound is None:
            return 0
        due = and_(due, lots.c.id <= bound)
        moving = and_(due, lots.c.remaining > 0)
        before = conn.execute(select(func.coalesce(func.max(ledger_entries.c.id), 0))).scalar_one()
        conn.execute(
            insert(ledger_entries).from_select(
                _ENTRY_COLUMNS,
                select(
                    lots.c.tenant_id,
                    lots.c.member_id,
                    literal(EntryKind.EXPIRE.value),
                    -lots.c.remaining,
                    -lots.c.remaining,
                    literal(0),
                    literal(0),
                    lots.c.id,
                    literal(reason),
                    occurred,
                    literal(now, ledger_entries.c.created_at.type),
                ).where(moving),
            )
        )
        conn.execute(
            insert(allocations).from_select(
                ["tenant_id", "entry_id", "lot_id", "points"],
                select(
                    ledger_entries.c.tenant_id,
                    ledger_entries.c.id,
                    ledger_entries.c.lot_id,
                    -ledger_entries.c.points,
                ).where(
                    ledger_entries.c.id > before, ledger_entries.c.kind == EntryKind.EXPIRE.value
                ),
            )
        )
        totals = _member_totals(moving)
        conn.execute(
            update(members)
            .where(members.c.id == totals.c.member_id)
            .values(available=members.c.available - totals.c.total)
        )
        _outbox_expired(conn, before, now, reason)
        return conn.execute(
            update(lots).where(due).values(remaining=0, status=LotStatus.EXPIRED)
        ).rowcount


def _outbox_expired(conn: Connection, before: int, now: datetime, reason: str) -> None:
    """One ``points.expired`` event per member per run, in the same transaction."""
    rows = conn.execute(
        select(
            ledger_entries.c.tenant_id,
            members.c.external_id,
            func.sum(-ledger_entries.c.points).label("points"),
            func.count().label("lots"),
            members.c.available,
            members.c.pending,
            members.c.lifetime_earned,
        )
        .join(members, members.c.id == ledger_entries.c.member_id)
        .where(ledger_entries.c.id > before, ledger_entries.c.kind == EntryKind.EXPIRE.value)
        .group_by(
            ledger_entries.c.tenant_id,
            members.c.external_id,
            members.c.available,
            members.c.pending,
            members.c.lifetime_earned,
        )
    ).all()
    _add_outbox(
        conn,
        [
            (
                r.tenant_id,
                "points.expired",
                r.external_id,
                {
                    "member": r.external_id,
                    "points": int(r.points),
                    "lots": int(r.lots),
                    "reason": reason,
                    "balances": {
                        "available": r.available,
                        "pending": r.pending,
                        "lifetime_earned": r.lifetime_earned,
                    },
                },
            )
            for r in rows
        ],
        now,
    )


def _add_outbox(
    conn: Connection, rows: list[tuple[int, str, str, dict[str, Any]]], now: datetime
) -> None:
    if rows:
        conn.execute(
            outbox_events.insert(),
            [
                {
                    "tenant_id": t,
                    "type": k,
                    "member_external_id": m,
                    "payload": p,
                    "created_at": now,
                }
                for t, k, m, p in rows
            ],
        )


def notify_expiring(db: Database, now: datetime, tenant_id: int, until: datetime) -> int:
    """``points.expiring_soon`` once per lot: members whose points expire before ``until``."""
    due = and_(
        lots.c.tenant_id == tenant_id,
        _AVAILABLE,
        lots.c.remaining > 0,
        lots.c.expires_at.is_not(None),
        lots.c.expires_at > now,
        lots.c.expires_at <= until,
        lots.c.expiry_notice_at.is_(None),
    )
    with db.begin() as conn:
        _lock(conn)
        rows = conn.execute(
            select(
                members.c.external_id,
                func.sum(lots.c.remaining).label("points"),
                func.min(lots.c.expires_at).label("first_expiry"),
            )
            .join(members, members.c.id == lots.c.member_id)
            .where(due)
            .group_by(members.c.external_id)
        ).all()
        _add_outbox(
            conn,
            [
                (
                    tenant_id,
                    "points.expiring_soon",
                    r.external_id,
                    {
                        "member": r.external_id,
                        "points": int(r.points),
                        "expires_at": r.first_expiry.isoformat(),
                    },
                )
                for r in rows
            ],
            now,
        )
        conn.execute(update(lots).where(due).values(expiry_notice_at=now))
    return len(rows)


def all_programs(engine: Engine, tenant_id: int | None) -> list[tuple[int, dict[str, Any]]]:
    with engine.connect() as conn:
        conn = conn.execution_options(loyalty_read_only=True)
        stmt = select(programs.c.tenant_id, programs.c.settings)
        if tenant_id is not None:
            stmt = stmt.where(programs.c.tenant_id == tenant_id)
        return [(r.tenant_id, r.settings) for r in conn.execute(stmt)]


def inactivity_programs(engine: Engine, tenant_id: int | None) -> list[tuple[int, dict[str, Any]]]:
    with engine.connect() as conn:
        conn = conn.execution_options(loyalty_read_only=True)
        stmt = select(programs.c.tenant_id, programs.c.settings)
        if tenant_id is not None:
            stmt = stmt.where(programs.c.tenant_id == tenant_id)
        rows = conn.execute(stmt).all()
    return [
        (r.tenant_id, r.settings)
        for r in rows
        if (r.settings.get("expiry") or {}).get("kind") == "inactivity"
    ]
