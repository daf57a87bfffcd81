"""Nightly jobs: release pending lots and expire lots, set-based, in lots per second.

    .venv/bin/python -m bench.jobs_bulk [--lots 1000000] [--postgres]

Lots are loaded straight into the tables (members, earn entries, lots) in bulk, then
``release_due`` then ``expire_due`` are timed (wall, and the CPU time of this process: on
SQLite that is all the work, on PostgreSQL only the client's share), first with every lot due
for release, then with every lot due to expire. ``loyalty check`` must be clean afterwards.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench import _harness as h
from loyalty.bootstrap import database
from loyalty.config import Settings
from loyalty.services.checks import check_ledger
from loyalty.services.jobs import expire_due, release_due
from loyalty.store.tables import ledger_entries, lots, members, tenants

EARNED = datetime(2026, 1, 1, tzinfo=UTC)


def load(url: str, n_lots: int, per_member: int = 10) -> int:
    db = database(Settings(database_url=url))
    h.make_tenant(url, pending_days=14, expiry={"kind": "days_after_earn", "days": 30})
    with db.engine.begin() as conn:
        tenant_id = conn.execute(select(func.max(tenants.c.id))).scalar_one()
        n_members = n_lots // per_member
        chunk = 20_000
        for start in range(0, n_members, chunk):
            conn.execute(
                members.insert(),
                [
                    {
                        "tenant_id": tenant_id,
                        "external_id": f"b{i}",
                        "consents": {},
                        "status": "active",
                        "available": 0,
                        "pending": 10 * per_member,
                        "lifetime_earned": 10 * per_member,
                        "debt": 0,
                        "created_at": EARNED,
                        "updated_at": EARNED,
                    }
                    for i in range(start, min(n_members, start + chunk))
                ],
            )
        first_member = conn.execute(
            select(func.min(members.c.id)).where(members.c.tenant_id == tenant_id)
        ).scalar_one()
        available_at = EARNED + timedelta(days=14)
        for start in range(0, n_lots, chunk):
            ids = range(start, min(n_lots, start + chunk))
            conn.execute(
                lots.insert(),
                [
                    {
                        "tenant_id": tenant_id,
                        "member_id": first_member + i // per_member,
                        "amount": 10,
                        "remaining": 10,
                        "status": "pending",
                        "earned_at": EARNED,
                        "available_at": available_at,
                        "expires_at": available_at + timedelta(days=30),
                    }
                    for i in ids
                ],
            )
        lot_ids = conn.execute(
            select(lots.c.id, lots.c.member_id)
            .where(lots.c.tenant_id == tenant_id)
            .order_by(lots.c.id)
        ).all()
        for start in range(0, len(lot_ids), chunk):
            conn.execute(
                ledger_entries.insert(),
                [
                    {
                        "tenant_id": tenant_id,
                        "member_id": member_id,
                        "kind": "earn",
                        "points": 10,
                        "available_delta": 0,
                        "pending_delta": 10,
                        "lifetime_delta": 10,
                        "lot_id": lot_id,
                        "reason": "bench",
                        "occurred_at": EARNED,
                        "created_at": EARNED,
                    }
                    for lot_id, member_id in lot_ids[start : start + chunk]
                ],
            )
    db.close()
    return int(tenant_id)


def run(url: str, n_lots: int) -> dict[str, object]:
    load(url, n_lots)
    db = database(Settings(database_url=url))
    started, cpu = time.perf_counter(), time.process_time()
    released, _ = release_due(db, EARNED + timedelta(days=20))
    release_s = time.perf_counter() - started
    release_cpu = time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    expired = expire_due(db, EARNED + timedelta(days=60))
    expire_s = time.perf_counter() - started
    expire_cpu = time.process_time() - cpu
    report = check_ledger(db)
    db.close()
    return {
        "lots": n_lots,
        "released": released,
        "release_lots_per_s": round(released / release_s),
        "release_s": round(release_s, 2),
        "release_cpu_s": round(release_cpu, 2),
        "expired": expired,
        "expire_lots_per_s": round(expired / expire_s),
        "expire_s": round(expire_s, 2),
        "expire_cpu_s": round(expire_cpu, 2),
        "check": f"{report.members} members, {len(report.violations)} violations",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        url, name = h.postgres_url()
        try:
            print(json.dumps(run(url, args.lots), indent=2))
        finally:
            h.drop_postgres(name)
        return
    with tempfile.TemporaryDirectory() as workdir:
        print(json.dumps(run(h.sqlite_url(Path(workdir)), args.lots), indent=2))


if __name__ == "__main__":
    main()
