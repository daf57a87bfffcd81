"""Set-based ledger jobs: release pending lots and expire lots, a chunk per transaction.

Each chunk writes its ledger entries with ``INSERT ... SELECT``, moves balances with one
``UPDATE ... FROM`` per member aggregate and flips the lots' status, all in one transaction,
so a crash leaves either the whole chunk or none of it. Lots are chosen by status and due
date, which makes every run idempotent and lets a late run catch up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    update,
)
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
from loyalty.store.types import Id, UtcDateTime
from loyalty.store.uow import Database

CHUNK = 50_000

# The lots of the chunk being worked on: chosen once, from the partial job index read in its
# own order (so the scan stops after CHUNK rows), then every statement of the chunk joins this
# table by primary key instead of evaluating the due condition again over every lot still due.
_chunk_meta = MetaData()
job_lots = Table(
    "job_lots",
    _chunk_meta,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("tenant_id", Id, nullable=False),
    Column("member_id", Id, nullable=False),
    Column("remaining", Integer, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_MOVING = job_lots.c.remaining > 0


def _lock(conn: Connection) -> None:
    """One job runner at a time on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7250001)"))


@contextmanager
def _chunk(db: Database, due: Any, occurred: Any) -> Iterator[tuple[Connection, int]]:
    """A transaction with up to CHUNK due lots copied into ``job_lots``; yields their count.

    The temporary table is created and dropped inside the transaction, so a rollback leaves
    nothing behind on either database."""
    with db.begin() as conn:
        _lock(conn)
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            restore = _big_cache(conn)
        job_lots.create(conn)
        try:
            conn.execute(
                insert(job_lots).from_select(
                    ["id", "tenant_id", "member_id", "remaining", "occurred_at"],
                    select(
                        lots.c.id, lots.c.tenant_id, lots.c.member_id, lots.c.remaining, occurred
                    )
                    .where(due)
                    .limit(CHUNK),
                )
            )
            # (rowcount of INSERT ... SELECT is -1 with psycopg: count the table instead)
            count = conn.execute(select(func.count()).select_from(job_lots)).scalar_one()
            if count and conn.dialect.name == "postgresql":
                conn.execute(text("ANALYZE job_lots"))
            yield conn, count
        finally:
            if sqlite:
                job_lots.drop(conn)
                for pragma in restore:
                    conn.exec_driver_sql(pragma)


# SQLite's default page cache (~2 MB) is far smaller than the index B-trees a chunk touches at
# a million lots; this connection gets a large one for the chunk, then its own size back.
_JOB_CACHE_KIB = 262_144


def _big_cache(conn: Connection) -> list[str]:
    restore = []
    for schema in ("main", "temp"):
        # The temporary schema reads 0 before its first use; SQLite's default is -2000.
        size = int(conn.exec_driver_sql(f"PRAGMA {schema}.cache_size").scalar_one()) or -2000
        restore.append(f"PRAGMA {schema}.cache_size={size}")
        conn.exec_driver_sql(f"PRAGMA {schema}.cache_size=-{_JOB_CACHE_KIB}")
    return restore


def _member_totals() -> Any:
    return (
        select(job_lots.c.member_id, func.sum(job_lots.c.remaining).label("total"))
        .where(_MOVING)
        .group_by(job_lots.c.member_id)
        .subquery()
    )


def _chunk_ids() -> Any:
    return lots.c.id.in_(select(job_lots.c.id))


def release_chunk(
    db: Database, now: datetime, tenant_id: int | None
) -> tuple[int, list[tuple[int, int]]]:
    """Release one chunk; returns (lots released, members with a negative balance to settle)."""
    due = and_(_PENDING, lots.c.available_at <= now, *_tenant(tenant_id))
    with _chunk(db, due, lots.c.available_at) as (conn, count):
        if not count:
            return 0, []
        conn.execute(
            insert(ledger_entries).from_select(
                _ENTRY_COLUMNS,
                select(
                    job_lots.c.tenant_id,
                    job_lots.c.member_id,
                    literal(EntryKind.RELEASE.value),
                    job_lots.c.remaining,
                    job_lots.c.remaining,
                    -job_lots.c.remaining,
                    literal(0),
                    job_lots.c.id,
                    literal("return window closed"),
                    job_lots.c.occurred_at,
                    literal(now, ledger_entries.c.created_at.type),
                )
                .where(_MOVING)
                .order_by(job_lots.c.id),
            )
        )
        totals = _member_totals()
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
                members.c.debt > 0, members.c.id.in_(select(job_lots.c.member_id).where(_MOVING))
            )
        ).all()
        conn.execute(update(lots).where(_chunk_ids()).values(status=LotStatus.AVAILABLE))
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
    with _chunk(db, due, occurred) as (conn, count):
        if not count:
            return 0
        before = conn.execute(select(func.coalesce(func.max(ledger_entries.c.id), 0))).scalar_one()
        conn.execute(
            insert(ledger_entries).from_select(
                _ENTRY_COLUMNS,
                select(
                    job_lots.c.tenant_id,
                    job_lots.c.member_id,
                    literal(EntryKind.EXPIRE.value),
                    -job_lots.c.remaining,
                    -job_lots.c.remaining,
                    literal(0),
                    literal(0),
                    job_lots.c.id,
                    literal(reason),
                    job_lots.c.occurred_at,
                    literal(now, ledger_entries.c.created_at.type),
                )
                .where(_MOVING)
                .order_by(job_lots.c.id),
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
        totals = _member_totals()
        conn.execute(
            update(members)
            .where(members.c.id == totals.c.member_id)
            .values(available=members.c.available - totals.c.total)
        )
        _outbox_expired(conn, now, reason)
        conn.execute(update(lots).where(_chunk_ids()).values(remaining=0, status=LotStatus.EXPIRED))
        return count


def _outbox_expired(conn: Connection, now: datetime, reason: str) -> None:
    """One ``points.expired`` event per member per run, in the same transaction, written
    set-based: the payload is built by the database from the chunk and the member's balances
    (read after this chunk's update)."""
    obj = func.json_object if conn.dialect.name == "sqlite" else func.json_build_object
    per_member = (
        select(
            job_lots.c.member_id,
            func.sum(job_lots.c.remaining).label("points"),
            func.count().label("lots"),
        )
        .where(_MOVING)
        .group_by(job_lots.c.member_id)
        .subquery()
    )
    conn.execute(
        insert(outbox_events).from_select(
            ["tenant_id", "type", "member_external_id", "payload", "created_at"],
            select(
                members.c.tenant_id,
                literal("points.expired"),
                members.c.external_id,
                obj(
                    _key("member"),
                    members.c.external_id,
                    _key("points"),
                    per_member.c.points,
                    _key("lots"),
                    per_member.c.lots,
                    _key("reason"),
                    cast(literal(reason), String),
                    _key("balances"),
                    obj(
                        _key("available"),
                        members.c.available,
                        _key("pending"),
                        members.c.pending,
                        _key("lifetime_earned"),
                        members.c.lifetime_earned,
                    ),
                ),
                literal(now, outbox_events.c.created_at.type),
            )
            .join(members, members.c.id == per_member.c.member_id)
            .order_by(per_member.c.member_id),
        )
    )


def _key(name: str) -> Any:
    """A JSON key as an SQL constant (PostgreSQL cannot type a bound parameter there)."""
    return literal_column(f"'{name}'", String)


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
