"""Service tests: checkout holds on a real database, including racing checkouts (threads)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

from loyalty.domain.promotions import CartLine
from loyalty.services import checkout, events, jobs, promotions
from loyalty.services.checkout import CartRequest
from loyalty.services.checks import check_ledger
from tests.builders import order_paid
from tests.conftest import NOW, Shop


def create(shop: Shop, data: dict[str, Any]) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        promotions.create(uow, data, "test", NOW)
    promotions.forget(shop.tenant_id)


def single_use_code(shop: Shop, code: str = "ONCE") -> None:
    create(
        shop,
        {
            "id": "once",
            "trigger": "code",
            "codes": [code],
            "currency": "PLN",
            "benefits": [{"type": "amount_off", "amount": "10.00"}],
            "limits": {"code_uses": 1},
        },
    )


def request(**overrides: Any) -> CartRequest:
    values: dict[str, Any] = {
        "member": "m1",
        "currency": "PLN",
        "lines": (CartLine("a", 1, Decimal("50.00")),),
    }
    values.update(overrides)
    return CartRequest(**values)


def code_counts(shop: Shop, code: str = "ONCE") -> tuple[int, int]:
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.promotions.codes([code])[code]
    return row.uses, row.reserved


def available(shop: Shop, member: str = "m1") -> int:
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.members.get(member)
    assert row is not None
    return int(row["available"])


def assert_clean(shop: Shop) -> None:
    report = check_ledger(shop.db, shop.tenant_id)
    assert report.ok, [str(v) for v in report.violations]


def test_two_checkouts_racing_for_one_single_use_code_exactly_one_wins(shop: Shop) -> None:
    # given
    single_use_code(shop)
    barrier = threading.Barrier(8)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def race(index: int) -> None:
        barrier.wait()
        body = checkout.evaluate(
            shop.db,
            shop.ctx,
            request(member=f"m{index}", codes=("once",), checkout_id=f"c{index}"),
            NOW,
        )
        with lock:
            results.append(body)

    # when eight checkouts ask for the code at the same moment
    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then exactly one holds it, and every other one is told why not
    winners = [r for r in results if r["checkout"]["reserved_codes"] == ["ONCE"]]
    losers = [r for r in results if r["checkout"]["reserved_codes"] == []]
    assert len(winners) == 1 and len(losers) == 7
    assert winners[0]["discount"] == "10.00"
    for loser in losers:
        assert loser["applied"] == []
        assert [r["reason"] for r in loser["rejected"]] == ["code_reserved"]
        assert loser["discount"] == "0.00"
    assert code_counts(shop) == (0, 1)


def test_held_points_cannot_be_spent_elsewhere_and_come_back_with_their_expiry(
    shop: Shop,
) -> None:
    shop.with_settings(point_value="0.01", expiry={"kind": "days_after_earn", "days": 30})
    events.ingest(shop.db, shop.ctx, order_paid("e1", "m1", "o1", [("x", 1, "100")], NOW), NOW)
    # when a checkout holds 80 of the 100 points
    checkout.evaluate(shop.db, shop.ctx, request(points_to_pay=80, checkout_id="c1"), NOW)
    # then a second checkout can use only the other 20
    body = checkout.evaluate(shop.db, shop.ctx, request(points_to_pay=0), NOW)
    assert body["points"]["available"] == 20
    assert available(shop) == 20
    # when the hold expires and the job runs
    later = NOW + timedelta(minutes=16)
    report = jobs.run_due_jobs(shop.db, later, shop.tenant_id)
    # then the points are back, on lots with the expiry date of the lot they left
    assert report.checkouts_released == 1
    assert available(shop) == 100
    with shop.db.read(shop.tenant_id) as uow:
        member = uow.members.get("m1")
        assert member is not None
        lots = uow.ledger.open_lots(member["id"])
    assert {lot.expires_at for lot in lots} == {NOW + timedelta(days=30)}
    assert_clean(shop)


def test_an_expired_hold_lets_another_checkout_take_the_code(shop: Shop) -> None:
    single_use_code(shop)
    checkout.evaluate(shop.db, shop.ctx, request(codes=("ONCE",), checkout_id="c1"), NOW)
    # when another checkout asks after the first one's hold ran out (no job has run yet)
    later = NOW + timedelta(minutes=15)
    body = checkout.evaluate(
        shop.db, shop.ctx, request(member="m2", codes=("ONCE",), checkout_id="c2"), later
    )
    # then it gets the code
    assert body["checkout"]["reserved_codes"] == ["ONCE"]
    assert code_counts(shop) == (0, 1)


def test_a_paid_order_commits_once_and_a_replay_changes_nothing(shop: Shop) -> None:
    single_use_code(shop)
    checkout.evaluate(shop.db, shop.ctx, request(codes=("ONCE",), checkout_id="c1"), NOW)
    event = order_paid("e1", "m1", "o1", [("a", 1, "40.00")], NOW)
    event = type(event)(**{**_fields(event), "payload": _with_checkout(event.payload, "c1")})
    events.ingest(shop.db, shop.ctx, event, NOW)
    events.ingest(shop.db, shop.ctx, event, NOW)
    assert code_counts(shop) == (1, 0)
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.promotions.get("once")
        assert row is not None
        assert (row["uses"], row["budget_spent"]) == (1, Decimal("10.00"))


def _fields(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


def _with_checkout(payload: Any, checkout_id: str) -> Any:
    return dataclasses.replace(payload, checkout_id=checkout_id)
