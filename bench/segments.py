"""Segment materialisation: a CEL rule segment and the 16 built-in ones over N members.

    .venv/bin/python -m bench.segments [--members 200000] [--postgres]

Members and their profiles are loaded straight into the tables. Timed: the first refresh
(everyone enters: memberships, history and outbox rows), a second one that must change
nothing (computing and diffing only), and one after a tenth of the members changed category.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from bench import _harness as h
from loyalty.bootstrap import database
from loyalty.config import Settings
from loyalty.services import segments
from loyalty.services.segment_refresh import refresh_segments
from loyalty.store.tables import member_profiles, members, outbox_events, tenants
from loyalty.store.uow import Database

NOW = datetime(2026, 3, 1, tzinfo=UTC)
RULE = 'member.rfm_segment == "At Risk" && member.favourite_category == "cats"'
RFM = ["Champions", "Loyal", "At Risk", "Hibernating", "Lost", "New"]
STAGES = ["new", "active", "at_risk", "lapsed", "won_back"]
CATEGORIES = ["cats", "dogs", "birds", "fish"]


def _profile(tenant_id: int, member_id: int, rng: random.Random) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "tenant_id": tenant_id,
        "orders": 3,
        "purchase_days": 3,
        "spend": Decimal("120.00"),
        "aov": Decimal("40.00"),
        "first_order_at": date(2025, 1, 1),
        "last_order_at": date(2026, 1, 1),
        "days_since_last_order": rng.randint(0, 400),
        "favourite_category": rng.choice(CATEGORIES),
        "category_shares": {},
        "rfm_recency": 3,
        "rfm_frequency": 3,
        "rfm_monetary": 3,
        "rfm_segment": rng.choice(RFM),
        "lifecycle_stage": rng.choice(STAGES),
        "refreshed_at": NOW,
    }


def load(url: str, n: int) -> int:
    h.make_tenant(url)
    db = database(Settings(database_url=url))
    rng = random.Random(1)
    chunk = 20_000
    with db.engine.begin() as conn:
        tenant_id = int(conn.execute(select(func.max(tenants.c.id))).scalar_one())
        for start in range(0, n, chunk):
            conn.execute(
                members.insert(),
                [
                    {
                        "tenant_id": tenant_id,
                        "external_id": f"m{i}",
                        "email": f"m{i}@example.com",
                        "consents": {},
                        "status": "active",
                        "available": 0,
                        "pending": 0,
                        "lifetime_earned": 0,
                        "debt": 0,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in range(start, min(n, start + chunk))
                ],
            )
        ids = list(
            conn.execute(select(members.c.id).where(members.c.tenant_id == tenant_id)).scalars()
        )
        for start in range(0, n, chunk):
            conn.execute(
                member_profiles.insert(),
                [_profile(tenant_id, m, rng) for m in ids[start : start + chunk]],
            )
    db.close()
    return tenant_id


def _timed(db: Database, tenant_id: int) -> tuple[float, float, int, int]:
    """Wall and CPU seconds (this process; the machine is shared), entered, left."""
    started, cpu = time.perf_counter(), time.process_time()
    reports = refresh_segments(db, tenant_id, NOW)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds, cpu, sum(r.entered for r in reports), sum(r.left for r in reports)


def run(url: str, n: int) -> dict[str, object]:
    tenant_id = load(url, n)
    db = database(Settings(database_url=url))
    with db.transaction(tenant_id) as uow:
        segments.create_segment(
            uow, {"id": "cats-at-risk", "name": "x", "kind": "rule", "rule": RULE}, NOW
        )
    first = _timed(db, tenant_id)
    second = _timed(db, tenant_id)
    with db.engine.begin() as conn:
        conn.execute(
            update(member_profiles)
            .where(member_profiles.c.tenant_id == tenant_id, member_profiles.c.member_id % 10 == 0)
            .values(favourite_category="cats")
        )
    third = _timed(db, tenant_id)
    with db.read(tenant_id) as uow:
        events = uow.conn.execute(
            select(func.count()).where(outbox_events.c.tenant_id == tenant_id)
        ).scalar_one()
    db.close()

    def row(result: tuple[float, float, int, int]) -> dict[str, object]:
        seconds, cpu, entered, left = result
        return {
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),
            "members_per_s": round(n / seconds),
            "entered": entered,
            "left": left,
        }

    return {
        "members": n,
        "first_refresh": row(first),
        "second_refresh_no_change": row(second),
        "after_10pct_changed": row(third),
        "outbox_events": events,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        url, name = h.postgres_url()
        try:
            print(json.dumps(run(url, args.members), indent=2))
        finally:
            h.drop_postgres(name)
        return
    with tempfile.TemporaryDirectory() as workdir:
        print(json.dumps(run(h.sqlite_url(Path(workdir)), args.members), indent=2))


if __name__ == "__main__":
    main()
