"""Programme analytics over millions of orders in a SQLite file.

    .venv/bin/python -m bench.analytics_10m --orders 10000000 [--keep /tmp/analytics.db]
        [--read-model /tmp/analytics-read-model]

The generator writes the orders, their members (one per ten orders), ledger entries (earn for
every order placed after its member joined, reverse for cancelled and refunded orders, redeem
for one in ten, expire for one in twenty), one lot per member and some unclaimed guest orders,
all with set-based ``INSERT ... SELECT`` over a recursive counter, indexes built afterwards.
It then builds the analytics read model (services/program_snapshot.py) from the database and
saves it, loads it back as a new process would, and times ``program_analytics.all_figures``
(every figure over the whole history, by month: catch up with the database, then compute)
with a breakdown; as a yardstick, a bare SQLite scan that touches the same columns.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from loyalty.bootstrap import database
from loyalty.config import Settings
from loyalty.services import program_analytics, program_snapshot
from loyalty.services.program import load_context
from loyalty.services.program_analytics import Dataset, FigureQuery
from loyalty.services.tenants import create_tenant

START = datetime(2024, 11, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = int((END - START).total_seconds())
BASE = int(START.timestamp())
JOINED = f"(({{m}} * 2654435761) % {SPAN})"  # a member's join time, from its id

# Indexes dropped while loading and built once afterwards (much faster than row by row).
_INDEXES = {
    "ix_orders_member": "CREATE INDEX ix_orders_member ON orders (tenant_id, member_id)",
    "ix_entries_member": "CREATE INDEX ix_entries_member ON ledger_entries (tenant_id, member_id, id)",
    "ix_entries_order": "CREATE INDEX ix_entries_order ON ledger_entries (order_pk) "
    "WHERE order_pk IS NOT NULL",
    "ix_lots_member": "CREATE INDEX ix_lots_member ON lots (tenant_id, member_id)",
}


def _stamp(seconds: str) -> str:
    return f"datetime({BASE} + {seconds}, 'unixepoch') || '.000000'"


def generate(path: Path, n_orders: int, n_members: int) -> dict[str, float]:
    db = database(Settings(database_url=f"sqlite:///{path}", analytics_dir=""))
    create_tenant(db, "bench", "PLN", "Europe/Warsaw", "pl", START, pending_days=0)
    db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    timings: dict[str, float] = {}
    for name in _INDEXES:
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    steps = {
        "members": _members_sql(n_members),
        "orders": _orders_sql(n_orders, n_members),
        "ledger": _ledger_sql(),
        "lots": _lots_sql(),
    }
    for name, statements in steps.items():
        started = time.perf_counter()
        conn.execute("BEGIN")
        for sql in statements:
            conn.execute(sql)
        conn.execute("COMMIT")
        timings[f"generate {name}"] = time.perf_counter() - started
    started = time.perf_counter()
    _guests(conn, n_orders // 1000)
    for sql in _INDEXES.values():
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    timings["generate guests + indexes"] = time.perf_counter() - started
    conn.close()
    return timings


def _members_sql(n: int) -> list[str]:
    joined = _stamp(JOINED.format(m="i"))
    return [
        f"""INSERT INTO members (id, tenant_id, external_id, consents, status, available, pending,
            lifetime_earned, debt, created_at, updated_at)
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})
        SELECT i, 1, 'm' || i, '{{}}', 'active', 0, 0, 0, 0, {joined}, {joined} FROM s"""
    ]


def _orders_sql(n: int, members: int) -> list[str]:
    total = "printf('%d.%02d', cents / 100, cents % 100)"
    earned = f"CASE WHEN t >= {JOINED.format(m='m')} THEN cents / 100 ELSE 0 END"
    return [
        f"""INSERT INTO orders (id, tenant_id, member_id, order_id, currency, total, shipping, tax,
            base, lines, points_earned, points_reversed, status, refunded_amount, refunded_base,
            refunded_quantities, paid_at, created_at)
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}),
        r AS (SELECT i, abs(random()) % {members} + 1 AS m, abs(random()) % {SPAN} AS t,
                     abs(random()) % 49500 + 500 AS cents, abs(random()) % 100 AS fate FROM s)
        SELECT i, 1, m, 'o' || i, 'PLN', {total}, '0', '0', {total}, '[]', {earned},
               CASE WHEN fate < 5 THEN {earned} ELSE 0 END,
               CASE WHEN fate < 3 THEN 'cancelled' WHEN fate < 5 THEN 'refunded' ELSE 'paid' END,
               CASE WHEN fate BETWEEN 3 AND 4 THEN {total} ELSE '0' END,
               CASE WHEN fate BETWEEN 3 AND 4 THEN {total} ELSE '0' END,
               '{{}}', {_stamp("t")}, {_stamp("t")}
        FROM r"""
    ]


def _ledger_sql() -> list[str]:
    columns = """(tenant_id, member_id, kind, points, available_delta, pending_delta,
        lifetime_delta, order_pk, reason, occurred_at, created_at)"""

    def later(days: int) -> str:
        return f"datetime(paid_at, '+{days} days') || '.000000'"

    return [
        f"""INSERT INTO ledger_entries {columns}
        SELECT tenant_id, member_id, 'earn', points_earned, points_earned, 0, points_earned,
               id, 'order', paid_at, paid_at FROM orders WHERE points_earned > 0""",
        f"""INSERT INTO ledger_entries {columns}
        SELECT tenant_id, member_id, 'reverse', -points_reversed, -points_reversed, 0,
               -points_reversed, id, 'refund', {later(1)}, {later(1)}
        FROM orders WHERE points_reversed > 0""",
        f"""INSERT INTO ledger_entries {columns}
        SELECT tenant_id, member_id, 'redeem', -(points_earned / 2), -(points_earned / 2), 0, 0,
               NULL, 'reward', {later(30)}, {later(30)}
        FROM orders WHERE points_earned > 1 AND points_reversed = 0 AND id % 10 = 0""",
        f"""INSERT INTO ledger_entries {columns}
        SELECT tenant_id, member_id, 'expire', -(points_earned / 4), -(points_earned / 4), 0, 0,
               NULL, 'points expired', {later(180)}, {later(180)}
        FROM orders WHERE points_earned > 3 AND points_reversed = 0 AND id % 20 = 1""",
    ]


def _lots_sql() -> list[str]:
    return [
        """INSERT INTO lots (tenant_id, member_id, amount, remaining, status, earned_at,
            available_at)
        SELECT tenant_id, id, 1000, abs(random()) % 1000, 'available', created_at, created_at
        FROM members"""
    ]


def _guests(conn: sqlite3.Connection, n: int) -> None:
    rows = []
    for i in range(n):
        when = datetime.fromtimestamp(BASE + (i * 7919) % SPAN, UTC)
        order = {
            "order_id": f"g{i}",
            "currency": "PLN",
            "lines": [{"sku": "SKU", "quantity": 1, "unit_price": "42.00", "discount": "0"}],
            "shipping": "0",
            "tax": "0",
            "total": None,
        }
        event = {
            "event_id": f"g{i}",
            "occurred_at": when.isoformat(),
            "body_hash": "",
            "order": order,
        }
        stamp = when.strftime("%Y-%m-%d %H:%M:%S.%f")
        rows.append(
            (
                1,
                "shopify",
                f"g{i}",
                f"guest{i % (n // 2 or 1)}@example.com",
                json.dumps(event),
                stamp,
            )
        )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO guest_orders (tenant_id, platform, event_id, email, event, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")


def measure(path: Path, folder: Path) -> dict[str, float]:
    """Time the read model's build, save and load, then every figure from it (one request's
    work: catch up with the database, then compute), with a breakdown, and the bare scan."""
    timings: dict[str, float] = {}
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    conn.execute(
        "SELECT count(*), sum(member_id), sum(unixepoch(paid_at)), sum(length(total))"
        " FROM orders WHERE tenant_id = 1 AND status != 'cancelled'"
    ).fetchall()
    conn.execute(
        "SELECT count(*), sum(points), sum(unixepoch(occurred_at)) FROM ledger_entries"
        " WHERE tenant_id = 1 AND kind IN ('earn', 'reverse', 'redeem', 'expire')"
    ).fetchall()
    timings["ceiling: bare SQLite scan of orders + ledger"] = time.perf_counter() - started
    conn.close()
    db = database(Settings(database_url=f"sqlite:///{path}", analytics_dir=str(folder)))
    with db.read(1) as uow:
        ctx = load_context(uow)
    if not (folder / "tenant-1" / "current.json").exists():
        started = time.perf_counter()
        program_snapshot.build(db, ctx)
        timings["read model: first build from the database + save (once)"] = (
            time.perf_counter() - started
        )
    started = time.perf_counter()
    snapshots = program_snapshot.configure(db, folder)  # as a freshly started process
    snapshots.of(ctx)
    timings["read model: load the saved Parquet copy (process start)"] = (
        time.perf_counter() - started
    )
    query = FigureQuery()
    with db.read(1) as uow:  # the same work as all_figures, step by step
        started = time.perf_counter()
        facts = program_snapshot.current(db, uow.conn, ctx)
        timings["catch up with the database (nothing new)"] = time.perf_counter() - started
        data = Dataset(uow.conn, ctx, facts)
        for step in ("members", "sales", "points"):
            started = time.perf_counter()
            getattr(data, step)
            timings[f"prepare {step}"] = time.perf_counter() - started
        period = program_analytics.period_of(data, query, END)
        for name, compute in program_analytics.FIGURES.items():
            started = time.perf_counter()
            compute(data, period, query)
            timings[f"figure {name}"] = time.perf_counter() - started
    for run in (1, 2):
        started = time.perf_counter()
        program_analytics.all_figures(db, ctx, query, END)
        timings[f"all figures, end to end (run {run})"] = time.perf_counter() - started
    db.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="database file to reuse (made if missing)")
    parser.add_argument(
        "--read-model", type=Path, help="read model folder to reuse (built if missing)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "analytics.db"
        if not path.exists():
            for step, seconds in generate(path, args.orders, max(args.orders // 10, 1)).items():
                print(f"{step:48s} {seconds:8.2f} s", flush=True)
        counts = (
            sqlite3.connect(path)
            .execute(
                "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM members),"
                " (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM guest_orders)"
            )
            .fetchone()
        )
        print(
            f"orders {counts[0]:,}  members {counts[1]:,}  ledger entries {counts[2]:,}"
            f"  guest orders {counts[3]:,}"
        )
        folder = args.read_model or Path(tmp) / "read-model"
        timings = measure(path, folder)
        for step, seconds in timings.items():
            print(f"{step:58s} {seconds:8.2f} s")
        ceiling = timings["ceiling: bare SQLite scan of orders + ledger"]
        total = timings["all figures, end to end (run 2)"]
        print(f"all figures / bare scan: {total / ceiling:.2f}x")


if __name__ == "__main__":
    main()
