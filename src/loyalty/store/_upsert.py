"""INSERT ... ON CONFLICT DO NOTHING for both dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_if_absent(conn: Connection, table: Table, values: dict[str, Any]) -> int | None:
    """Insert a row unless a unique key already holds one; return the new id or None.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction, so a
    racing duplicate sees the committed row instead of failing.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return conn.execute(stmt).scalar()
