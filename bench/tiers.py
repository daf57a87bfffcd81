"""Cost of tiers on the order path, in process: order events without a ladder, with one, and
the review job over many members.

    .venv/bin/python -m bench.tiers [--events 3000] [--members 1000] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from tests.builders import order_paid

from bench import _harness as h
from loyalty.bootstrap import database
from loyalty.config import Settings
from loyalty.services import events, tiers
from loyalty.services.program import load_context
from loyalty.store.tables import member_tiers, tenants

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
LADDER = {
    "metric": "points_earned",
    "window": {"kind": "calendar_year"},
    "levels": [
        {"id": "silver", "name": "Silver", "threshold": 100},
        {"id": "gold", "name": "Gold", "threshold": 1000},
        {"id": "platinum", "name": "Platinum", "threshold": 5000},
    ],
}


def _orders(db: Any, tenant_id: int, tag: str, n: int, members: int) -> float:
    """Seconds of work per order event; 100 events share a commit (as group commit does), so
    the disk's fsync does not hide the cost being measured."""
    with db.read(tenant_id) as uow:
        ctx = load_context(uow, "bench")
    evs = [
        order_paid(f"{tag}{i}", f"m{i % members}", f"{tag}{i}", [("a", 1, "40")], NOW)
        for i in range(n)
    ]
    started = time.perf_counter()
    for first in range(0, n, 100):
        with db.transaction(tenant_id) as uow:
            for ev in evs[first : first + 100]:
                events.process(uow, ctx, ev, NOW)
    return (time.perf_counter() - started) / n


def run(url: str, n: int, members: int) -> dict[str, object]:
    h.make_tenant(url, pending_days=0)
    db = database(Settings(database_url=url))
    with db.engine.connect() as conn:
        tenant_id = conn.execute(select(func.max(tenants.c.id))).scalar_one()
    results: dict[str, object] = {}
    _orders(db, tenant_id, "warm", 200, members)
    results["order_without_tiers_us"] = round(_orders(db, tenant_id, "a", n, members) * 1e6)
    with db.transaction(tenant_id) as uow:
        tiers.create_tiers(uow, load_context(uow, "bench"), LADDER, NOW)
    results["order_with_tiers_us"] = round(_orders(db, tenant_id, "b", n, members) * 1e6)
    with db.engine.begin() as conn:  # every member's review falls due
        conn.execute(
            update(member_tiers)
            .where(member_tiers.c.tenant_id == tenant_id)
            .values(check_at=NOW, review_at=NOW)
        )
        due = conn.execute(
            select(func.count()).where(member_tiers.c.tenant_id == tenant_id)
        ).scalar_one()
    started = time.perf_counter()
    tiers.review_due(db, NOW + timedelta(days=400), tenant_id)
    elapsed = time.perf_counter() - started
    results["review_members"] = due
    results["review_members_per_s"] = round(due / elapsed)
    db.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        url, name = h.postgres_url()
        try:
            results = run(url, args.events, args.members)
        finally:
            h.drop_postgres(name)
    else:
        with tempfile.TemporaryDirectory() as workdir:
            results = run(h.sqlite_url(Path(workdir)), args.events, args.members)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
