"""Rows that track background imports and their progress, and the history import's inserts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner
from loyalty.store.bulk import BulkWriter
from loyalty.store.tables import imports


class ImportRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def add(
        self, kind: str, filename: str, earn: bool, mapping: dict[str, str], now: datetime
    ) -> int:
        stmt = imports.insert().values(
            tenant_id=self.tenant_id,
            kind=kind,
            filename=filename,
            earn=int(earn),
            mapping=mapping,
            status="running",
            report={},
            created_at=now,
        )
        return int(self.conn.execute(stmt.returning(imports.c.id)).scalar_one())

    def get(self, import_id: int) -> RowMapping | None:
        stmt = select(imports).where(
            imports.c.tenant_id == self.tenant_id, imports.c.id == import_id
        )
        return self.conn.execute(stmt).mappings().first()

    def update(self, import_id: int, **values: Any) -> None:
        stmt = update(imports).where(
            imports.c.tenant_id == self.tenant_id, imports.c.id == import_id
        )
        self.conn.execute(stmt.values(**values))


class HistoryRows:
    """The history import's inserts, with rows as short as they can be: the values every
    imported order shares (tenant, status, nothing refunded, the entry kind, the time of the
    import) are written into the statement once instead of bound on every row.

    Rows (the parts after the ids come from the parser, see ``services.history``):

    - orders: (id, member id, order_id, currency, total, shipping, tax, base, lines JSON,
      points earned, paid_at)
    - lots: (id, member id, amount, status, earned_at, available_at, expires_at)
    - ledger entries: (id, member id, lot id, order id, points, available delta, pending
      delta, reason, occurred_at)

    On SQLite the statements take them as they are (numbered parameters repeat a value); on
    PostgreSQL they are widened to the tables' columns for ``BulkWriter.insert_rows``.
    """

    def __init__(self, raw: RawRunner, tenant_id: int, created_at: datetime) -> None:
        self.raw, self.tenant_id = raw, tenant_id
        self.created = raw.time(created_at)
        self._bulk = BulkWriter(raw, tenant_id)

    def _sqlite(self, template: str) -> str:
        created = str(self.created).replace("'", "''")
        return template.format(tenant=int(self.tenant_id), created=f"'{created}'")

    def orders(self, rows: list[tuple[Any, ...]]) -> None:
        if self.raw.sqlite:
            self.raw.executemany_rows(self._sqlite(_ORDERS), rows)
            return
        t, c = self.tenant_id, self.created
        wide = [(r[0], t, *r[1:10], 0, "paid", "0", "0", "{}", r[10], c) for r in rows]
        self._bulk.insert_rows("orders", wide)

    def lots(self, rows: list[tuple[Any, ...]]) -> None:
        if self.raw.sqlite:
            self.raw.executemany_rows(self._sqlite(_LOTS), rows)
            return
        t = self.tenant_id
        self._bulk.insert_rows("lots", [(r[0], t, r[1], r[2], *r[2:]) for r in rows])

    def entries(self, rows: list[tuple[Any, ...]]) -> None:
        if self.raw.sqlite:
            self.raw.executemany_rows(self._sqlite(_ENTRIES), rows)
            return
        t, c = self.tenant_id, self.created
        wide = [
            (e, t, m, "earn", p, a, d, p, lot, order, None, reason, at, c)
            for e, m, lot, order, p, a, d, reason, at in rows
        ]
        self._bulk.insert_rows("ledger_entries", wide)


_ORDERS = (
    "INSERT INTO orders (id, tenant_id, member_id, order_id, currency, total, shipping, tax, "
    "base, lines, points_earned, points_reversed, status, refunded_amount, refunded_base, "
    "refunded_quantities, paid_at, created_at) VALUES (?1, {tenant}, ?2, ?3, ?4, ?5, ?6, ?7, "
    "?8, ?9, ?10, 0, 'paid', '0', '0', '{{}}', ?11, {created})"
)
_LOTS = (
    "INSERT INTO lots (id, tenant_id, member_id, amount, remaining, status, earned_at, "
    "available_at, expires_at) VALUES (?1, {tenant}, ?2, ?3, ?3, ?4, ?5, ?6, ?7)"
)
_ENTRIES = (
    "INSERT INTO ledger_entries (id, tenant_id, member_id, kind, points, available_delta, "
    "pending_delta, lifetime_delta, lot_id, order_pk, event_pk, reason, occurred_at, "
    "created_at) VALUES (?1, {tenant}, ?2, 'earn', ?5, ?6, ?7, ?5, ?3, ?4, NULL, ?8, ?9, "
    "{created})"
)
