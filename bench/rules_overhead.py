"""What earning rules add to an ``order.paid`` event, in-process on SQLite (durable commits).

    .venv/bin/python -m bench.rules_overhead [--events 3000] [--rules 0]

Runs ``events.ingest`` for order events of two lines over 500 members on a fresh database.
With ``--rules 0`` (a tenant without rules) the only added work is one primary-key read of
the tenant's rule-set version; run the same command on a checkout without the rules engine to
compare. With ``--rules N`` the tenant has N order rules (a mix of the bench.rules_eval set),
so the per-event path evaluates them and writes their counters. CPU time of the process is
the comparable figure; wall time is dominated by the fsync of each commit.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from loyalty.api.schemas import EventIn, to_domain
from loyalty.bootstrap import migrate
from loyalty.services import events
from loyalty.services.program import load_context
from loyalty.services.tenants import create_tenant
from loyalty.store.db import make_engine
from loyalty.store.uow import Database

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
_adapter: TypeAdapter[Any] = TypeAdapter(EventIn)


def body(index: int) -> dict[str, Any]:
    return {
        "id": f"e{index}",
        "type": "order.paid",
        "occurred_at": NOW.isoformat(),
        "member": {"external_id": f"m{index % 500}"},
        "data": {
            "order_id": f"o{index}",
            "currency": "PLN",
            "lines": [
                {"sku": "a", "quantity": 2, "unit_price": "25.50", "category": "pets"},
                {"sku": "b", "quantity": 1, "unit_price": "9.99", "category": "toys"},
            ],
        },
    }


def measure(n_events: int, n_rules: int) -> dict[str, object]:
    folder = tempfile.mkdtemp()
    db = Database(make_engine(f"sqlite:///{folder}/bench.db"))
    migrate(db.engine)
    tenant = create_tenant(db, "bench", "PLN", "Europe/Warsaw", "pl", NOW, pending_days=0)
    with db.transaction(tenant.tenant_id) as uow:
        ctx = load_context(uow)
        if n_rules:  # imported here so that the script also runs on a checkout without rules
            from bench.rules_eval import rule_data
            from loyalty.services import rules
        for index in range(n_rules):
            data = {k: v for k, v in rule_data(index).items() if k != "id"}
            rules.create_rule(uow, ctx, data, NOW)
    inbound = [to_domain(_adapter.validate_python(body(i))) for i in range(n_events)]
    warm = max(n_events // 10, 1)
    for event in inbound[:warm]:
        events.ingest(db, ctx, event, NOW)
    cpu, wall = time.process_time(), time.perf_counter()
    for event in inbound[warm:]:
        events.ingest(db, ctx, event, NOW)
    count = n_events - warm
    result = {
        "events": count,
        "rules": n_rules,
        "cpu_us_per_event": round((time.process_time() - cpu) / count * 1e6),
        "wall_us_per_event": round((time.perf_counter() - wall) / count * 1e6),
    }
    db.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rules", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(measure(args.events, args.rules), indent=2))


if __name__ == "__main__":
    main()
