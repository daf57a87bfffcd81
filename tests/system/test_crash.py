"""Crash safety: SIGKILL the server in the middle of a load, restart, resend everything."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.builders import order_paid_json, refund_json
from tests.conftest import NOW, Shop
from tests.system.conftest import Server

pytestmark = pytest.mark.slow

MEMBERS = 20
ORDERS = 400


def _events() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    orders, refunds, expected = [], [], {f"m{i}": 0 for i in range(MEMBERS)}
    for n in range(ORDERS):
        member = f"m{n % MEMBERS}"
        price = 10 + n % 37
        orders.append(
            order_paid_json(f"paid-{n}", member, f"o{n}", [("sku", 1, f"{price}.50")], NOW)
        )
        expected[member] += price  # floor(price.50)
        if n % 5 == 0:
            refunds.append(refund_json(f"refund-{n}", f"o{n}", f"r{n}", NOW, amount=f"{price}.50"))
            expected[member] -= price
    return orders, refunds, expected


def _send(client: httpx.Client, body: dict[str, Any]) -> int:
    try:
        return client.post("/v1/events", json=body).status_code
    except httpx.TransportError:
        return -1


def test_kill_mid_load_then_resend_everything(
    shop: Shop, start_server: Callable[[], Server], database_url: str
) -> None:
    orders, refunds, expected = _events()
    headers = {"Authorization": f"Bearer {shop.api_key}"}
    server = start_server()
    # given a load of events in flight from 8 clients
    sent = threading.Event()
    counter = {"n": 0}

    def fire(body: dict[str, Any]) -> int:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            status = _send(client, body)
        counter["n"] += 1
        if counter["n"] >= ORDERS // 3:
            sent.set()
        return status

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(fire, body) for body in orders]
        # when the server is killed with SIGKILL a third of the way through
        sent.wait(timeout=60)
        server.kill()
        statuses = [f.result() for f in futures]
    assert -1 in statuses, "the kill should have interrupted some requests"
    # and restarted, and every event is sent again (orders, then refunds)
    server = start_server()
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        assert all(_send(client, body) == 200 for body in orders)
        assert all(_send(client, body) == 200 for body in refunds)
        assert all(_send(client, body) == 200 for body in refunds)  # and the refunds once more
        views = {m: client.get(f"/v1/members/{m}").json()["balances"] for m in expected}
    # then every balance is exactly as if each event had arrived once
    assert {m: v["available"] for m, v in views.items()} == expected
    assert {m: v["lifetime_earned"] for m, v in views.items()} == expected
    assert {v["pending"] for v in views.values()} == {0}
    check = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "check"],
        env={**os.environ, "LOYALTY_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
