"""Read models for programme analytics: orders, members and ledger flows as Polars frames.

Times come out as UTC epoch seconds and money as integer minor units (``scale`` = 10 ** the
currency's exponent), both computed by the database, so the frames hold only integers and the
rows skip SQLAlchemy's per-row result processing.

The ``*_rows`` readers return rows in id order from ``after`` on (or the rows of given ids), so
the columnar read model (services/program_snapshot.py) appends only what is new, and
``changes`` lists the rows changed since (``analytics_changes``, written by ``note_change``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import BigInteger, Float, Integer, Numeric, case, cast, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from loyalty.store.tables import (
    analytics_changes,
    guest_orders,
    ledger_entries,
    lots,
    members,
    orders,
    tenants,
)

# Kinds of ledger entries that move points in or out of the programme, coded as 0..3.
FLOW_KINDS = ("earn", "reverse", "redeem", "expire")


def order_rows(
    conn: Connection,
    tenant_id: int,
    scale: int,
    *,
    after: int = 0,
    ids: Sequence[int] | None = None,
) -> pl.DataFrame:
    """Every order (from id ``after`` on, or of ``ids``), by id: ``id``, ``member_id``,
    ``paid_at`` (epoch seconds), ``net`` (value after refunds, minor units; 0 once cancelled)
    and ``earned`` (1 if it earned points)."""
    net = _minor(conn, orders.c.total, scale) - _minor(conn, orders.c.refunded_amount, scale)
    earned = case((orders.c.points_earned > 0, 1), else_=0)
    stmt = select(
        orders.c.id,
        orders.c.member_id,
        _epoch(conn, orders.c.paid_at) * 2 + earned,  # packed: fewer values to fetch
        case((orders.c.status == "cancelled", 0), else_=net),
    ).where(orders.c.tenant_id == tenant_id)
    frame = _by_id(conn, stmt, orders.c.id, after, ids, ["id", "member_id", "packed", "net"])
    return frame.select(
        "id",
        "member_id",
        (pl.col("packed") // 2).alias("paid_at"),
        "net",
        (pl.col("packed") % 2).alias("earned"),
    )


def member_rows(conn: Connection, tenant_id: int, *, after: int = 0) -> pl.DataFrame:
    """Members from id ``after`` on, by id: ``member_id`` and ``joined_at`` (epoch seconds)."""
    stmt = select(members.c.id, _epoch(conn, members.c.created_at)).where(
        members.c.tenant_id == tenant_id
    )
    return _by_id(conn, stmt, members.c.id, after, None, ["member_id", "joined_at"])


FLOW_KIND = pl.Enum(["earn", "reverse", "redeem", "expire"])


def ledger_rows(conn: Connection, tenant_id: int, *, after: int = 0) -> pl.DataFrame:
    """Ledger entries that issue, take back, redeem or expire points, from id ``after`` on, by
    id: ``id``, ``kind``, ``points``, ``occurred_at`` (epoch seconds)."""
    code = case(*((ledger_entries.c.kind == kind, n) for n, kind in enumerate(FLOW_KINDS)), else_=0)
    stmt = select(
        ledger_entries.c.id,
        _epoch(conn, ledger_entries.c.occurred_at) * 4 + code,
        ledger_entries.c.points,
    ).where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.kind.in_(FLOW_KINDS))
    frame = _by_id(conn, stmt, ledger_entries.c.id, after, None, ["id", "packed", "points"])
    return frame.select(
        "id",
        pl.col("packed")
        .mod(4)
        .replace_strict(list(range(4)), list(FLOW_KINDS), return_dtype=FLOW_KIND)
        .alias("kind"),
        "points",
        (pl.col("packed") // 4).alias("occurred_at"),
    )


def guest_rows(
    conn: Connection, tenant_id: int, *, after: int = 0, ids: Sequence[int] | None = None
) -> list[tuple[int, str | None, Any, bool]]:
    """Store guest orders (from id ``after`` on, or of ``ids``), by id: (id, email, stored
    event, claimed)."""
    stmt = select(
        guest_orders.c.id,
        guest_orders.c.email,
        guest_orders.c.event,
        guest_orders.c.claimed_at.is_not(None),
    ).where(guest_orders.c.tenant_id == tenant_id)
    rows: list[tuple[int, str | None, Any, bool]] = []
    for part in _parts(ids):
        chosen = stmt.where(guest_orders.c.id.in_(part) if part else guest_orders.c.id > after)
        for row in conn.execute(chosen.order_by(guest_orders.c.id)):
            rows.append((row[0], row[1], row[2], bool(row[3])))
    return rows


def changes(conn: Connection, tenant_id: int, *, after: int) -> list[tuple[int, str, int]]:
    """Rows changed after they were recorded, from change id ``after`` on: (id, source, row)."""
    stmt = (
        select(analytics_changes.c.id, analytics_changes.c.source, analytics_changes.c.row_pk)
        .where(analytics_changes.c.tenant_id == tenant_id, analytics_changes.c.id > after)
        .order_by(analytics_changes.c.id)
    )
    return [(row[0], row[1], row[2]) for row in conn.execute(stmt)]


def note_change(conn: Connection, tenant_id: int, source: str, row_pk: int) -> None:
    """Record that an order (``source='order'``) or a guest order (``'guest_order'``) changed
    after it was recorded, in the caller's transaction."""
    conn.execute(
        analytics_changes.insert().values(tenant_id=tenant_id, source=source, row_pk=row_pk)
    )


def order_frame(conn: Connection, tenant_id: int, scale: int) -> pl.DataFrame:
    """Every order that is not cancelled: ``member_id``, ``paid_at`` (epoch seconds), ``net``
    (value after refunds, minor units) and ``earned`` (1 if it earned points)."""
    net = _minor(conn, orders.c.total, scale) - _minor(conn, orders.c.refunded_amount, scale)
    earned = case((orders.c.points_earned > 0, 1), else_=0)
    stmt = select(
        orders.c.member_id,
        _epoch(conn, orders.c.paid_at) * 2 + earned,  # packed: fewer values to fetch
        net,
    ).where(orders.c.tenant_id == tenant_id, orders.c.status != "cancelled")
    frame = _frame(conn, stmt, ["member_id", "packed", "net"])
    return frame.select(
        "member_id",
        (pl.col("packed") // 2).alias("paid_at"),
        "net",
        (pl.col("packed") % 2).alias("earned"),
    )


def member_frame(conn: Connection, tenant_id: int) -> pl.DataFrame:
    """Every member and when they joined the programme (the member row's creation)."""
    stmt = select(members.c.id, _epoch(conn, members.c.created_at)).where(
        members.c.tenant_id == tenant_id
    )
    return _frame(conn, stmt, ["member_id", "joined_at"])


def ledger_frame(conn: Connection, tenant_id: int) -> pl.DataFrame:
    """Ledger entries that issue, take back, redeem or expire points: ``kind``, ``points``,
    ``occurred_at`` (epoch seconds)."""
    code = case(*((ledger_entries.c.kind == kind, n) for n, kind in enumerate(FLOW_KINDS)), else_=0)
    stmt = select(
        _epoch(conn, ledger_entries.c.occurred_at) * 4 + code, ledger_entries.c.points
    ).where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.kind.in_(FLOW_KINDS))
    frame = _frame(conn, stmt, ["packed", "points"])
    kinds = pl.Series(FLOW_KINDS)
    return frame.select(
        pl.col("packed")
        .mod(4)
        .replace_strict(list(range(4)), kinds, return_dtype=pl.String)
        .alias("kind"),
        "points",
        (pl.col("packed") // 4).alias("occurred_at"),
    )


def tenant_created_at(conn: Connection, tenant_id: int) -> datetime:
    stmt = select(tenants.c.created_at).where(tenants.c.id == tenant_id)
    created: datetime = conn.execute(stmt).scalar_one()
    return created


def unclaimed_guest_orders(conn: Connection, tenant_id: int) -> list[Any]:
    """Store orders placed without an account that no member has claimed: (email, event)."""
    stmt = select(guest_orders.c.email, guest_orders.c.event).where(
        guest_orders.c.tenant_id == tenant_id, guest_orders.c.claimed_at.is_(None)
    )
    return list(conn.execute(stmt))


def outstanding_points(conn: Connection, tenant_id: int) -> dict[str, int]:
    """Points still held in lots, by status (pending, available)."""
    stmt = (
        select(lots.c.status, func.coalesce(func.sum(lots.c.remaining), 0))
        .where(lots.c.tenant_id == tenant_id, lots.c.status.in_(("pending", "available")))
        .group_by(lots.c.status)
    )
    found = {status: int(total) for status, total in conn.execute(stmt)}
    return {"pending": found.get("pending", 0), "available": found.get("available", 0)}


def point_flow_totals(conn: Connection, tenant_id: int) -> dict[str, int]:
    """All-time points issued, reversed, redeemed and expired (as positive numbers)."""
    stmt = (
        select(ledger_entries.c.kind, func.sum(func.abs(ledger_entries.c.points)))
        .where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.kind.in_(FLOW_KINDS))
        .group_by(ledger_entries.c.kind)
    )
    found = {kind: int(total) for kind, total in conn.execute(stmt)}
    names = {"earn": "issued", "reverse": "reversed", "redeem": "redeemed", "expire": "expired"}
    return {name: found.get(kind, 0) for kind, name in names.items()}


def _epoch(conn: Connection, column: Any) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":
        if sqlite3.sqlite_version_info >= (3, 38):
            return func.unixepoch(column)  # about twice as fast as strftime('%s')
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def _minor(conn: Connection, column: Any, scale: int) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":
        return cast(func.round(cast(column, Float) * scale), Integer)
    return cast(func.round(cast(column, Numeric) * scale), BigInteger)


def _by_id(
    conn: Connection,
    stmt: Select[Any],
    id_column: Any,
    after: int,
    ids: Sequence[int] | None,
    names: list[str],
) -> pl.DataFrame:
    frames = [
        _frame(
            conn,
            stmt.where(id_column.in_(part) if part else id_column > after).order_by(id_column),
            names,
        )
        for part in _parts(ids)
    ]
    frame = pl.concat(frames) if len(frames) > 1 else frames[0]
    return frame.set_sorted(names[0])


def _parts(ids: Sequence[int] | None) -> list[list[int]]:
    """``[[]]`` (meaning "by ``after``") or the ids in sorted chunks of a bounded size."""
    if ids is None:
        return [[]]
    chosen = sorted(set(ids))
    return [chosen[n : n + 1_000] for n in range(0, len(chosen), 1_000)] or [[-1]]


def _frame(conn: Connection, stmt: Select[Any], names: list[str]) -> pl.DataFrame:
    """Integer columns, read on the raw DBAPI cursor in chunks (no per-row SQLAlchemy work)."""
    schema = {name: pl.Int64 for name in names}
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        chunks = []
        while rows := cursor.fetchmany(_CHUNK):
            chunks.append(pl.DataFrame(rows, schema=schema, orient="row"))
    finally:
        cursor.close()
    return pl.concat(chunks) if chunks else pl.DataFrame(schema=schema)


_CHUNK = 250_000
