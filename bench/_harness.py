"""Shared pieces of the benchmarks: databases, servers, wrk, an open-loop load generator."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

BENCH = Path(__file__).parent
ROOT = BENCH.parent
PG_ADMIN = os.environ.get("LOYALTY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlite_url(workdir: Path) -> str:
    return f"sqlite:///{workdir}/bench.db"


def postgres_url() -> tuple[str, str]:
    name = f"loyalty_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def drop_postgres(name: str) -> None:
    admin = create_engine(
        PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def make_tenant(url: str, **settings: Any) -> str:
    from loyalty.bootstrap import database
    from loyalty.config import Settings
    from loyalty.services.tenants import create_tenant

    db = database(Settings(database_url=url))
    created = create_tenant(
        db,
        f"bench-{uuid.uuid4().hex[:6]}",
        "PLN",
        "Europe/Warsaw",
        "pl",
        datetime.now(UTC),
        **settings,
    )
    db.engine.dispose()
    return created.api_key


class Process:
    def __init__(self, command: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{command} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def product_server(url: str, workers: int = 1) -> Process:
    port = free_port()
    cmd = [sys.executable, "-m", "loyalty.cli", "serve", "--port", str(port), "--no-jobs"]
    cmd += ["--workers", str(workers)]
    return Process(cmd, {"LOYALTY_DATABASE_URL": url}, port)


def hello_server(workers: int = 1) -> Process:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.hello_app:app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    return Process(cmd, {"PYTHONPATH": str(ROOT)}, port)


def wrk(
    url: str, api_key: str, *, seconds: int, threads: int = 2, connections: int = 32, batch: int = 0
) -> dict[str, float]:
    env = {**os.environ, "API_KEY": api_key, "BATCH": str(batch), "RUN_ID": uuid.uuid4().hex[:8]}
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",  # a 1,000-event batch on a busy machine may take seconds: measure, not drop
            "-s",
            str(BENCH / "events.lua"),
            url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(
        r"RESULT requests=(\d+) duration_us=(\d+) errors=(\d+) p50_us=(\d+) p99_us=(\d+)", out
    )
    if not match:
        raise RuntimeError(out)
    requests, duration, errors, p50, p99 = (int(g) for g in match.groups())
    return {
        "requests": requests,
        "errors": errors,
        "rps": requests / (duration / 1e6),
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
    }


async def _open_loop(
    port: int, path: str, bodies: list[bytes], api_key: str, rate: float, connections: int
) -> list[float]:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0

    async def one(body: bytes, due: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        reader, writer = await pool.get()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {api_key}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - due)  # from when it was due: no coordinated omission
        if b" 200 " not in status_line:
            errors += 1
        pool.put_nowait((reader, writer))

    start = time.perf_counter() + 0.2
    await asyncio.gather(*(one(body, start + i / rate) for i, body in enumerate(bodies)))
    if errors:
        raise RuntimeError(f"{errors} requests failed")
    return latencies


def open_loop(
    port: int, path: str, bodies: list[bytes], api_key: str, rate: float, connections: int = 32
) -> dict[str, float]:
    latencies = sorted(asyncio.run(_open_loop(port, path, bodies, api_key, rate, connections)))
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return {
        "requests": len(latencies),
        "rate": rate,
        "p50_ms": pick(0.50),
        "p99_ms": pick(0.99),
        "max_ms": latencies[-1] * 1000,
    }


def order_body(run: str, n: int) -> bytes:
    return json.dumps(
        {
            "id": f"{run}-{n}",
            "type": "order.paid",
            "occurred_at": "2026-11-01T10:00:00Z",
            "member": {"external_id": f"m{n % 10000}"},
            "data": {
                "order_id": f"{run}-o{n}",
                "currency": "PLN",
                "shipping": "12.00",
                "tax": "0",
                "total": "126.79",
                "lines": [
                    {
                        "sku": f"A-{n % 50}",
                        "category": "pets",
                        "quantity": 2,
                        "unit_price": "49.90",
                        "discount": "5.00",
                    },
                    {"sku": "B", "quantity": 1, "unit_price": "19.99"},
                ],
            },
        }
    ).encode()


def loyalty_check(url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "check"],
        env={**os.environ, "LOYALTY_DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout else done.stderr
