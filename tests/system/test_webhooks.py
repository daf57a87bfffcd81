"""Outbound webhooks through a real HTTP receiver: signatures, retries, order, crashes."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from loyalty.jobs.webhooks import WebhookWorker
from loyalty.services import events, webhooks
from loyalty.services.context import FixedClock
from tests.builders import order_paid
from tests.conftest import NOW, Shop
from tests.system.receiver import Receiver, running_receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def subscribe(shop: Shop, url: str, types: list[str] | None = None) -> dict[str, Any]:
    return shop.db.run(
        shop.tenant_id,
        lambda uow: webhooks.create_subscription(uow, url, types or ["points.earned"], None, NOW),
    )


def earn(shop: Shop, event_id: str, member: str, price: str = "10") -> None:
    events.ingest(
        shop.db,
        shop.ctx,
        order_paid(event_id, member, f"o-{event_id}", [("a", 1, price)], NOW),
        NOW,
    )


def deliveries(shop: Shop, subscription_id: int) -> list[dict[str, Any]]:
    with shop.db.read(shop.tenant_id) as uow:
        return webhooks.deliveries(uow, subscription_id, None, None, 100)[0]


def bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


def test_delivery_is_signed_and_names_the_event(shop: Shop, receiver: Receiver) -> None:
    # given a subscription and an order
    sub = subscribe(shop, receiver.url)
    earn(shop, "e1", "m1", "42")
    # when the worker runs
    worker = WebhookWorker(shop.db, FixedClock(NOW))
    worker.run_once()
    worker.stop()
    # then the receiver got one signed points.earned event it can verify
    assert len(receiver.received) == 1
    request = receiver.received[0]
    t, v1 = (part.split("=", 1)[1] for part in request.headers["loyalty-signature"].split(","))
    expected = hmac.new(
        sub["secret"].encode(), f"{t}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(v1, expected)
    body = json.loads(request.body)
    assert body["type"] == "points.earned" and request.headers["loyalty-event-id"] == body["id"]
    assert body["data"]["member"] == "m1" and body["data"]["entry"]["points"] == 42
    assert deliveries(shop, sub["id"])[0]["status"] == "delivered"


def test_failed_deliveries_are_retried_with_backoff(shop: Shop, receiver: Receiver) -> None:
    sub = subscribe(shop, receiver.url)
    earn(shop, "e1", "m1")
    receiver.script = [500, ("sleep", 1.5)]  # a server error, then a timeout, then fine
    clock = FixedClock(NOW)
    worker = WebhookWorker(shop.db, clock, timeout=0.5)
    worker.run_once()
    assert deliveries(shop, sub["id"])[0]["last_status_code"] == 500
    worker.run_once()  # not due yet: nothing sent
    assert len(receiver.received) == 1
    clock.moment = NOW + timedelta(minutes=5)
    worker.run_once()  # times out
    assert deliveries(shop, sub["id"])[0]["last_error"] == "timed out"
    clock.moment = NOW + timedelta(hours=1)
    worker.run_once()
    worker.stop()
    final = deliveries(shop, sub["id"])[0]
    assert final["status"] == "delivered" and final["attempts"] == 3
    ids = {json.loads(r.body)["id"] for r in receiver.received}
    assert len(ids) == 1  # every attempt carried the same event id


def test_a_delivery_dies_after_a_day_of_failures_and_can_be_replayed(
    shop: Shop, receiver: Receiver
) -> None:
    sub = subscribe(shop, receiver.url)
    earn(shop, "e1", "m1")
    receiver.script = [503] * len(webhooks.RETRY_SCHEDULE) + [503]
    clock = FixedClock(NOW)
    worker = WebhookWorker(shop.db, clock)
    for step in range(len(webhooks.RETRY_SCHEDULE) + 1):
        clock.moment = NOW + timedelta(days=step)
        worker.run_once()
    dead = deliveries(shop, sub["id"])[0]
    assert dead["status"] == "dead" and dead["attempts"] == len(webhooks.RETRY_SCHEDULE) + 1
    # when the merchant replays it after fixing the receiver
    shop.db.run(
        shop.tenant_id, lambda uow: webhooks.replay(uow, sub["id"], dead["id"], clock.moment)
    )
    worker.run_once()
    worker.stop()
    assert deliveries(shop, sub["id"])[0]["status"] == "delivered"


def test_a_members_events_arrive_in_order_even_across_retries(
    shop: Shop, receiver: Receiver
) -> None:
    subscribe(shop, receiver.url)
    for n in range(3):
        earn(shop, f"a{n}", "alice", str(10 + n))
    earn(shop, "b0", "bob", "7")
    receiver.script = [500]  # alice's first event fails once
    receiver.script_only_for = b'"member":"alice"'
    clock = FixedClock(NOW)
    worker = WebhookWorker(shop.db, clock)
    worker.run_once()
    # alice's later events wait behind her failed one; bob is not held up
    first_round = [(b["data"]["member"], b["data"]["entry"]["points"]) for b in bodies(receiver)]
    assert ("bob", 7) in first_round and ("alice", 11) not in first_round
    for minutes in (1, 2, 3, 4):
        clock.moment = NOW + timedelta(minutes=minutes)
        worker.run_once()
    worker.stop()
    alice = [
        b["data"]["entry"]["points"] for b in bodies(receiver) if b["data"]["member"] == "alice"
    ]
    assert alice == [10, 10, 11, 12]  # the failed attempt, then the retry, then the rest in order


def test_killing_the_worker_mid_delivery_loses_nothing(
    shop: Shop, receiver: Receiver, database_url: str
) -> None:
    subscribe(shop, receiver.url)
    earn(shop, "e1", "m1")
    receiver.script = [("sleep", 30)]  # the receiver hangs on the first attempt
    env = {**os.environ, "LOYALTY_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "loyalty.cli", "worker", "--lease-seconds", "2", "--no-jobs"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: receiver.script == [], 30)  # the request is in flight
    finally:
        first.kill()  # SIGKILL while waiting for the receiver
        first.wait(10)
    second = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(
            lambda: any(json.loads(r.body)["type"] == "points.earned" for r in receiver.received),
            30,
        )
    finally:
        second.terminate()
        second.wait(10)
    ids = [json.loads(r.body)["id"] for r in receiver.received]
    assert len(set(ids)) == 1  # delivered, and any duplicate carries the same id


def _wait_for(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
