"""Set-based writes for many order events at once (event batches, history import).

Ids are reserved up front (SQLite: after MAX(id) under the write lock; PostgreSQL: from the
column's sequence) so that rows written with ``executemany`` can reference each other without
reading anything back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from loyalty.store._raw import RawRunner, RawStatement

_ENTRY_COLUMNS = (
    "id",
    "tenant_id",
    "member_id",
    "kind",
    "points",
    "available_delta",
    "pending_delta",
    "lifetime_delta",
    "lot_id",
    "order_pk",
    "event_pk",
    "reason",
    "occurred_at",
    "created_at",
)
_LOT_COLUMNS = (
    "id",
    "tenant_id",
    "member_id",
    "amount",
    "remaining",
    "status",
    "earned_at",
    "available_at",
    "expires_at",
)
_ORDER_COLUMNS = (
    "id",
    "tenant_id",
    "member_id",
    "order_id",
    "currency",
    "total",
    "shipping",
    "tax",
    "base",
    "lines",
    "points_earned",
    "points_reversed",
    "status",
    "refunded_amount",
    "refunded_base",
    "refunded_quantities",
    "paid_at",
    "created_at",
)
_INBOX_COLUMNS = (
    "id",
    "tenant_id",
    "source",
    "event_id",
    "type",
    "body_hash",
    "response",
    "occurred_at",
    "received_at",
)
_OUTBOX_COLUMNS = ("tenant_id", "type", "member_external_id", "payload", "created_at")
_MEMBER_COLUMNS = (
    "tenant_id",
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "birthday",
    "locale",
    "consents",
    "status",
    "available",
    "pending",
    "lifetime_earned",
    "debt",
    "created_at",
    "updated_at",
)


def _insert(table: str, columns: Sequence[str], json_params: tuple[str, ...] = ()) -> RawStatement:
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return RawStatement(f"INSERT INTO {table} ({names}) VALUES ({values})", json_params=json_params)


INSERT_ENTRIES = _insert("ledger_entries", _ENTRY_COLUMNS)
INSERT_LOTS = _insert("lots", _LOT_COLUMNS)
INSERT_ORDERS = _insert("orders", _ORDER_COLUMNS, ("lines", "refunded_quantities"))
INSERT_INBOX = _insert("inbox_events", _INBOX_COLUMNS, ("response",))
_INSERT_MEMBERS = RawStatement(
    _insert("members", _MEMBER_COLUMNS, ("consents",)).sql + " ON CONFLICT DO NOTHING",
    json_params=("consents",),
)
_ADD_BALANCES = RawStatement(
    """UPDATE members SET available = available + :d_available, pending = pending + :d_pending,
    lifetime_earned = lifetime_earned + :d_lifetime, last_activity_at = :activity_at
    WHERE tenant_id = :tenant_id AND id = :member_id"""
)
_MEMBER_LEDGER_COLUMNS = (
    "id",
    "external_id",
    "status",
    "email",
    "phone",
    "first_name",
    "last_name",
    "locale",
    "birthday",
    "available",
    "pending",
    "lifetime_earned",
    "debt",
)


class BulkWriter:
    def __init__(self, raw: RawRunner, tenant_id: int) -> None:
        self.raw = raw
        self.tenant_id = tenant_id

    def _in(
        self, sql: str, column: str, values: Sequence[Any], *, lock: bool = False, **params: Any
    ) -> list[Any]:
        if not values:  # "IN ()" is not SQL everywhere, and it matches nothing anyway
            return []
        names = [f"v{i}" for i in range(len(values))]
        text = sql + f" AND {column} IN ({', '.join(':' + n for n in names)})"
        if lock and not self.raw.sqlite:
            text += " ORDER BY id FOR UPDATE"
        bound = {"tenant_id": self.tenant_id, **params, **dict(zip(names, values, strict=True))}
        return list(self.raw.execute(RawStatement(text), bound).fetchall())

    def reserve_ids(self, table: str, count: int) -> list[int]:
        """Ids for ``count`` new rows; call only inside a write transaction."""
        if count == 0:
            return []
        if self.raw.sqlite:
            start = int(
                self.raw.one(RawStatement(f"SELECT COALESCE(MAX(id), 0) FROM {table}"), {})[0]
            )
            return list(range(start + 1, start + 1 + count))
        sql = RawStatement(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"
        )
        return [int(row[0]) for row in self.raw.execute(sql, {"n": count}).fetchall()]

    def seen_events(self, source: str, event_ids: Sequence[str]) -> dict[str, tuple[str, Any]]:
        rows = self._in(
            "SELECT event_id, body_hash, response FROM inbox_events WHERE tenant_id = :tenant_id "
            "AND source = :source",
            "event_id",
            event_ids,
            source=source,
        )
        return {e: (h, json.loads(r) if isinstance(r, str) else r) for e, h, r in rows}

    def members(self, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Members by external id, locked (PostgreSQL) for the rest of the transaction."""
        rows = self._in(
            f"SELECT {', '.join(_MEMBER_LEDGER_COLUMNS)} FROM members WHERE tenant_id = :tenant_id",
            "external_id",
            external_ids,
            lock=True,
        )
        return {row[1]: dict(zip(_MEMBER_LEDGER_COLUMNS, row, strict=True)) for row in rows}

    def add_members(self, rows: Iterable[dict[str, Any]]) -> None:
        self.executemany(_INSERT_MEMBERS, rows)

    def recorded_orders(self, order_ids: Sequence[str]) -> set[str]:
        rows = self._in(
            "SELECT order_id FROM orders WHERE tenant_id = :tenant_id", "order_id", order_ids
        )
        return {row[0] for row in rows}

    def add_balances(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if self.raw.sqlite or len(rows) < 2:
            self.executemany(_ADD_BALANCES, rows)
            return
        # PostgreSQL: one statement over arrays instead of an UPDATE per member (each a round
        # trip's worth of server work even when pipelined)
        self.add_balance_rows(
            [
                (
                    r["d_available"],
                    r["d_pending"],
                    r["d_lifetime"],
                    r["activity_at"],
                    r["member_id"],
                )
                for r in rows
            ]
        )

    def executemany(self, stmt: RawStatement, rows: Iterable[dict[str, Any]]) -> None:
        self.raw.executemany(stmt, list(rows))

    # --- positional rows (the history import's writer: no dict per row) ---------------------

    def _marks(self, count: int) -> str:
        return ", ".join(["?" if self.raw.sqlite else "%s"] * count)

    def insert_rows(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Rows of ``table`` as tuples in the column order ``HISTORY_COLUMNS[table]`` gives
        (JSON columns as JSON text)."""
        key = (self.raw.dialect, table)
        sql = _POSITIONAL.get(key)
        if sql is None:
            columns, json_columns = HISTORY_COLUMNS[table]
            marks = [
                ("CAST(%s AS JSON)" if c in json_columns else "%s") if not self.raw.sqlite else "?"
                for c in columns
            ]
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(marks)})"
            if table == "members":
                sql += " ON CONFLICT DO NOTHING"
            _POSITIONAL[key] = sql
        self.raw.executemany_rows(sql, rows)

    def member_rows(self, external_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """external id -> (id, status, email, debt), locked (PostgreSQL) for the transaction."""
        if not external_ids:
            return {}
        sql = (
            "SELECT external_id, id, status, email, debt FROM members WHERE tenant_id = "
            f"{self._marks(1)} AND external_id IN ({self._marks(len(external_ids))})"
        )
        if not self.raw.sqlite:
            sql += " ORDER BY id FOR UPDATE"
        return {
            row[0]: tuple(row[1:]) for row in self.raw.fetch(sql, [self.tenant_id, *external_ids])
        }

    def recorded_order_ids(self, order_ids: Sequence[str]) -> set[str]:
        if not order_ids:
            return set()
        sql = (
            f"SELECT order_id FROM orders WHERE tenant_id = {self._marks(1)} "
            f"AND order_id IN ({self._marks(len(order_ids))})"
        )
        return {row[0] for row in self.raw.fetch(sql, [self.tenant_id, *order_ids])}

    def add_balance_rows(self, rows: list[tuple[int, int, int, Any, int]]) -> None:
        """(d_available, d_pending, d_lifetime, activity_at, member id) per member."""
        if not self.raw.sqlite and len(rows) > 1 and len({r[4] for r in rows}) == len(rows):
            columns = list(zip(*rows, strict=True))
            self.raw.fetch_none(
                "UPDATE members AS m SET available = m.available + v.d_available, "
                "pending = m.pending + v.d_pending, "
                "lifetime_earned = m.lifetime_earned + v.d_lifetime, "
                "last_activity_at = v.activity_at "
                "FROM unnest(%s::integer[], %s::integer[], %s::integer[], "
                "%s::timestamptz[], %s::bigint[]) "
                "AS v(d_available, d_pending, d_lifetime, activity_at, member_id) "
                f"WHERE m.tenant_id = {self.tenant_id:d} AND m.id = v.member_id",
                [list(c) for c in columns],
            )
            return
        mark = "?" if self.raw.sqlite else "%s"
        sql = (
            f"UPDATE members SET available = available + {mark}, pending = pending + {mark}, "
            f"lifetime_earned = lifetime_earned + {mark}, last_activity_at = {mark} "
            f"WHERE tenant_id = {self.tenant_id:d} AND id = {mark}"
        )
        self.raw.executemany_rows(sql, rows)


HISTORY_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "orders": (_ORDER_COLUMNS, ("lines", "refunded_quantities")),
    "lots": (_LOT_COLUMNS, ()),
    "ledger_entries": (_ENTRY_COLUMNS, ()),
    "members": (_MEMBER_COLUMNS, ("consents",)),
    "inbox_events": (_INBOX_COLUMNS, ("response",)),
    "outbox_events": (_OUTBOX_COLUMNS, ("payload",)),
}
_POSITIONAL: dict[tuple[str, str], str] = {}
