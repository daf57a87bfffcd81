"""Concurrency through a real server: no overdraft, no double effects."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from loyalty.services import members
from loyalty.services.checks import check_ledger
from tests.builders import order_paid_json
from tests.conftest import NOW, Shop
from tests.system.conftest import Server

pytestmark = pytest.mark.slow


def _post(url: str, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:
        return client.post(path, json=body)


def _entries(shop: Shop, member: str) -> list[tuple[str, int]]:
    """The member's ledger, oldest first, as (kind, points)."""
    with shop.db.read(shop.tenant_id) as uow:
        items, _ = members.history(uow, member, None, 100)
    return [(e["kind"], e["points"]) for e in reversed(items)]


def _assert_clean(shop: Shop) -> None:
    report = check_ledger(shop.db, shop.tenant_id)
    assert report.ok, [str(v) for v in report.violations]


def test_twenty_parallel_spends_of_ten_from_a_hundred(
    shop: Shop, start_server: Callable[[], Server]
) -> None:
    # given a member with 100 available points and a running server
    server = start_server()
    earned = _post(
        server.url,
        shop.api_key,
        "/v1/events",
        order_paid_json("e1", "m1", "o1", [("a", 1, "100")], NOW),
    )
    assert earned.json()["balances"]["available"] == 100
    # when 20 clients each spend 10 at the same moment
    body = {"points": -10, "reason": "redeem"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(
            pool.map(
                lambda _: _post(server.url, shop.api_key, "/v1/members/m1/adjustments", body),
                range(20),
            )
        )
    # then exactly ten succeed, the rest are refused, and the balance is exactly zero
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 10
    assert all(r.json()["code"] == "insufficient_points" for r in responses if r.status_code == 409)
    member = httpx.get(
        f"{server.url}/v1/members/m1", headers={"Authorization": f"Bearer {shop.api_key}"}
    ).json()
    assert member["balances"]["available"] == 0
    # and the ledger holds the earn and exactly ten spends of ten, every invariant intact
    assert _entries(shop, "m1") == [("earn", 100)] + [("adjust", -10)] * 10
    _assert_clean(shop)


def test_parallel_duplicate_deliveries_have_one_effect(
    shop: Shop, start_server: Callable[[], Server]
) -> None:
    # given a running server
    server = start_server()
    event = order_paid_json("dup-1", "m1", "o1", [("a", 2, "25")], NOW)
    # when 20 clients deliver the same event at the same moment
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(
            pool.map(lambda _: _post(server.url, shop.api_key, "/v1/events", event), range(20))
        )
    # then all get the same answer, one of them first-hand, and the points are earned once
    assert {r.status_code for r in responses} == {200}
    bodies = [r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies)
    assert sum(1 for r in responses if r.headers.get("idempotent-replayed") != "true") == 1
    member = httpx.get(
        f"{server.url}/v1/members/m1", headers={"Authorization": f"Bearer {shop.api_key}"}
    ).json()
    assert member["balances"]["available"] == 50
    assert _entries(shop, "m1") == [("earn", 50)]
    _assert_clean(shop)


def test_order_events_and_their_retries_through_two_api_processes(
    shop: Shop, start_server: Callable[..., Server], database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several API processes need PostgreSQL")
    # given two API processes on one PostgreSQL database
    server = start_server(workers=2)
    bodies = [
        order_paid_json(f"e{n}", f"m{n % 4}", f"o{n}", [("a", 1, "10.00")], NOW) for n in range(40)
    ]
    # when 40 order events and a retry of each arrive at once, spread over both processes
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(
            pool.map(lambda b: _post(server.url, shop.api_key, "/v1/events", b), bodies * 2)
        )
    # then every request succeeds and each order earned exactly once
    assert [r.status_code for r in responses] == [200] * 80
    replays = [r.headers.get("Idempotent-Replayed") == "true" for r in responses]
    assert sum(replays) == 40
    for member in ("m0", "m1", "m2", "m3"):
        assert _entries(shop, member) == [("earn", 10)] * 10
    _assert_clean(shop)
