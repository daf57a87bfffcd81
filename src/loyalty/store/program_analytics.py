"""Read models for programme analytics: orders, members and ledger flows as Polars frames.

Times come out as UTC epoch seconds and money as integer minor units (``scale`` = 10 ** the
currency's exponent), both computed by the database, so the frames hold only integers and the
rows skip SQLAlchemy's per-row result processing.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import BigInteger, Float, Integer, Numeric, case, cast, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from loyalty.store.tables import guest_orders, ledger_entries, lots, members, orders, tenants

FLOW_KINDS = ("earn", "reverse", "redeem", "expire")

ORDERS_SCHEMA = {
    "id": pl.Int64,
    "member_id": pl.Int64,
    "paid_at": pl.Int64,
    "net": pl.Int64,
    "earned": pl.Int64,
}
MEMBERS_SCHEMA = {"member_id": pl.Int64, "joined_at": pl.Int64}
LEDGER_SCHEMA = {"id": pl.Int64, "kind": pl.String, "points": pl.Int64, "occurred_at": pl.Int64}


def order_frame(conn: Connection, tenant_id: int, scale: int) -> pl.DataFrame:
    """Every order that is not cancelled: member, when paid, value after refunds."""
    net = _minor(conn, orders.c.total, scale) - _minor(conn, orders.c.refunded_amount, scale)
    stmt = select(
        orders.c.id,
        orders.c.member_id,
        _epoch(conn, orders.c.paid_at).label("paid_at"),
        net.label("net"),
        case((orders.c.points_earned > 0, 1), else_=0).label("earned"),
    ).where(orders.c.tenant_id == tenant_id, orders.c.status != "cancelled")
    return _frame(conn, stmt, ORDERS_SCHEMA)


def member_frame(conn: Connection, tenant_id: int) -> pl.DataFrame:
    """Every member and when they joined the programme (the member row's creation)."""
    stmt = select(
        members.c.id.label("member_id"), _epoch(conn, members.c.created_at).label("joined_at")
    ).where(members.c.tenant_id == tenant_id)
    return _frame(conn, stmt, MEMBERS_SCHEMA)


def ledger_frame(conn: Connection, tenant_id: int) -> pl.DataFrame:
    """Ledger entries that issue, take back, redeem or expire points."""
    stmt = select(
        ledger_entries.c.id,
        ledger_entries.c.kind,
        ledger_entries.c.points,
        _epoch(conn, ledger_entries.c.occurred_at).label("occurred_at"),
    ).where(ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.kind.in_(FLOW_KINDS))
    return _frame(conn, stmt, LEDGER_SCHEMA)


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


def _frame(conn: Connection, stmt: Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """Run on the raw DBAPI cursor in chunks: no per-row SQLAlchemy processing."""
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
