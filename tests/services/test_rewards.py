"""Service tests: redeeming rewards through the ledger, cancelling, stock and limits."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from loyalty.domain.errors import ErrorCode, InsufficientPoints
from loyalty.domain.rewards import (
    IllegalCouponTransition,
    RedemptionLimitReached,
    RedemptionNotCancellable,
    RewardNotVisible,
    RewardOutOfStock,
    StoreCreditUnavailable,
)
from loyalty.services import coupons, events, jobs, members, rewards, wallet
from loyalty.services.checks import check_ledger
from loyalty.store import tables
from tests.builders import order_paid, refund
from tests.conftest import NOW, Shop

DAY = timedelta(days=1)


def assert_clean(shop: Shop) -> None:
    report = check_ledger(shop.db, shop.tenant_id)
    assert report.ok, [str(v) for v in report.violations]


def give(shop: Shop, member: str, points: int, now: datetime = NOW) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        if uow.members.get(member) is None:
            members.create_member(uow, shop.ctx, member, {}, now)
        members.adjust(uow, shop.ctx, member, points, "test", now)


def add_reward(shop: Shop, **data: Any) -> dict[str, Any]:
    body = {
        "id": "ten-off",
        "name": "10 PLN off",
        "cost_points": 100,
        "benefit": {"type": "fixed_discount", "amount": "10", "currency": "PLN"},
        **data,
    }
    with shop.db.transaction(shop.tenant_id) as uow:
        return rewards.create_reward(uow, body, NOW)


def redeem(shop: Shop, member: str, reward_id: str = "ten-off", now: datetime = NOW) -> Any:
    return shop.db.run(
        shop.tenant_id, lambda uow: rewards.redeem_reward(uow, shop.ctx, member, reward_id, now)
    )


def cancel(shop: Shop, pk: int, now: datetime = NOW) -> Any:
    return shop.db.run(
        shop.tenant_id, lambda uow: rewards.cancel_redemption(uow, shop.ctx, pk, now)
    )


def available(shop: Shop, member: str) -> int:
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.members.get(member)
        assert row is not None
        return int(row["available"])


def lots_of(shop: Shop, member: str) -> list[tuple[int, int, Any]]:
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.members.get(member)
        assert row is not None
        lots = tables.lots
        stmt = (
            select(lots.c.id, lots.c.remaining, lots.c.expires_at)
            .where(lots.c.member_id == row["id"])
            .order_by(lots.c.id)
        )
        return [tuple(r) for r in uow.conn.execute(stmt)]


def test_redeeming_spends_soonest_expiring_points_and_issues_a_code(
    make_shop: Callable[..., Shop],
) -> None:
    # given two lots: the later one expires first
    shop = make_shop(pending_days=0, expiry={"kind": "days_after_earn", "days": 100})
    give(shop, "m1", 80, NOW - 50 * DAY)
    give(shop, "m1", 80, NOW - 90 * DAY)
    add_reward(shop, code_valid_days=30)
    # when
    view = redeem(shop, "m1")
    # then the lot expiring sooner (earned 90 days ago) is emptied first
    assert [remaining for _, remaining, _ in lots_of(shop, "m1")] == [60, 0]
    assert available(shop, "m1") == 60
    assert view["status"] == "completed" and view["points"] == 100
    assert view["coupon"]["status"] == "issued"
    assert view["coupon"]["expires_at"] == (NOW + 30 * DAY).isoformat()
    assert_clean(shop)


def test_cancel_returns_exactly_the_points_to_the_same_lots(
    make_shop: Callable[..., Shop],
) -> None:
    shop = make_shop(pending_days=0, expiry={"kind": "days_after_earn", "days": 100})
    give(shop, "m1", 80, NOW - 50 * DAY)
    give(shop, "m1", 80, NOW - 90 * DAY)
    add_reward(shop, stock=1)
    before = lots_of(shop, "m1")
    view = redeem(shop, "m1")
    # when
    cancelled = cancel(shop, view["id"])
    # then
    assert lots_of(shop, "m1") == before
    assert available(shop, "m1") == 160
    assert cancelled["status"] == "cancelled" and cancelled["coupon"]["status"] == "cancelled"
    with shop.db.read(shop.tenant_id) as uow:
        assert rewards.get_reward(uow, "ten-off")["stock_left"] == 1
        history = coupons.get_coupon(uow, view["coupon"]["code"])["history"]
    assert [(h["from"], h["to"], h["action"]) for h in history] == [
        ("issued", "cancelled", "cancel")
    ]
    with pytest.raises(RedemptionNotCancellable) as caught:
        cancel(shop, view["id"])
    assert caught.value.data["reason"] == "already_cancelled"
    assert_clean(shop)


def test_points_of_a_lot_that_expired_meanwhile_come_back_expired(
    make_shop: Callable[..., Shop],
) -> None:
    shop = make_shop(pending_days=0, expiry={"kind": "days_after_earn", "days": 100})
    give(shop, "m1", 60, NOW - 95 * DAY)  # expires in 5 days
    give(shop, "m1", 60, NOW)
    add_reward(shop)
    view = redeem(shop, "m1")  # 60 from the old lot, 40 from the new one
    later = NOW + 10 * DAY
    jobs.run_due_jobs(shop.db, later, shop.tenant_id)
    # when
    cancelled = cancel(shop, view["id"], later)
    # then only the 40 of the live lot are spendable again; the 60 expired once more
    assert available(shop, "m1") == 60
    assert cancelled["restore_entry_id"] is not None
    assert_clean(shop)


def test_a_used_code_cannot_be_cancelled(shop: Shop) -> None:
    give(shop, "m1", 100)
    add_reward(shop)
    view = redeem(shop, "m1")
    shop.db.run(
        shop.tenant_id,
        lambda uow: coupons.use_coupon(uow, view["coupon"]["code"], "o-1", "m1", NOW),
    )
    with pytest.raises(RedemptionNotCancellable) as caught:
        cancel(shop, view["id"])
    assert caught.value.data["reason"] == "coupon_used"
    assert available(shop, "m1") == 0


def test_refusals_write_nothing(shop: Shop) -> None:
    give(shop, "m1", 50)
    add_reward(shop)
    with pytest.raises(InsufficientPoints):
        redeem(shop, "m1")
    add_reward(shop, id="vip", visibility={"tiers": ["gold"]})
    with pytest.raises(RewardNotVisible):
        redeem(shop, "m1", "vip")
    add_reward(shop, id="gone", cost_points=1, stock=0)
    with pytest.raises(RewardOutOfStock):
        redeem(shop, "m1", "gone")
    with shop.db.read(shop.tenant_id) as uow:
        assert rewards.list_redemptions(uow, "m1", None, 10)[0] == []
    assert available(shop, "m1") == 50


def test_per_member_limit_counts_the_period_and_ignores_cancelled(shop: Shop) -> None:
    give(shop, "m1", 1000)
    add_reward(shop, limits=[{"period": "day", "max_redemptions": 1}])
    first = redeem(shop, "m1")
    with pytest.raises(RedemptionLimitReached):
        redeem(shop, "m1")
    cancel(shop, first["id"])
    redeem(shop, "m1")
    redeem(shop, "m1", now=NOW + DAY)
    assert available(shop, "m1") == 800


def test_store_credit_goes_into_the_wallet_once(shop: Shop) -> None:
    # given a member with 100 points and a reward worth 5.00 of store credit for 40 points
    give(shop, "m1", 100)
    add_reward(
        shop,
        id="credit",
        cost_points=40,
        benefit={"type": "store_credit", "amount": "5", "currency": "PLN"},
    )
    # when it is redeemed
    view = redeem(shop, "m1", "credit")
    # then the points went and the wallet holds the money, under the redemption's reference
    assert available(shop, "m1") == 60
    with shop.db.read(shop.tenant_id) as uow:
        held = wallet.wallet_view(uow, shop.ctx, "m1")
    assert held["balance"] == "5.00"
    assert [e["reference"] for e in held["entries"]] == [f"redemption:{view['id']}"]


def test_store_credit_in_another_currency_is_refused_and_spends_nothing(shop: Shop) -> None:
    give(shop, "m1", 100)
    add_reward(
        shop, id="credit", benefit={"type": "store_credit", "amount": "5", "currency": "EUR"}
    )
    with pytest.raises(StoreCreditUnavailable) as caught:
        redeem(shop, "m1", "credit")
    assert caught.value.code is ErrorCode.STORE_CREDIT_UNAVAILABLE
    assert available(shop, "m1") == 100


def test_a_physical_gift_ships_and_a_pending_one_can_be_cancelled(shop: Shop) -> None:
    give(shop, "m1", 200)
    add_reward(shop, id="mug", benefit={"type": "physical_gift", "sku": "MUG"})
    first, second = redeem(shop, "m1", "mug"), redeem(shop, "m1", "mug")
    assert first["fulfilment"]["status"] == "pending" and first["coupon"] is None
    shipped = shop.db.run(
        shop.tenant_id,
        lambda uow: rewards.update_fulfilment(
            uow, first["id"], "shipped", NOW, carrier="DHL", tracking="T1"
        ),
    )
    assert shipped["fulfilment"]["tracking"] == "T1"
    with pytest.raises(RedemptionNotCancellable):
        cancel(shop, first["id"])
    assert cancel(shop, second["id"])["fulfilment"]["status"] == "cancelled"
    assert available(shop, "m1") == 100
    assert_clean(shop)


def test_two_members_racing_for_the_last_unit_exactly_one_wins(shop: Shop) -> None:
    # given one unit left and two members with points
    for member in ("a", "b", "c", "d"):
        give(shop, member, 100)
    add_reward(shop, stock=1)
    barrier = threading.Barrier(4)
    outcomes: dict[str, Any] = {}

    def attempt(member: str) -> None:
        barrier.wait()
        try:
            outcomes[member] = redeem(shop, member)["id"]
        except RewardOutOfStock as exc:
            outcomes[member] = exc

    # when
    threads = [threading.Thread(target=attempt, args=(m,)) for m in ("a", "b", "c", "d")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    winners = [m for m, o in outcomes.items() if isinstance(o, int)]
    assert len(winners) == 1
    assert all(isinstance(o, RewardOutOfStock) for m, o in outcomes.items() if m not in winners)
    assert sum(available(shop, m) for m in outcomes) == 300
    with shop.db.read(shop.tenant_id) as uow:
        assert rewards.get_reward(uow, "ten-off")["stock_left"] == 0
    assert_clean(shop)


def test_expired_codes_are_expired_by_the_job(shop: Shop) -> None:
    give(shop, "m1", 100)
    add_reward(shop, code_valid_days=1)
    code = redeem(shop, "m1")["coupon"]["code"]
    assert jobs.run_due_jobs(shop.db, NOW, shop.tenant_id).coupons_expired == 0
    assert jobs.run_due_jobs(shop.db, NOW + 2 * DAY, shop.tenant_id).coupons_expired == 1
    assert jobs.run_due_jobs(shop.db, NOW + 3 * DAY, shop.tenant_id).coupons_expired == 0
    with shop.db.read(shop.tenant_id) as uow:
        assert coupons.get_coupon(uow, code)["status"] == "expired"


def test_points_given_back_first_repay_a_negative_balance(make_shop: Callable[..., Shop]) -> None:
    # given points spent on a reward, then the order that earned them refunded
    shop = make_shop(pending_days=0, clawback="negative_balance")
    events.ingest(shop.db, shop.ctx, order_paid("e1", "m1", "o1", [("a", 1, "100")], NOW), NOW)
    add_reward(shop)
    view = redeem(shop, "m1")
    events.ingest(shop.db, shop.ctx, refund("e2", "o1", "r1", NOW, amount="100"), NOW)
    with shop.db.read(shop.tenant_id) as uow:
        assert uow.members.get("m1")["debt"] == 100  # type: ignore[index]
    # when the redemption is cancelled
    cancel(shop, view["id"])
    # then the returned points settle the debt
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.members.get("m1")
        assert row is not None and (row["available"], row["debt"]) == (0, 0)
    assert_clean(shop)


def test_two_orders_racing_for_a_single_use_code_exactly_one_wins(shop: Shop) -> None:
    give(shop, "m1", 100)
    add_reward(shop)
    code = redeem(shop, "m1")["coupon"]["code"]
    barrier = threading.Barrier(4)
    outcomes: dict[str, Any] = {}

    def attempt(order_id: str) -> None:
        barrier.wait()
        try:
            outcomes[order_id] = shop.db.run(
                shop.tenant_id, lambda uow: coupons.use_coupon(uow, code, order_id, "m1", NOW)
            )[0]
        except IllegalCouponTransition as exc:
            outcomes[order_id] = exc.reason

    threads = [threading.Thread(target=attempt, args=(f"o{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, outcomes.values())) == [
        "201",
        "coupon_used",
        "coupon_used",
        "coupon_used",
    ]
    with shop.db.read(shop.tenant_id) as uow:
        assert coupons.get_coupon(uow, code)["uses"] == 1


def test_random_redeem_cancel_and_expiry_keep_every_ledger_invariant(
    make_shop: Callable[..., Shop],
) -> None:
    # given lots with many expiry dates, redemptions and cancellations in a seeded random order
    shop = make_shop(pending_days=0, expiry={"kind": "days_after_earn", "days": 30})
    rng = random.Random(20261123)
    add_reward(shop, cost_points=70)
    now = NOW
    redeemed: list[int] = []
    done = {"redeemed": 0, "cancelled": 0}
    for _ in range(40):
        now += timedelta(days=rng.randint(0, 4))
        action = rng.random()
        if action < 0.35:
            give(shop, "m1", rng.randint(10, 90), now)
        elif action < 0.7:
            with contextlib.suppress(InsufficientPoints):
                redeemed.append(redeem(shop, "m1", now=now)["id"])
                done["redeemed"] += 1
        elif action < 0.9 and redeemed:
            cancel(shop, redeemed.pop(rng.randrange(len(redeemed))), now)
            done["cancelled"] += 1
        else:
            jobs.run_due_jobs(shop.db, now, shop.tenant_id)
        # then after every step
        assert_clean(shop)
    assert done["redeemed"] >= 5 and done["cancelled"] >= 3, done


def test_a_checkout_reserves_a_code_then_commits_or_lapses(shop: Shop) -> None:
    give(shop, "m1", 200)
    add_reward(shop, code_valid_days=1)
    first = redeem(shop, "m1")["coupon"]["code"]
    second = redeem(shop, "m1")["coupon"]["code"]
    until = NOW + timedelta(minutes=15)

    def run(work: Callable[[Any], Any]) -> Any:
        return shop.db.run(shop.tenant_id, work)

    # when a checkout reserves the first code
    held = run(lambda uow: coupons.reserve_coupon(uow, first, "c1", until, "m1", NOW))
    assert held["status"] == "reserved"
    with pytest.raises(IllegalCouponTransition) as caught:
        run(lambda uow: coupons.reserve_coupon(uow, first, "c2", until, "m1", NOW))
    assert caught.value.reason == "coupon_reserved"
    # then the order of that checkout commits it, even after the code's own expiry
    late = NOW + timedelta(days=1, minutes=1)
    run(lambda uow: coupons.reserve_coupon(uow, first, "c1", late + DAY, "m1", NOW))
    status, used = run(
        lambda uow: coupons.use_coupon(uow, first, "o1", "m1", late, checkout_id="c1")
    )
    assert (status, used["status"]) == (201, "used")
    # and a lapsed hold is dropped by the job, released explicitly otherwise
    run(lambda uow: coupons.reserve_coupon(uow, second, "c3", until, "m1", NOW))
    assert jobs.run_due_jobs(shop.db, until, shop.tenant_id).coupons_expired == 0
    with shop.db.read(shop.tenant_id) as uow:
        assert coupons.get_coupon(uow, second)["status"] == "issued"
    run(lambda uow: coupons.reserve_coupon(uow, second, "c4", until + DAY, "m1", until))
    released = run(lambda uow: coupons.release_coupon(uow, second, "c4", until))
    assert released["status"] == "issued"
    with shop.db.read(shop.tenant_id) as uow:
        actions = [h["action"] for h in coupons.get_coupon(uow, second)["history"]]
    assert actions == ["reserve", "release", "reserve", "release"]
