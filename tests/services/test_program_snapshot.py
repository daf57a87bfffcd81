"""The columnar read model of programme analytics gives the figures the database gives.

Each check computes every figure twice in the same read transaction: from facts read whole
from the database (the source of truth) and from the read model, built early and then caught
up incrementally through new orders, members, refunds, cancellations, redemptions, expiry
and guest orders being claimed, and after being saved and loaded by a "new process".
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from loyalty.analytics.kpis import Granularity
from loyalty.services import connectors, events, jobs
from loyalty.services import program_analytics as analytics
from loyalty.services import program_snapshot as snapshot
from loyalty.services.program_analytics import Dataset, FigureQuery
from tests.builders import cancel, refund
from tests.conftest import NOW, Shop
from tests.services.test_program_analytics import at, guest, pay, redeem

QUERIES = [
    FigureQuery(),
    FigureQuery(date(2026, 1, 1), date(2026, 2, 28), Granularity.WEEK),
    FigureQuery(date(2026, 1, 15), date(2026, 2, 10), Granularity.DAY),
]


def both(shop: Shop) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every figure for every query: from the database, and from the read model."""
    truth, model = [], []
    with shop.db.read(shop.tenant_id) as uow:
        facts = snapshot.current(shop.db, uow.conn, shop.ctx)
        for query in QUERIES:
            for source, into in ((None, truth), (facts, model)):
                data = Dataset(uow.conn, shop.ctx, source)
                period = analytics.period_of(data, query, NOW)
                for name, compute in analytics.FIGURES.items():
                    report = compute(data, period, query)
                    into.append({"figure": name, "rows": report.rows, "meta": report.meta})
    return truth, model


def assert_same(shop: Shop) -> list[dict[str, Any]]:
    truth, model = both(shop)
    assert model == truth
    return truth


def revenue_rows(shop: Shop) -> list[dict[str, Any]]:
    query = FigureQuery(date(2026, 1, 1), date(2026, 2, 28))
    return analytics.figure(shop.db, shop.ctx, "revenue", query, NOW).rows


@pytest.mark.parametrize("grace", [0.0, None])  # None: the backend's default
def test_the_read_model_follows_every_kind_of_change(shop: Shop, grace: float | None) -> None:
    snapshot.configure(shop.db, None, grace)
    shop.with_settings(expiry={"kind": "days_after_earn", "days": 30})
    pay(shop, "o1", "alice", at(1, 10), "100.00")
    pay(shop, "h1", "bob", at(12, 5, year=2025), "80.00", loaded=at(1, 20))
    guest(shop, "g1", "carol@example.com", at(1, 15), "25.00")
    guest(shop, "g3", None, at(2, 3), "10.00")
    first = assert_same(shop)  # the read model is built here

    redeem(shop, "alice", 70, at(1, 20, 12))
    pay(shop, "o2", "alice", at(1, 31, 23, 30), "50.00")
    pay(shop, "o4", "bob", at(2, 10), "40.00")
    before_refund = revenue_rows(shop)
    events.ingest(shop.db, shop.ctx, refund("r1", "o1", "R1", at(2, 16), amount="30.00"), at(2, 16))
    after_refund = revenue_rows(shop)
    assert before_refund[0]["revenue"] - after_refund[0]["revenue"] == 30  # served fresh
    assert_same(shop)

    events.ingest(shop.db, shop.ctx, cancel("c4", "o4", at(2, 21)), at(2, 21))
    pay(shop, "o5", "carol", at(2, 20), "60.00")
    with shop.db.transaction(shop.tenant_id) as uow:
        carol = uow.members.get("carol")
        uow.members.update_fields(carol["id"], {"email": "carol@example.com"}, at(2, 20))
        claimed = connectors.claim_orders(uow, shop.ctx, "carol", at(2, 22))
    assert len(claimed["claimed"]) == 1
    assert jobs.expire_due(shop.db, NOW, shop.tenant_id) >= 1
    last = assert_same(shop)
    assert last != first


def test_a_saved_read_model_is_loaded_and_caught_up(shop: Shop, tmp_path: Path) -> None:
    snapshot.configure(shop.db, tmp_path, 0.0)
    pay(shop, "o1", "alice", at(1, 10), "100.00")
    pay(shop, "o2", "bob", at(1, 12), "20.00")
    guest(shop, "g1", "guest@example.com", at(1, 15), "25.00")
    assert_same(shop)  # built, and saved because it was new
    saved = tmp_path / f"tenant-{shop.tenant_id}"
    assert (saved / "current.json").exists()

    events.ingest(shop.db, shop.ctx, refund("r1", "o1", "R1", at(1, 16), amount="40.00"), at(1, 16))
    pay(shop, "o3", "carol", at(2, 1), "70.00")
    restarted = snapshot.configure(shop.db, tmp_path, 0.0)  # a new process, same folder
    loaded, fresh = restarted.of(shop.ctx)
    assert not fresh and loaded.facts.orders.height == 2  # what was saved, not yet caught up
    assert_same(shop)
    assert restarted.tenants[shop.tenant_id].facts.orders.height == 3


def test_a_copy_made_for_another_time_zone_is_not_used(shop: Shop, tmp_path: Path) -> None:
    snapshot.configure(shop.db, tmp_path, 0.0)
    pay(shop, "o1", "alice", at(1, 31, 23, 30), "100.00")
    assert_same(shop)
    other = snapshot.configure(shop.db, tmp_path, 0.0)
    moved = type(shop.ctx)(shop.tenant_id, shop.ctx.program, shop.ctx.timezone, "test")
    assert other.of(moved)[1] is False
    assert (
        snapshot.Snapshot.load(tmp_path, other.database, shop.tenant_id, "UTC", 100) is None
    )  # the days of a UTC copy would differ: it is rebuilt instead


def test_a_watermark_waits_out_the_grace_before_passing_an_id() -> None:
    mark = snapshot.Watermark()
    mark.settle(seen=5, now=0.0, grace=10.0)
    assert mark.stable == 0  # id 5 may still have uncommitted neighbours below it
    mark.settle(seen=8, now=5.0, grace=10.0)
    assert mark.stable == 0
    mark.settle(seen=9, now=11.0, grace=10.0)
    assert mark.stable == 5  # seen 11 s ago: every lower id has committed by now
    mark.settle(seen=9, now=30.0, grace=10.0)
    assert mark.stable == 9
    instant = snapshot.Watermark()
    instant.settle(seen=3, now=0.0, grace=0.0)
    assert instant.stable == 3


def test_the_refresh_reads_only_what_is_new(shop: Shop) -> None:
    snapshots = snapshot.configure(shop.db, None, 0.0)
    pay(shop, "o1", "alice", at(1, 10), "100.00")
    pay(shop, "o2", "bob", at(1, 12), "20.00")
    assert_same(shop)
    held, _ = snapshots.of(shop.ctx)
    with shop.db.read(shop.tenant_id) as uow:
        assert held.refresh(uow.conn, 1.0, 0.0) == 0
    pay(shop, "o3", "alice", at(1, 13), "10.00")
    with shop.db.read(shop.tenant_id) as uow:
        assert held.refresh(uow.conn, 2.0, 0.0) == 2  # the order and its earn entry
