"""Hot-path statements run straight on the DBAPI cursor.

SQLAlchemy Core costs ~100 µs per statement on a small machine; the ledger's hot path (an
order event is seven statements) spends most of its time there. These few statements are
written once in SQL with ``:name`` parameters, rendered per dialect (``%(name)s`` for
psycopg), and given values already in the form each driver stores: SQLite keeps UTC times as
naive ``YYYY-MM-DD HH:MM:SS.ffffff`` text exactly as ``loyalty.store.types.UtcDateTime`` does,
so rows written here and by SQLAlchemy compare and sort the same.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy.engine import Connection

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def dump_json(value: Any) -> str:
    """Compact JSON text (orjson: several times faster than the standard library here)."""
    return orjson.dumps(value, default=_default).decode()


@lru_cache(maxsize=4096)
def _sqlite_text(value: datetime) -> str:
    # Batches repeat the same instants (now, one occurred_at per event): remember the text.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def sqlite_text(value: datetime) -> str:
    """A time as SQLite stores it (naive UTC text), as ``RawRunner.time`` gives it."""
    return _sqlite_text(value)


class RawStatement:
    def __init__(self, sql: str, *, json_params: tuple[str, ...] = ()) -> None:
        self.sql = " ".join(sql.split())
        self.json_params = json_params
        self._rendered: dict[str, str] = {}

    def render(self, dialect: str) -> str:
        text = self._rendered.get(dialect)
        if text is None:
            if dialect == "postgresql":
                text = _PARAM.sub(
                    lambda m: (
                        f"CAST(%({m.group(1)})s AS JSON)"
                        if m.group(1) in self.json_params
                        else f"%({m.group(1)})s"
                    ),
                    self.sql,
                )
            else:
                text = self.sql
            self._rendered[dialect] = text
        return text


class RawRunner:
    """Runs ``RawStatement``s on one connection's cursor, inside its current transaction."""

    def __init__(self, conn: Connection) -> None:
        self.dialect = conn.dialect.name
        self.sqlite = self.dialect == "sqlite"
        self._conn = conn
        self._cursor: Any = None

    def _cur(self) -> Any:
        if self._cursor is None:
            self._cursor = self._conn.connection.cursor()
        return self._cursor

    def execute(self, stmt: RawStatement, params: dict[str, Any]) -> Any:
        cursor = self._cur()
        cursor.execute(stmt.render(self.dialect), params)
        return cursor

    def savepoint(self, name: str) -> None:
        self._cur().execute(f"SAVEPOINT {name}")

    def release(self, name: str) -> None:
        self._cur().execute(f"RELEASE SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        cursor = self._cur()
        cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
        cursor.execute(f"RELEASE SAVEPOINT {name}")

    def executemany(self, stmt: RawStatement, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._cur().executemany(stmt.render(self.dialect), rows)

    def executemany_rows(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """``executemany`` with positional rows; ``sql`` already in the driver's paramstyle
        (``?`` for sqlite3, ``%s`` for psycopg). Cheaper than named parameters per row."""
        if rows:
            self._cur().executemany(sql, rows)

    def fetch(self, sql: str, params: tuple[Any, ...] | list[Any]) -> list[Any]:
        """Rows of a query with positional parameters in the driver's paramstyle."""
        cursor = self._cur()
        cursor.execute(sql, params)
        return list(cursor.fetchall())

    def fetch_none(self, sql: str, params: tuple[Any, ...] | list[Any]) -> None:
        """A statement with positional parameters in the driver's paramstyle, no rows back."""
        self._cur().execute(sql, params)

    def one(self, stmt: RawStatement, params: dict[str, Any]) -> Any:
        return self.execute(stmt, params).fetchone()

    def time(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite:
            return value
        return _sqlite_text(value)

    def read_time(self, value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return (
                value.astimezone(UTC)
                if isinstance(value, datetime) and value.tzinfo
                else (value.replace(tzinfo=UTC) if isinstance(value, datetime) else None)
            )
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def json(self, value: Any) -> Any:
        return None if value is None else dump_json(value)
