"""order.paid events over HTTP: throughput vs the hello-world ceiling, fixed-rate latency, batch.

.venv/bin/python bench/http_events.py [--postgres [--workers N]] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from pathlib import Path

from bench import _harness as h


def run(url: str, seconds: int, workers: int = 1) -> dict[str, object]:
    api_key = h.make_tenant(url, pending_days=0)
    results: dict[str, object] = {}
    hello = h.hello_server(workers)  # the ceiling is served the same way
    try:
        results["hello_ceiling"] = h.wrk(hello.url, api_key, seconds=seconds)
    finally:
        hello.stop()
    server = h.product_server(url, workers)
    try:
        results["events"] = h.wrk(server.url, api_key, seconds=seconds)
        run_id = uuid.uuid4().hex[:8]
        bodies = [h.order_body(run_id, n) for n in range(500 * seconds)]
        results["fixed_rate_500"] = h.open_loop(
            server.port, "/v1/events", bodies, api_key, rate=500
        )
        batch = h.wrk(server.url, api_key, seconds=seconds, threads=1, connections=2, batch=1000)
        batch["events_per_s"] = batch["rps"] * 1000
        results["batch_1000"] = batch
    finally:
        server.stop()
    events = results["events"]
    ceiling = results["hello_ceiling"]
    assert isinstance(events, dict) and isinstance(ceiling, dict)
    results["ratio_to_ceiling"] = events["rps"] / ceiling["rps"]
    results["check"] = h.loyalty_check(url)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="API processes (PostgreSQL)")
    args = parser.parse_args()
    if args.postgres:
        url, name = h.postgres_url()
        try:
            results = run(url, args.seconds, args.workers)
        finally:
            h.drop_postgres(name)
    else:
        with tempfile.TemporaryDirectory() as workdir:
            results = run(h.sqlite_url(Path(workdir)), args.seconds)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
