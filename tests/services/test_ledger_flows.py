"""Service tests: the ledger rules through the events inbox, on a real database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from loyalty.domain.errors import (
    EventConflict,
    InsufficientPoints,
    RefundExceedsOrder,
    TransfersDisabled,
    UnknownOrder,
)
from loyalty.services import events, jobs, members
from loyalty.services.checks import check_ledger
from tests.builders import cancel, order_paid, refund
from tests.conftest import NOW, Shop


def send(shop: Shop, ev: Any, now: Any = NOW) -> dict[str, Any]:
    return events.ingest(shop.db, shop.ctx, ev, now).body


def balances(shop: Shop, member: str, now: Any = NOW) -> dict[str, Any]:
    with shop.db.read(shop.tenant_id) as uow:
        return members.get_member(uow, shop.ctx, member, now)["balances"]


def assert_clean(shop: Shop) -> None:
    report = check_ledger(shop.db, shop.tenant_id)
    assert report.ok, [str(v) for v in report.violations]


def test_order_earns_on_lines_after_discount_excluding_shipping_and_tax(shop: Shop) -> None:
    # given a programme of 1 point per PLN, floor, shipping and tax excluded
    ev = order_paid(
        "e1", "m1", "o1", [("a", 2, "10.75"), ("b", 1, "5.00")], NOW, shipping="15", tax="7"
    )
    # when
    body = send(shop, ev)
    # then 26.50 -> 26 points, available at once (no return window)
    assert body["effects"][0]["points"] == 26
    assert body["balances"] == {"available": 26, "pending": 0, "lifetime_earned": 26}
    assert_clean(shop)


def test_rate_and_rounding_are_applied_once_to_the_whole_base(shop: Shop) -> None:
    shop.with_settings(points_per_unit="2.5", rounding="half_up", exclude_shipping=False)
    body = send(shop, order_paid("e1", "m1", "o1", [("a", 3, "0.33")], NOW, shipping="0.10"))
    # (0.99 + 0.10) * 2.5 = 2.725 -> 3 (half up, once; per-line rounding would give 2 + 0)
    assert body["effects"][0]["points"] == 3


def test_points_stay_pending_until_the_return_window_closes(make_shop: Any) -> None:
    shop = make_shop(pending_days=14)
    body = send(shop, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW))
    assert body["balances"]["pending"] == 100 and body["balances"]["available"] == 0
    # the job before the window closes changes nothing
    assert jobs.run_due_jobs(shop.db, NOW + timedelta(days=13), shop.tenant_id).released == 0
    # when the window has closed (and the job runs late, catching up)
    report = jobs.run_due_jobs(shop.db, NOW + timedelta(days=40), shop.tenant_id)
    assert report.released == 1
    assert balances(shop, "m1")["available"] == 100
    # running again does nothing
    assert jobs.run_due_jobs(shop.db, NOW + timedelta(days=41), shop.tenant_id).released == 0
    assert_clean(shop)


def test_lots_expire_per_policy_and_expiry_is_idempotent(make_shop: Any) -> None:
    shop = make_shop(pending_days=0, expiry={"kind": "days_after_earn", "days": 30})
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "50")], NOW))
    send(
        shop,
        order_paid("e2", "m1", "o2", [("a", 1, "20")], NOW + timedelta(days=10)),
        NOW + timedelta(days=10),
    )
    view = balances(shop, "m1", NOW + timedelta(days=10))
    assert [e["points"] for e in view["expiring_soon"]] == [50, 20]
    assert jobs.run_due_jobs(shop.db, NOW + timedelta(days=35), shop.tenant_id).expired == 1
    assert jobs.run_due_jobs(shop.db, NOW + timedelta(days=35), shop.tenant_id).expired == 0
    assert balances(shop, "m1", NOW + timedelta(days=35))["available"] == 20
    assert_clean(shop)


def test_spending_takes_soonest_expiring_points_first(make_shop: Any) -> None:
    shop = make_shop(pending_days=0, expiry={"kind": "days_after_earn", "days": 100})
    send(
        shop,
        order_paid("e1", "m1", "o1", [("a", 1, "30")], NOW + timedelta(days=5)),
        NOW + timedelta(days=5),
    )
    send(shop, order_paid("e2", "m1", "o2", [("a", 1, "30")], NOW), NOW + timedelta(days=5))
    with shop.db.transaction(shop.tenant_id) as uow:
        result = members.adjust(uow, shop.ctx, "m1", -40, "test spend", NOW + timedelta(days=6))
    drawn = result["effects"][0]["meta"]["drawn_from"]
    assert [d["points"] for d in drawn] == [30, 10]
    assert drawn[0]["expires_at"] < drawn[1]["expires_at"]
    assert_clean(shop)


def test_partial_then_full_refund_reverses_exactly_what_was_earned(shop: Shop) -> None:
    send(shop, order_paid("e1", "m1", "o1", [("a", 3, "33.33")], NOW))  # 99.99 -> 99 points
    first = send(shop, refund("r1", "o1", "R1", NOW, lines=[("a", 1)]))
    second = send(shop, refund("r2", "o1", "R2", NOW, lines=[("a", 1)]))
    third = send(shop, refund("r3", "o1", "R3", NOW, lines=[("a", 1)]))
    taken = [-b["effects"][0]["points"] for b in (first, second, third)]
    assert taken == [33, 33, 33]
    assert sum(taken) == 99
    assert balances(shop, "m1")["available"] == 0
    with pytest.raises(RefundExceedsOrder):
        send(shop, refund("r4", "o1", "R4", NOW, lines=[("a", 1)]))
    assert_clean(shop)


def test_amount_refunds_are_proportional_and_capped(shop: Shop) -> None:
    send(
        shop, order_paid("e1", "m1", "o1", [("a", 1, "90")], NOW, shipping="10")
    )  # total 100, 90 points
    body = send(shop, refund("r1", "o1", "R1", NOW, amount="50"))
    assert body["effects"][0]["points"] == -45
    body = send(shop, refund("r2", "o1", "R2", NOW, amount="50"))
    assert body["effects"][0]["points"] == -45
    with pytest.raises(RefundExceedsOrder):
        send(shop, refund("r3", "o1", "R3", NOW, amount="0.01"))


def test_the_same_refund_id_never_reverses_twice(shop: Shop) -> None:
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW))
    send(shop, refund("r1", "o1", "R1", NOW, amount="10"))
    body = send(shop, refund("r1-again-other-event-id", "o1", "R1", NOW, amount="10"))
    assert body["effects"] == [] and "already" in body["note"]
    assert balances(shop, "m1")["available"] == 90


def test_refund_of_unknown_order_writes_nothing(shop: Shop) -> None:
    with pytest.raises(UnknownOrder):
        send(shop, refund("r1", "nope", "R1", NOW, amount="10"))
    # the failed event was not recorded, so it can be fixed and sent again
    send(shop, order_paid("e1", "m1", "nope", [("a", 1, "100")], NOW))
    assert send(shop, refund("r1", "nope", "R1", NOW, amount="10"))["effects"][0]["points"] == -10


def test_replayed_event_returns_the_first_response_and_conflicts_on_another_body(
    shop: Shop,
) -> None:
    first = send(shop, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW))
    again = events.ingest(
        shop.db, shop.ctx, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW), NOW
    )
    assert again.replayed and again.body == first
    with pytest.raises(EventConflict):
        send(shop, order_paid("e1", "m1", "o1", [("a", 1, "999")], NOW))
    assert balances(shop, "m1")["available"] == 100


def test_the_same_order_under_a_new_event_id_earns_nothing_more(shop: Shop) -> None:
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW))
    body = send(shop, order_paid("e2", "m1", "o1", [("a", 1, "100")], NOW))
    assert body["effects"] == [] and body["balances"]["available"] == 100


def test_cancellation_before_release_voids_pending_points(make_shop: Any) -> None:
    shop = make_shop(pending_days=14)
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW))
    body = send(shop, cancel("c1", "o1", NOW + timedelta(days=2)), NOW + timedelta(days=2))
    assert body["effects"][0]["pending_delta"] == -100
    assert body["balances"] == {"available": 0, "pending": 0, "lifetime_earned": 0}
    assert jobs.run_due_jobs(shop.db, NOW + timedelta(days=30), shop.tenant_id).released == 1
    assert balances(shop, "m1")["available"] == 0
    assert_clean(shop)


def _spend_then_refund(shop: Shop) -> dict[str, Any]:
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW))
    send(shop, order_paid("e2", "m1", "o2", [("a", 1, "30")], NOW))
    with shop.db.transaction(shop.tenant_id) as uow:
        members.adjust(uow, shop.ctx, "m1", -120, "redeemed", NOW)
    return send(shop, refund("r1", "o1", "R1", NOW, amount="100"))


def test_clawback_negative_balance_owes_the_spent_part_and_repays_from_new_points(
    shop: Shop,
) -> None:
    body = _spend_then_refund(shop)
    # 100 to reverse: 10 still in lots (o2's lot, after the 120 spend took 100 + 20), 90 owed
    assert body["effects"][0]["meta"]["negative_balance"] == 90
    assert body["balances"]["available"] == -90
    send(shop, order_paid("e3", "m1", "o3", [("a", 1, "200")], NOW))
    assert balances(shop, "m1")["available"] == 110
    assert balances(shop, "m1")["negative_balance"] == 0
    assert_clean(shop)


def test_clawback_other_points_then_write_off(shop: Shop) -> None:
    shop.with_settings(clawback="other_points")
    body = _spend_then_refund(shop)
    assert body["effects"][0]["meta"]["written_off"] == 90
    assert body["balances"]["available"] == 0
    assert_clean(shop)


def test_clawback_write_off_leaves_other_points_alone(shop: Shop) -> None:
    shop.with_settings(clawback="write_off")
    body = _spend_then_refund(shop)
    assert body["effects"] == [] or body["effects"][0]["points"] == 0
    assert body["balances"]["available"] == 10
    assert_clean(shop)


def test_negative_adjustment_may_not_overdraw(shop: Shop) -> None:
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "10")], NOW))
    with pytest.raises(InsufficientPoints), shop.db.transaction(shop.tenant_id) as uow:
        members.adjust(uow, shop.ctx, "m1", -11, "too much", NOW)
    assert balances(shop, "m1")["available"] == 10


def test_transfer_keeps_the_senders_expiry_dates(make_shop: Any) -> None:
    shop = make_shop(
        pending_days=0, expiry={"kind": "days_after_earn", "days": 60}, transfers_enabled=True
    )
    send(shop, order_paid("e1", "alice", "o1", [("a", 1, "50")], NOW))
    with shop.db.transaction(shop.tenant_id) as uow:
        members.create_member(uow, shop.ctx, "bob", {}, NOW)
        members.transfer(uow, shop.ctx, "alice", "bob", 20, "gift", NOW + timedelta(days=1))
    bob = balances(shop, "bob", NOW + timedelta(days=40))
    assert bob["available"] == 20
    assert bob["expiring_soon"][0]["expires_at"] == (NOW + timedelta(days=60)).isoformat()
    assert_clean(shop)


def test_transfers_can_be_switched_off(shop: Shop) -> None:
    with pytest.raises(TransfersDisabled), shop.db.transaction(shop.tenant_id) as uow:
        members.transfer(uow, shop.ctx, "a", "b", 1, "x", NOW)


def test_blocked_member_earns_nothing(shop: Shop) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        members.create_member(uow, shop.ctx, "m1", {"status": "blocked"}, NOW)
    body = send(shop, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW))
    assert body["effects"] == [] and "blocked" in body["note"]


def test_inactivity_expiry_takes_all_available_points(make_shop: Any) -> None:
    shop = make_shop(pending_days=0, expiry={"kind": "inactivity", "days": 90})
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "70")], NOW))
    assert (
        jobs.run_due_jobs(shop.db, NOW + timedelta(days=89), shop.tenant_id).expired_inactive == 0
    )
    assert (
        jobs.run_due_jobs(shop.db, NOW + timedelta(days=91), shop.tenant_id).expired_inactive == 1
    )
    assert balances(shop, "m1", NOW + timedelta(days=91))["available"] == 0
    assert_clean(shop)


def _expired_events(shop: Shop) -> list[tuple[str | None, Any]]:
    from sqlalchemy import select

    from loyalty.store.tables import outbox_events

    with shop.db.engine.connect() as conn:
        return [
            (r.member_external_id, r.payload)
            for r in conn.execute(
                select(outbox_events.c.member_external_id, outbox_events.c.payload)
                .where(
                    outbox_events.c.tenant_id == shop.tenant_id,
                    outbox_events.c.type == "points.expired",
                )
                .order_by(outbox_events.c.member_external_id)
            )
        ]


def test_expiry_writes_one_event_per_member_with_its_lots_and_balances(make_shop: Any) -> None:
    shop = make_shop(pending_days=0, expiry={"kind": "days_after_earn", "days": 30})
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "50")], NOW))
    send(shop, order_paid("e2", "m1", "o2", [("a", 1, "20")], NOW))
    send(shop, order_paid("e3", "m2", "o3", [("a", 1, "30")], NOW))
    later = NOW + timedelta(days=35)
    send(shop, order_paid("e4", "m2", "o4", [("a", 1, "5")], later), later)
    assert jobs.run_due_jobs(shop.db, later, shop.tenant_id).expired == 3
    expected = []
    for member, points, lots in (("m1", 70, 2), ("m2", 30, 1)):
        b = balances(shop, member, later)
        expected.append(
            (
                member,
                {
                    "member": member,
                    "points": points,
                    "lots": lots,
                    "reason": "points expired",
                    "balances": {
                        "available": b["available"],
                        "pending": b["pending"],
                        "lifetime_earned": b["lifetime_earned"],
                    },
                },
            )
        )
    assert expected[1][1]["balances"]["available"] == 5
    assert _expired_events(shop) == expected
    with shop.db.read(shop.tenant_id) as uow:
        entries, _ = members.history(uow, "m1", None, 10)
    expired = [e for e in entries if e["kind"] == "expire"]
    assert sorted(e["points"] for e in expired) == [-50, -20]
    assert {e["occurred_at"] for e in expired} == {(NOW + timedelta(days=30)).isoformat()}
    assert jobs.run_due_jobs(shop.db, later, shop.tenant_id).expired == 0
    assert len(_expired_events(shop)) == 2
    assert_clean(shop)


def test_inactivity_expiry_event_names_its_reason(make_shop: Any) -> None:
    shop = make_shop(pending_days=0, expiry={"kind": "inactivity", "days": 90})
    send(shop, order_paid("e1", "m1", "o1", [("a", 1, "70")], NOW))
    send(shop, order_paid("e2", "m1", "o2", [("a", 1, "10")], NOW))
    assert jobs.run_due_jobs(shop.db, NOW + timedelta(days=91), shop.tenant_id).expired_inactive
    [(member, payload)] = _expired_events(shop)
    assert (member, payload["points"], payload["lots"]) == ("m1", 80, 2)
    assert payload["reason"] == "points expired after inactivity"
    assert payload["balances"]["available"] == 0
    assert_clean(shop)
