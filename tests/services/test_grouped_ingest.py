"""Single events queued by concurrent requests are written together (``bulk.ingest_grouped``)
and must answer exactly as one by one; the writer's runs of batchable items keep their order and
isolate failures."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from loyalty.domain.errors import DomainError
from loyalty.services import bulk, events, members
from loyalty.services.checks import check_ledger
from loyalty.store.group_commit import GroupCommitter
from tests.builders import event, order_paid_json, refund_json
from tests.conftest import NOW, Shop
from tests.services.test_bulk_batch import _outcome

# --- the writer -------------------------------------------------------------------------------


def _gate(committer: GroupCommitter) -> tuple[threading.Event, Future[Any]]:
    """Keep the writer busy until the gate opens, so everything queued meanwhile is one group."""
    gate, started = threading.Event(), threading.Event()

    def hold(_conn: Connection) -> None:
        started.set()
        gate.wait(10)

    held = committer.submit(hold)
    assert started.wait(10)
    return gate, held


def test_consecutive_items_of_one_key_are_applied_in_one_call(database_url: str) -> None:
    from loyalty.store.db import make_engine

    engine = make_engine(database_url)
    committer = GroupCommitter(engine, threading.Lock())
    calls: list[list[Any]] = []

    def apply(_conn: Connection, items: list[Any]) -> list[Any]:
        calls.append(list(items))
        return [item * 10 for item in items]

    try:
        gate, held = _gate(committer)
        a = [committer.submit_item("a", n, apply) for n in range(1, 6)]
        between = committer.submit(lambda _conn: "plain")
        b = [committer.submit_item("b", n, apply) for n in (7, 8)]
        c = [committer.submit_item("a", 9, apply)]
        gate.set()
        held.result(10)
        assert [f.result(10) for f in a] == [10, 20, 30, 40, 50]
        assert between.result(10) == "plain"
        assert [f.result(10) for f in b + c] == [70, 80, 90]
        # a run stops at a plain job and at another key; order is kept
        assert calls == [[1, 2, 3, 4, 5], [7, 8], [9]]
    finally:
        committer.close()
        engine.dispose()


def test_a_run_that_raises_is_applied_item_by_item(database_url: str) -> None:
    from loyalty.store.db import make_engine

    engine = make_engine(database_url)
    committer = GroupCommitter(engine, threading.Lock())
    calls: list[list[int]] = []

    def apply(_conn: Connection, items: list[int]) -> list[int]:
        calls.append(list(items))
        if 3 in items:
            raise ValueError("item 3 is bad")
        return items

    try:
        gate, held = _gate(committer)
        futures = [committer.submit_item("k", n, apply) for n in range(1, 5)]
        gate.set()
        held.result(10)
        assert [f.result(10) for f in futures if f.exception() is None] == [1, 2, 4]
        assert isinstance(futures[2].exception(), ValueError)
        assert calls == [[1, 2, 3, 4], [1], [2], [3], [4]]
    finally:
        committer.close()
        engine.dispose()


def test_items_awaited_on_the_event_loop_are_grouped_and_a_cancelled_one_is_skipped(
    database_url: str,
) -> None:
    from loyalty.store.db import make_engine

    engine = make_engine(database_url)
    committer = GroupCommitter(engine, threading.Lock())
    calls: list[list[int]] = []

    def apply(_conn: Connection, items: list[int]) -> list[int]:
        calls.append(list(items))
        if 3 in items:
            raise ValueError("item 3 is bad")
        return [item * 10 for item in items]

    async def scenario() -> list[Any]:
        gate, held = _gate(committer)
        futures = [committer.submit_item_async("k", n, apply) for n in range(1, 6)]
        futures[1].cancel()  # its request went away before the writer got to it
        gate.set()
        await asyncio.wrap_future(held)
        return await asyncio.gather(*futures, return_exceptions=True)

    try:
        outcomes = asyncio.run(scenario())
        assert outcomes[0] == 10 and outcomes[3:] == [40, 50]
        assert isinstance(outcomes[1], asyncio.CancelledError)
        assert isinstance(outcomes[2], ValueError)
        assert calls == [[1, 3, 4, 5], [1], [3], [4], [5]]  # never 2
    finally:
        committer.close()
        engine.dispose()


# --- order events ------------------------------------------------------------------------------


def _bodies() -> list[dict[str, Any]]:
    paid = [
        order_paid_json(f"e{n}", f"m{n % 3}", f"o{n}", [("a", 1 + n % 2, "40.00")], NOW)
        for n in range(8)
    ]
    retry = dict(paid[2])  # the same event again: a replay
    conflict = {**paid[3], "data": {**paid[3]["data"], "shipping": "5"}}  # same id, new body
    refund = refund_json("r1", "o1", "rf1", NOW, amount="10.00")  # not batchable: one by one
    blocked = order_paid_json("e-blocked", "mb", "ob", [("a", 1, "10.00")], NOW)
    return [*paid[:4], retry, conflict, refund, blocked, *paid[4:], paid[0]]


async def _grouped(shop: Shop, batch: list[Any]) -> list[Any]:
    gate, held = _gate(shop.db._items)  # the queue is only grouped while the writer is busy

    async def one(item: Any) -> Any:
        try:
            return _outcome(await bulk.ingest_grouped(shop.db, shop.ctx, item, NOW))
        except DomainError as error:
            return ("error", error.code)

    tasks = [asyncio.ensure_future(one(item)) for item in batch]
    await asyncio.sleep(0.05)  # every request has queued its event
    gate.set()
    await asyncio.wrap_future(held)
    return await asyncio.gather(*tasks)


@pytest.mark.parametrize("pending", [0, 14])
def test_grouped_events_answer_as_one_by_one(
    make_shop: Any, pending: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    apply = bulk._apply_grouped

    def counted(ctx: Any, uow: Any, items: list[Any]) -> Any:
        runs.append(len(items))
        return apply(ctx, uow, items)

    monkeypatch.setattr(bulk, "_apply_grouped", counted)
    # given two identical shops, one member of which is blocked
    shops = [make_shop(pending_days=pending), make_shop(pending_days=pending)]
    for shop in shops:
        with shop.db.transaction(shop.tenant_id) as uow:
            members.create_member(uow, shop.ctx, "mb", {"status": "blocked"}, NOW)
    batch = [event(body) for body in _bodies()]
    # when one shop gets them one by one and the other from concurrent requests
    expected = []
    for item in batch:
        try:
            expected.append(_outcome(events.ingest(shops[0].db, shops[0].ctx, item, NOW)))
        except DomainError as error:
            expected.append(("error", error.code))
    got = asyncio.run(_grouped(shops[1], batch))
    assert sum(runs) == len(batch) and max(runs) > 1  # they were written together
    # then every answer matches: replays, the conflict, the blocked member, the refund
    assert got == expected
    assert ("error", "event_conflict") in got
    assert got[4][1] is True  # the retry was answered as a replay
    for shop in shops:
        report = check_ledger(shop.db, shop.tenant_id)
        assert report.ok, [str(v) for v in report.violations]
    balances = []
    for shop in shops:
        with shop.db.read(shop.tenant_id) as uow:
            balances.append(
                {m: members.get_member(uow, shop.ctx, m, NOW)["balances"] for m in ("m0", "m1")}
            )
    assert balances[0] == balances[1]
