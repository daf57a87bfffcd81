"""CPU per order event through the whole ASGI app, in process (no sockets, no load generator).

    .venv/bin/python -m bench.events_cpu [--events 5000] [--in-flight 32] [--batch 0] [--postgres]

The HTTP benchmark (bench.http_events) needs a quiet machine: wrk and the server share two
cores, so other work on the machine moves its numbers a lot. This one drives the FastAPI app
directly with ASGI calls, ``--in-flight`` requests at a time as a server would, and reports
CPU time of the process per event: routing, authentication, validation, the ledger writes and
the durable commit, the response. It is the cost the server's one core pays per event; the
event loop's share (the request's side, measured on its thread) is reported apart from the
writer thread's.
``--batch N`` sends ``POST /v1/events/batch`` with N events per request instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import _harness as h


async def _post(app: Any, path: str, body: bytes, api_key: str) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {api_key}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    delivered = False
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"{path} answered {statuses}")


async def _measure(url: str, events: int, in_flight: int, batch: int) -> dict[str, Any]:
    from loyalty.api.app import create_app
    from loyalty.bootstrap import database
    from loyalty.config import Settings

    api_key = h.make_tenant(url, pending_days=0)
    db = database(Settings(database_url=url))
    app = create_app(db)
    run = uuid.uuid4().hex[:8]
    if batch:
        path = "/v1/events/batch"
        bodies = [
            b'{"events":['
            + b",".join(h.order_body(run, k * batch + i) for i in range(batch))
            + b"]}"
            for k in range(events // batch)
        ]
        in_flight, per_body = 1, batch
    else:
        path, per_body = "/v1/events", 1
        bodies = [h.order_body(run, n) for n in range(events)]

    async def client(mine: list[bytes]) -> None:
        for body in mine:
            await _post(app, path, body, api_key)

    async def send_all(part: list[bytes]) -> None:
        await asyncio.gather(*(client(part[k::in_flight]) for k in range(in_flight)))

    warm = max(len(bodies) // 5, 1)
    await send_all(bodies[:warm])
    cpu, loop_cpu, wall = time.process_time(), time.thread_time(), time.perf_counter()
    await send_all(bodies[warm:])
    loop_cpu = time.thread_time() - loop_cpu  # this thread runs the event loop
    measured = (len(bodies) - warm) * per_body
    result = {
        "events": measured,
        "path": path,
        "in_flight": in_flight,
        "cpu_us_per_event": round((time.process_time() - cpu) / measured * 1e6),
        # of which the event loop (the rest: the writer thread, mostly)
        "loop_cpu_us_per_event": round(loop_cpu / measured * 1e6),
        "wall_us_per_event": round((time.perf_counter() - wall) / measured * 1e6),
    }
    db.close()
    result["check"] = h.loyalty_check(url)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        url, name = h.postgres_url()
        try:
            result = asyncio.run(_measure(url, args.events, args.in_flight, args.batch))
        finally:
            h.drop_postgres(name)
    else:
        with tempfile.TemporaryDirectory() as workdir:
            url = h.sqlite_url(Path(workdir))
            result = asyncio.run(_measure(url, args.events, args.in_flight, args.batch))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
