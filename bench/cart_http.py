"""Cart evaluation over HTTP: 100 active promotions, 20-line carts, one uvicorn worker, SQLite.

    .venv/bin/python -m bench.cart_http [--requests 3000] [--seed 7]

Creates the promotions of ``bench.cart_eval`` through ``POST /v1/promotions``, gives 200
members points, then sends ``POST /v1/carts/evaluate`` dry runs one after another on a kept-alive
connection (a member, three entered codes, some points to pay) and reports p50/p99, and the
server process's CPU time per request (from /proc, on Linux: less sensitive than latency to
other work on a shared machine). The same client measures a hello-world FastAPI app served
the same way as the floor of the HTTP stack. A second phase holds each cart under a checkout id
(writes: codes and points held).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import _harness as h
from bench.cart_eval import CATEGORIES, CODES, SKUS, percentile, promotion_data

TARGET_MS = {"p50": 3.0, "p99": 15.0}
MEMBERS = 200


def cart_body(rng: random.Random, index: int, checkout: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "member": f"m{index % MEMBERS}",
        "currency": "PLN",
        "shipping": "14.99",
        "lines": [
            {
                "sku": rng.choice(SKUS),
                "quantity": rng.randint(1, 3),
                "unit_price": f"{rng.randint(99, 19_999) / 100:.2f}",
                "category": rng.choice(CATEGORIES),
            }
            for _ in range(20)
        ],
        "coupon_codes": [*rng.sample(CODES, 2), "NOT-A-CODE"],
        "points_to_pay": rng.choice([0, 100, 500]),
    }
    if checkout:
        body["checkout_id"] = f"bench-{index}"
    return body


def timed(client: httpx.Client, path: str, bodies: list[dict[str, Any]]) -> list[float]:
    samples = []
    for body in bodies:
        start = time.perf_counter()
        response = client.post(path, json=body)
        samples.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(response.text)
    return samples


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far; None where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "requests": len(samples),
        "p50_ms": round(percentile(samples, 0.50), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


def seed(client: httpx.Client, rng: random.Random) -> None:
    program = {"point_value": "0.01", "points_max_share": "0.5"}
    assert client.put("/v1/program", json=program).status_code == 200
    for index in range(100):
        response = client.post("/v1/promotions", json=promotion_data(rng, index, False))
        if response.status_code != 201:
            raise RuntimeError(response.text)
    events = [
        {
            "id": f"seed-{n}",
            "type": "order.paid",
            "occurred_at": "2026-11-01T10:00:00Z",
            "member": {"external_id": f"m{n}"},
            "data": {
                "order_id": f"seed-{n}",
                "currency": "PLN",
                "lines": [{"sku": "x", "quantity": 1, "unit_price": "100000.00"}],
            },
        }
        for n in range(MEMBERS)
    ]
    assert client.post("/v1/events/batch", json={"events": events}).status_code == 200


def run(requests: int, seed_value: int) -> dict[str, Any]:
    rng = random.Random(seed_value)
    results: dict[str, Any] = {"promotions": 100, "lines_per_cart": 20, "target": TARGET_MS}
    with tempfile.TemporaryDirectory() as workdir:
        url = h.sqlite_url(Path(workdir))
        api_key = h.make_tenant(url, pending_days=0)
        hello = h.hello_server()
        try:
            with httpx.Client(base_url=hello.url) as client:
                hello_bodies = [{"n": n} for n in range(requests)]
                timed(client, "/v1/events", hello_bodies[:200])
                results["hello_floor"] = summary(timed(client, "/v1/events", hello_bodies))
        finally:
            hello.stop()
        server = h.product_server(url)
        headers = {"Authorization": f"Bearer {api_key}"}
        try:
            with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
                seed(client, rng)
                dry = [cart_body(rng, n, False) for n in range(requests)]
                timed(client, "/v1/carts/evaluate", dry[:300])  # warm up
                before = cpu_seconds(server.proc.pid)
                results["dry_run"] = summary(timed(client, "/v1/carts/evaluate", dry))
                after = cpu_seconds(server.proc.pid)
                if before is not None and after is not None:
                    cpu_ms = (after - before) * 1000 / len(dry)
                    results["dry_run"]["server_cpu_ms_per_request"] = round(cpu_ms, 2)
                held = [cart_body(rng, n, True) for n in range(requests // 3)]
                results["with_checkout_hold"] = summary(timed(client, "/v1/carts/evaluate", held))
                sample = client.post("/v1/carts/evaluate", json=dry[0]).json()
                results["applied_in_first_cart"] = len(sample["applied"])
                results["rejected_in_first_cart"] = len(sample["rejected"])
        finally:
            server.stop()
        results["check"] = h.loyalty_check(url)
    dry_run = results["dry_run"]
    results["met"] = {
        "p50": dry_run["p50_ms"] < TARGET_MS["p50"],
        "p99": dry_run["p99_ms"] < TARGET_MS["p99"],
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(args.requests, args.seed), indent=2))


if __name__ == "__main__":
    main()
