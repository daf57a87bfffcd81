"""INSERT ... ON CONFLICT DO NOTHING for both dialects, built once per table and dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.dml import Insert

_STATEMENTS: dict[tuple[str, str], Insert] = {}


def _statement(conn: Connection, table: Table) -> Insert:
    key = (conn.dialect.name, table.name)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table).on_conflict_do_nothing().returning(*table.c)
        _STATEMENTS[key] = stmt
    return stmt


def insert_row_if_absent(conn: Connection, table: Table, values: dict[str, Any]) -> Row[Any] | None:
    """Insert a row unless a unique key already holds one; the new row, or None.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction, so a
    racing duplicate sees the committed row instead of failing.
    """
    return conn.execute(_statement(conn, table), values).first()
