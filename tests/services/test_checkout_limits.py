"""Service tests: promotion usage limits and budgets held by open checkouts (real databases,
racing checkouts on threads with their own connections)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from loyalty.domain.promotions import CartLine
from loyalty.services import checkout, events, jobs
from loyalty.services.lookup import ensure_member
from tests.builders import cancel_json, event, order_paid_json, refund_json
from tests.conftest import NOW, Shop
from tests.services.test_checkout import create, request


def members(shop: Shop, *external_ids: str) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        for external_id in external_ids:
            ensure_member(uow, external_id, {}, NOW)


def limited(shop: Shop, **limits: Any) -> None:
    """An automatic 10.00 off every order, with ``limits``."""
    create(
        shop,
        {
            "id": "lim",
            "trigger": "automatic",
            "currency": "PLN",
            "benefits": [{"type": "amount_off", "amount": "10.00"}],
            "limits": limits,
        },
    )


def counters(shop: Shop) -> tuple[int, Decimal, int, Decimal]:
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.promotions.get("lim")
    assert row is not None
    return row["uses"], row["budget_spent"], row["reserved_uses"], row["reserved_budget"]


def reasons(body: dict[str, Any]) -> list[str]:
    return [r["reason"] for r in body["rejected"] if r["promotion_id"] == "lim"]


def applied(body: dict[str, Any]) -> list[str]:
    return [a["promotion_id"] for a in body["applied"]]


def hold(shop: Shop, checkout_id: str, member: str = "m1", **extra: Any) -> dict[str, Any]:
    return checkout.evaluate(
        shop.db, shop.ctx, request(member=member, checkout_id=checkout_id, **extra), NOW
    )


def dry_run(shop: Shop, member: str = "m2", **extra: Any) -> dict[str, Any]:
    return checkout.evaluate(shop.db, shop.ctx, request(member=member, **extra), NOW)


def pay(shop: Shop, checkout_id: str, member: str, order_id: str) -> None:
    body = order_paid_json(f"e-{order_id}", member, order_id, [("a", 1, "40.00")], NOW)
    body["data"]["checkout_id"] = checkout_id
    events.ingest(shop.db, shop.ctx, event(body), NOW)


def cancel(shop: Shop, checkout_id: str, order_id: str) -> None:
    body = cancel_json(f"e-c-{order_id}", order_id, NOW)
    body["data"]["checkout_id"] = checkout_id
    events.ingest(shop.db, shop.ctx, event(body), NOW)


def race(shop: Shop, count: int) -> list[dict[str, Any]]:
    barrier = threading.Barrier(count)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        barrier.wait()
        body = hold(shop, f"c{index}", member=f"m{index}")
        with lock:
            results.append(body)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == count
    return results


def test_checkouts_racing_for_the_last_use_of_a_promotion_exactly_one_gets_it(
    shop: Shop,
) -> None:
    limited(shop, uses=1)
    members(shop, *(f"m{i}" for i in range(6)))
    # when six checkouts evaluate at the same moment
    results = race(shop, 6)
    # then exactly one holds the use, every other one is told it is taken
    winners = [r for r in results if applied(r) == ["lim"]]
    losers = [r for r in results if applied(r) == []]
    assert len(winners) == 1 and len(losers) == 5
    assert winners[0]["checkout"]["reserved_promotions"] == ["lim"]
    assert winners[0]["discount"] == "10.00"
    for loser in losers:
        assert reasons(loser) == ["global_limit_reached"]
        assert "held by open checkouts" in loser["rejected"][0]["message"]
        assert loser["discount"] == "0.00"
    assert counters(shop) == (0, Decimal(0), 1, Decimal("10.00"))


def test_checkouts_racing_for_the_last_of_a_budget_cannot_both_take_it(shop: Shop) -> None:
    limited(shop, budget="15.00")
    # when four checkouts each want 10.00 of a 15.00 budget at once
    results = race(shop, 4)
    # then one gets 10.00, one gets the 5.00 left, the others are told the budget is gone
    discounts = sorted(r["discount"] for r in results)
    assert discounts == ["0.00", "0.00", "10.00", "5.00"]
    refused = [r for r in results if r["discount"] == "0.00"]
    assert all(reasons(r) == ["budget_exhausted"] for r in refused)
    assert counters(shop) == (0, Decimal(0), 2, Decimal("15.00"))


def test_a_dry_run_counts_held_usage_as_taken_until_the_hold_is_released(shop: Shop) -> None:
    limited(shop, uses=1)
    hold(shop, "c1")
    # then a dry run by someone else is refused with the reason
    refused = dry_run(shop)
    assert applied(refused) == [] and reasons(refused) == ["global_limit_reached"]
    # and re-evaluating the holder's own checkout keeps its use (it is not counted twice)
    again = hold(shop, "c1")
    assert applied(again) == ["lim"]
    assert counters(shop) == (0, Decimal(0), 1, Decimal("10.00"))
    # when the order is cancelled before payment
    cancel(shop, "c1", "o-never")
    # then the use is free again
    assert counters(shop) == (0, Decimal(0), 0, Decimal(0))
    assert applied(dry_run(shop)) == ["lim"]


def test_a_paid_order_turns_its_held_use_into_a_used_one(shop: Shop) -> None:
    limited(shop, uses=1, budget="100.00")
    hold(shop, "c1")
    # when the order is paid, twice (a retry)
    pay(shop, "c1", "m1", "o1")
    pay(shop, "c1", "m1", "o1")
    # then the use and the discount are counted once and nothing stays held
    assert counters(shop) == (1, Decimal("10.00"), 0, Decimal(0))
    refused = dry_run(shop)
    assert reasons(refused) == ["global_limit_reached"]
    assert "held" not in refused["rejected"][0]["message"]


def test_an_expired_hold_is_released_by_the_job_and_by_the_next_checkout(shop: Shop) -> None:
    limited(shop, uses=1)
    hold(shop, "c1")
    later = NOW + timedelta(minutes=16)
    # when another checkout asks after the hold ran out, before any job has run
    body = checkout.evaluate(shop.db, shop.ctx, request(member="m2", checkout_id="c2"), later)
    # then it gets the use
    assert applied(body) == ["lim"]
    assert counters(shop) == (0, Decimal(0), 1, Decimal("10.00"))
    # and when that hold runs out too, the job gives the use back
    report = jobs.run_due_jobs(shop.db, later + timedelta(minutes=16), shop.tenant_id)
    assert report.checkouts_released == 1
    assert counters(shop) == (0, Decimal(0), 0, Decimal(0))


def test_a_member_limit_counts_the_members_open_checkouts(shop: Shop) -> None:
    limited(shop, uses_per_member=1)
    members(shop, "m1", "m2")
    hold(shop, "c1", member="m1")
    # then the same member's other cart is refused, another member's is not
    mine = dry_run(shop, member="m1")
    assert reasons(mine) == ["member_limit_reached"]
    assert applied(dry_run(shop, member="m2")) == ["lim"]
    # and a second checkout of the same member cannot hold it either
    second = hold(shop, "c2", member="m1")
    assert applied(second) == [] and second["checkout"]["reserved_promotions"] == []
    # when the first is paid, the member has used it
    pay(shop, "c1", "m1", "o1")
    assert reasons(dry_run(shop, member="m1")) == ["member_limit_reached"]
    with shop.db.read(shop.tenant_id) as uow:
        pk = uow.promotions.get("lim")
        member = uow.members.get("m1")
        assert pk is not None and member is not None
        assert uow.promotions.member_usage(pk["id"], member["id"]) == (1, 0)


def test_a_guest_checkout_paid_by_a_member_gives_that_members_use_back_on_cancel(
    shop: Shop,
) -> None:
    limited(shop, uses_per_member=1)
    members(shop, "m1")
    # given a checkout evaluated for a guest and paid by m1
    hold(shop, "g1", member=None)
    pay(shop, "g1", "m1", "o1")
    assert reasons(dry_run(shop, member="m1")) == ["member_limit_reached"]
    # when the order is cancelled
    cancel(shop, "g1", "o1")
    # then m1 has the use back and may have the promotion again
    with shop.db.read(shop.tenant_id) as uow:
        pk, member = uow.promotions.get("lim"), uow.members.get("m1")
        assert pk is not None and member is not None
        assert uow.promotions.member_usage(pk["id"], member["id"]) == (0, 0)
    assert applied(dry_run(shop, member="m1")) == ["lim"]


def test_a_re_evaluated_checkout_holds_the_new_discount_of_a_budget(shop: Shop) -> None:
    create(
        shop,
        {
            "id": "lim",
            "trigger": "automatic",
            "currency": "PLN",
            "benefits": [{"type": "percent_off", "percent": "10"}],
            "limits": {"budget": "50.00"},
        },
    )
    hold(shop, "c1")  # 10% of 50.00
    assert counters(shop) == (0, Decimal(0), 1, Decimal("5.00"))
    # when the cart grows
    bigger = (CartLine("a", 1, Decimal("300.00")),)
    hold(shop, "c1", lines=bigger)
    # then the hold follows the new discount (not both)
    assert counters(shop) == (0, Decimal(0), 1, Decimal("30.00"))
    # and another checkout can have only what is left
    other = hold(shop, "c2", member="m2", lines=bigger)
    assert other["discount"] == "20.00"
    assert counters(shop) == (0, Decimal(0), 2, Decimal("50.00"))


def test_cancelling_a_paid_order_gives_back_its_use_and_budget(shop: Shop) -> None:
    limited(shop, uses=1, budget="100.00")
    hold(shop, "c1")
    pay(shop, "c1", "m1", "o1")
    # when the paid order is cancelled
    cancel(shop, "c1", "o1")
    # then the promotion may be used again
    assert counters(shop) == (0, Decimal(0), 0, Decimal(0))
    assert applied(dry_run(shop)) == ["lim"]


# --- refunds and cancellation give a promotion's use and budget back once -------------------


def save_code(shop: Shop, policy: str) -> None:
    """A code promotion SAVE, 10.00 off, with 10 uses and a 100.00 budget, under ``policy``."""
    shop.with_settings(code_refund_policy=policy)
    create(
        shop,
        {
            "id": "save",
            "trigger": "code",
            "codes": ["SAVE"],
            "currency": "PLN",
            "benefits": [{"type": "amount_off", "amount": "10.00"}],
            "limits": {"budget": "100.00", "uses": 10},
        },
    )


def save_counters(shop: Shop) -> tuple[int, Decimal, int, Decimal]:
    """(uses, budget spent, held uses, held budget) of SAVE, and nothing held."""
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.promotions.get("save")
    assert row is not None
    return row["uses"], row["budget_spent"], row["reserved_uses"], row["reserved_budget"]


def member_uses(shop: Shop, member: str) -> int:
    with shop.db.read(shop.tenant_id) as uow:
        promotion = uow.promotions.get("save")
        row = uow.members.get(member)
        assert promotion is not None and row is not None
        return uow.promotions.member_usage(promotion["id"], row["id"])[0]


def two_orders_with_save(shop: Shop) -> None:
    """o0 (m2) and o1 (m1), each paid through a checkout that used SAVE (40.00 each)."""
    members(shop, "m1", "m2")
    hold(shop, "c0", member="m2", codes=("SAVE",))
    pay(shop, "c0", "m2", "o0")
    hold(shop, "c1", codes=("SAVE",))
    pay(shop, "c1", "m1", "o1")
    assert save_counters(shop) == (2, Decimal("20.00"), 0, Decimal(0))


def refund(shop: Shop, refund_id: str, order_id: str, amount: str) -> None:
    body = refund_json(f"e-{refund_id}", order_id, refund_id, NOW, amount=amount)
    events.ingest(shop.db, shop.ctx, event(body), NOW)


@pytest.mark.parametrize("policy", ["release_on_full_refund", "release_on_any_refund"])
def test_a_full_refund_then_the_cancellation_gives_the_use_and_budget_back_once(
    shop: Shop, policy: str
) -> None:
    save_code(shop, policy)
    two_orders_with_save(shop)
    # when o1 is fully refunded
    refund(shop, "rf1", "o1", "40.00")
    # then its use and its discount's budget come back
    assert save_counters(shop) == (1, Decimal("10.00"), 0, Decimal(0))
    assert member_uses(shop, "m1") == 0
    # when it is then cancelled too
    cancel(shop, "c1", "o1")
    # then nothing more is given back: o0's use and budget stay counted
    assert save_counters(shop) == (1, Decimal("10.00"), 0, Decimal(0))
    assert (member_uses(shop, "m1"), member_uses(shop, "m2")) == (0, 1)


def test_a_partial_refund_then_the_completing_refund_gives_the_budget_back_too(
    shop: Shop,
) -> None:
    save_code(shop, "release_on_any_refund")
    two_orders_with_save(shop)
    # when o1 is partly refunded
    refund(shop, "rf1", "o1", "10.00")
    # then the code and its use come back, the budget its discount spent stays spent
    assert save_counters(shop) == (1, Decimal("20.00"), 0, Decimal(0))
    # when the rest of o1 is refunded
    refund(shop, "rf2", "o1", "30.00")
    # then the budget comes back as well, and the use is not given back a second time
    assert save_counters(shop) == (1, Decimal("10.00"), 0, Decimal(0))
    # and when o1 is cancelled afterwards, nothing more is given back
    cancel(shop, "c1", "o1")
    assert save_counters(shop) == (1, Decimal("10.00"), 0, Decimal(0))
    assert (member_uses(shop, "m1"), member_uses(shop, "m2")) == (0, 1)


def test_cancelling_a_partly_refunded_order_gives_back_only_what_the_refund_did_not(
    shop: Shop,
) -> None:
    save_code(shop, "release_on_any_refund")
    two_orders_with_save(shop)
    refund(shop, "rf1", "o1", "10.00")  # the code and its use come back
    # when o1 is cancelled
    cancel(shop, "c1", "o1")
    # then only its budget comes back
    assert save_counters(shop) == (1, Decimal("10.00"), 0, Decimal(0))
    assert (member_uses(shop, "m1"), member_uses(shop, "m2")) == (0, 1)


def test_giving_a_refunded_orders_usage_back_again_changes_nothing(shop: Shop) -> None:
    save_code(shop, "release_on_full_refund")
    two_orders_with_save(shop)
    refund(shop, "rf1", "o1", "40.00")
    # when the refund's give-back runs again (a retried step), and the cancellation twice
    with shop.db.transaction(shop.tenant_id) as uow:
        order = uow.orders.get("o1")
        assert order is not None
        checkout.refunded(uow, shop.ctx.program, order["id"], full=True, now=NOW)
    cancel(shop, "c1", "o1")
    with shop.db.transaction(shop.tenant_id) as uow:
        assert checkout.release(uow, "c1", "order cancelled", NOW) is not None
    # then o1's use and budget were given back exactly once
    assert save_counters(shop) == (1, Decimal("10.00"), 0, Decimal(0))
    assert (member_uses(shop, "m1"), member_uses(shop, "m2")) == (0, 1)
