"""Service tests: earning rules on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from loyalty.domain.errors import InsufficientCredit, WalletReferenceConflict
from loyalty.services import bulk, events, jobs, members, rules, wallet
from loyalty.services.birthdays import raise_birthdays
from loyalty.services.checks import check_ledger
from loyalty.store.tables import rule_usage
from tests.builders import event, order_paid_json
from tests.conftest import NOW, Shop


def add_rule(shop: Shop, **data: Any) -> str:
    with shop.db.transaction(shop.tenant_id) as uow:
        return str(rules.create_rule(uow, shop.ctx, data, NOW)["id"])


def edit_rule(shop: Shop, rule_id: str, **changes: Any) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        rules.update_rule(uow, shop.ctx, rule_id, changes, NOW)


def bonus(trigger: str, points: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"{trigger} +{points}",
        "trigger": trigger,
        "effect": {"kind": "fixed_points", "points": points},
        **extra,
    }


def paid(n: int, member: str = "m1", price: str = "100", at: datetime = NOW) -> Any:
    return event(order_paid_json(f"e{n}", member, f"o{n}", [("a", 1, price)], at))


def send(shop: Shop, ev: Any, now: datetime = NOW) -> dict[str, Any]:
    return events.ingest(shop.db, shop.ctx, ev, now).body


def available(shop: Shop, member: str) -> int:
    with shop.db.read(shop.tenant_id) as uow:
        return int(members.get_member(uow, shop.ctx, member, NOW)["balances"]["available"])


def new_member(shop: Shop, external_id: str, **fields: Any) -> int:
    with shop.db.transaction(shop.tenant_id) as uow:
        members.create_member(uow, shop.ctx, external_id, fields, NOW)
        row = uow.members.get(external_id)
        assert row is not None
        return int(row["id"])


def test_the_rule_set_cache_follows_every_change(shop: Shop) -> None:
    # given a cached rule set
    rule_id = add_rule(shop, **bonus("order.paid", 10))
    with shop.db.read(shop.tenant_id) as uow:
        first = rules.tenant_rules(uow)
        same = rules.tenant_rules(uow)
    # when the rule is edited
    edit_rule(shop, rule_id, effect={"kind": "fixed_points", "points": 20})
    with shop.db.read(shop.tenant_id) as uow:
        after = rules.tenant_rules(uow)
    # then the cache was reused, then rebuilt at the new version
    assert first is same
    assert first is not None and after is not None and after.version > first.version
    assert send(shop, paid(1))["effects"][-1]["points"] == 20


def test_a_tenant_without_rules_builds_no_rule_set(shop: Shop) -> None:
    with shop.db.read(shop.tenant_id) as uow:
        assert rules.tenant_rules(uow) is None
    assert [e["points"] for e in send(shop, paid(1))["effects"]] == [100]


def test_inactive_rules_leave_the_programme_rate_alone(shop: Shop) -> None:
    add_rule(shop, **bonus("order.paid", 10, active=False))

    body = send(shop, paid(1))

    assert [e["points"] for e in body["effects"]] == [100]
    assert "rules" not in body


def test_usage_counters_are_stored_per_period_and_respected(shop: Shop) -> None:
    limits = {
        "per_member": [{"period": "week", "max_times": 2}, {"period": "lifetime", "max_points": 25}]
    }
    rule_id = add_rule(shop, **bonus("review.approved", 10, limits=limits))
    reviews = [
        event(
            {
                "id": f"rv{n}",
                "type": "review.approved",
                "occurred_at": NOW.isoformat(),
                "member": {"external_id": "m1"},
                "data": {},
            }
        )
        for n in range(4)
    ]

    given = [sum(e["points"] for e in send(shop, ev)["effects"]) for ev in reviews]

    assert given == [10, 10, 0, 0]
    with shop.db.read(shop.tenant_id) as uow:
        rows = uow.conn.execute(
            select(
                rule_usage.c.period,
                rule_usage.c.period_key,
                rule_usage.c.points,
                rule_usage.c.times,
            )
            .where(rule_usage.c.tenant_id == shop.tenant_id, rule_usage.c.rule_id == int(rule_id))
            .order_by(rule_usage.c.period)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("lifetime", "lifetime", 20, 2),
        ("week", "2026-W10", 20, 2),
    ]


def test_stamps_persist_between_orders(shop: Shop) -> None:
    add_rule(
        shop,
        name="every third order",
        trigger="order.paid",
        effect={"kind": "stamp_card", "every": 3, "points": 30},
    )

    totals = [sum(e["points"] for e in send(shop, paid(n))["effects"]) for n in range(1, 7)]

    assert totals == [100, 100, 130, 100, 100, 130]
    with shop.db.read(shop.tenant_id) as uow:
        row = uow.members.get("m1")
        assert row is not None
        stamps = uow.rules.member_stamps(row["id"])
    assert [(s["stamps"], s["cards_completed"]) for s in stamps] == [(0, 2)]


def test_cashback_credit_is_idempotent_per_event_and_rule(shop: Shop) -> None:
    add_rule(
        shop, name="5% back", trigger="order.paid", effect={"kind": "cashback", "percent": "5"}
    )

    send(shop, paid(1))
    send(shop, paid(1))  # a retry of the same event

    with shop.db.read(shop.tenant_id) as uow:
        view = wallet.wallet_view(uow, shop.ctx, "m1")
    assert view["balance"] == "5.00"
    assert len(view["entries"]) == 1


def test_wallet_credit_and_debit_keep_the_balance_and_never_overdraw(shop: Shop) -> None:
    member_id = new_member(shop, "m1")

    def run(fn: Any, amount: str, reference: str) -> dict[str, Any]:
        return shop.db.run(
            shop.tenant_id,
            lambda uow: fn(uow, shop.ctx, member_id, Decimal(amount), "test", reference, NOW),
        )

    run(wallet.credit, "10.00", "c1")
    run(wallet.debit, "4.00", "d1")
    assert run(wallet.debit, "4.00", "d1")["replayed"] is True
    with pytest.raises(InsufficientCredit):
        run(wallet.debit, "6.01", "d2")
    with pytest.raises(WalletReferenceConflict):
        run(wallet.credit, "11.00", "c1")
    with shop.db.read(shop.tenant_id) as uow:
        view = wallet.wallet_view(uow, shop.ctx, "m1")
    assert view["balance"] == "6.00"
    assert [e["balance_after"] for e in view["entries"]] == ["6.00", "10.00"]


def test_a_blocked_member_earns_nothing_from_actions(shop: Shop) -> None:
    add_rule(shop, **bonus("social.shared", 10))
    new_member(shop, "m1", status="blocked")

    body = send(
        shop,
        event(
            {
                "id": "s1",
                "type": "social.shared",
                "occurred_at": NOW.isoformat(),
                "member": {"external_id": "m1"},
            }
        ),
    )

    assert body["effects"] == [] and "blocked" in body["note"]


def test_bulk_routes_tenants_with_rules_through_the_per_event_path(make_shop: Any) -> None:
    # given two identical shops with a rule
    shops = [make_shop(pending_days=0), make_shop(pending_days=0)]
    for shop in shops:
        add_rule(shop, **bonus("order.paid", 7, condition="order.total >= 50.0"))
    batch = [paid(n, f"m{n % 2}", price=str(30 + 10 * n)) for n in range(5)]
    batch.append(batch[0])  # a retry

    # when one gets them one by one and the other as a batch
    single = [events.ingest(shops[0].db, shops[0].ctx, ev, NOW).body for ev in batch]
    batched = bulk.ingest_batch(shops[1].db, shops[1].ctx, batch, NOW)

    # then the effects and balances agree
    def strip(body: dict[str, Any]) -> Any:
        outcomes = [(r["status"], r["points"]) for r in body.get("rules", [])]
        return [(e["kind"], e["points"]) for e in body["effects"]], outcomes

    assert [strip(r.body) for r in batched] == [strip(b) for b in single]
    assert [available(s, "m0") for s in shops] == [available(shops[0], "m0")] * 2
    for shop in shops:
        assert check_ledger(shop.db, shop.tenant_id).ok


# --- birthdays --------------------------------------------------------------------------------


def _birthday_shop(shop: Shop) -> Shop:
    add_rule(shop, **bonus("member.birthday", 50))
    return shop


def test_birthday_bonus_is_raised_once_a_year_in_the_tenant_time_zone(shop: Shop) -> None:
    _birthday_shop(shop)
    new_member(shop, "ann", birthday=date(1990, 5, 17))
    # 22:30 UTC on 16 May is already 17 May in Warsaw (UTC+2)
    night = datetime(2026, 5, 16, 22, 30, tzinfo=UTC)

    before = raise_birthdays(shop.db, night - timedelta(hours=1), shop.tenant_id)
    first = raise_birthdays(shop.db, night, shop.tenant_id)
    again = raise_birthdays(shop.db, night + timedelta(hours=12), shop.tenant_id)
    next_year = raise_birthdays(shop.db, night.replace(year=2027), shop.tenant_id)

    assert (before, first, again, next_year) == (0, 1, 0, 1)
    assert available(shop, "ann") == 100


def test_29_february_birthdays_count_on_28_february_in_common_years(shop: Shop) -> None:
    _birthday_shop(shop)
    new_member(shop, "leap", birthday=date(2000, 2, 29))

    raised = raise_birthdays(shop.db, datetime(2027, 2, 28, 9, 0, tzinfo=UTC), shop.tenant_id)

    assert raised == 1


def test_a_recently_changed_birthday_earns_nothing_that_year(shop: Shop) -> None:
    _birthday_shop(shop)
    new_member(shop, "bob")
    with shop.db.transaction(shop.tenant_id) as uow:  # set 10 days before the birthday
        members.update_member(uow, shop.ctx, "bob", {"birthday": date(1990, 3, 12)}, NOW)

    raised = raise_birthdays(shop.db, datetime(2026, 3, 12, 9, 0, tzinfo=UTC), shop.tenant_id)

    assert raised == 0
    assert available(shop, "bob") == 0


def test_the_job_catches_up_after_downtime_and_reports(shop: Shop) -> None:
    _birthday_shop(shop)
    new_member(shop, "cid", birthday=date(1985, 4, 1))

    report = jobs.run_due_jobs(shop.db, datetime(2026, 4, 3, 9, 0, tzinfo=UTC), shop.tenant_id)

    assert report.birthday_events == 1
    assert report.to_dict()["birthday_events"] == 1


def _gift_plan(shop: Shop, gift: dict[str, Any], name: str = "Plus") -> int:
    from loyalty.services import memberships

    data = {"name": name, "price": "9.99", "term": "yearly", "benefits": {"birthday_gift": gift}}
    with shop.db.transaction(shop.tenant_id) as uow:
        return int(memberships.create_plan(uow, shop.ctx, data, NOW)["id"])


def _join(shop: Shop, external_id: str, plan_id: int) -> None:
    from loyalty.services import memberships

    with shop.db.transaction(shop.tenant_id) as uow:
        memberships.start_membership(uow, shop.ctx, external_id, plan_id, None, NOW, NOW)


def _entries(shop: Shop, external_id: str) -> list[dict[str, Any]]:
    with shop.db.read(shop.tenant_id) as uow:
        return members.history(uow, external_id, None, 50)[0]


def _outbox(shop: Shop) -> list[str]:
    from loyalty.store.tables import outbox_events

    with shop.db.read(shop.tenant_id) as uow:
        stmt = select(outbox_events.c.type).where(outbox_events.c.tenant_id == shop.tenant_id)
        return list(uow.conn.execute(stmt.order_by(outbox_events.c.id)).scalars())


def test_a_plan_birthday_gift_of_points_is_given_once_a_year_without_a_birthday_rule(
    shop: Shop,
) -> None:
    plus = _gift_plan(shop, {"points": 30})
    new_member(shop, "ann", birthday=date(1990, 5, 17))
    new_member(shop, "eve", birthday=date(1990, 5, 17))  # no plan: no gift
    _join(shop, "ann", plus)
    night = datetime(2026, 5, 16, 22, 30, tzinfo=UTC)  # 17 May in Warsaw

    before = raise_birthdays(shop.db, night - timedelta(hours=1), shop.tenant_id)
    first = raise_birthdays(shop.db, night, shop.tenant_id)
    again = raise_birthdays(shop.db, night + timedelta(hours=12), shop.tenant_id)
    catch_up = raise_birthdays(shop.db, night + timedelta(days=2), shop.tenant_id)

    assert (before, first, again, catch_up) == (0, 1, 0, 0)
    assert (available(shop, "ann"), available(shop, "eve")) == (30, 0)
    gift = _entries(shop, "ann")[0]
    assert (gift["kind"], gift["points"]) == ("earn", 30)
    assert gift["reason"] == "birthday gift 2026 (plan Plus)"
    assert gift["meta"] == {"birthday_gift": "plan Plus", "celebrated_on": "2026-05-17"}
    assert _outbox(shop).count("points.earned") == 1
    assert check_ledger(shop.db, shop.tenant_id).ok


def test_a_missed_birthday_gift_is_caught_up_and_a_recent_change_earns_nothing(
    shop: Shop,
) -> None:
    plus = _gift_plan(shop, {"points": 30})
    new_member(shop, "cid", birthday=date(1985, 4, 1))
    new_member(shop, "bob")
    for external_id in ("cid", "bob"):
        _join(shop, external_id, plus)
    with shop.db.transaction(shop.tenant_id) as uow:  # set 10 days before the birthday
        members.update_member(uow, shop.ctx, "bob", {"birthday": date(1990, 3, 12)}, NOW)

    bob = raise_birthdays(shop.db, datetime(2026, 3, 12, 9, 0, tzinfo=UTC), shop.tenant_id)
    cid = raise_birthdays(shop.db, datetime(2026, 4, 3, 9, 0, tzinfo=UTC), shop.tenant_id)

    assert (bob, cid) == (0, 1)
    assert (available(shop, "bob"), available(shop, "cid")) == (0, 30)


def test_a_birthday_gift_reward_is_granted_through_the_rewards_service(shop: Shop) -> None:
    from loyalty.services import rewards

    cake = {
        "id": "cake",
        "name": "Birthday cake",
        "cost_points": 500,
        "stock": 5,
        "exclusive": True,
        "benefit": {"type": "free_product", "sku": "CAKE", "quantity": 1},
    }
    with shop.db.transaction(shop.tenant_id) as uow:
        rewards.create_reward(uow, cake, NOW)
    plus = _gift_plan(shop, {"reward_id": "cake"})
    new_member(shop, "ann", birthday=date(1990, 5, 17))
    _join(shop, "ann", plus)
    day = datetime(2026, 5, 17, 9, 0, tzinfo=UTC)

    raised = [raise_birthdays(shop.db, day, shop.tenant_id) for _ in range(2)]

    assert raised == [1, 0]
    with shop.db.read(shop.tenant_id) as uow:
        given, _ = rewards.list_redemptions(uow, "ann", None, 10)
        assert rewards.get_reward(uow, "cake")["stock_left"] == 4
    assert [(r["reward_id"], r["points"], r["status"]) for r in given] == [("cake", 0, "completed")]
    assert given[0]["coupon"] is not None
    assert "coupon.issued" in _outbox(shop)
    assert available(shop, "ann") == 0


def test_a_birthday_rule_and_the_gifts_of_a_tier_and_a_plan_all_apply(shop: Shop) -> None:
    from loyalty.services import tiers

    _birthday_shop(shop)  # the rule: +50
    with shop.db.transaction(shop.tenant_id) as uow:
        ladder = {
            "metric": "points_earned",
            "window": {"kind": "lifetime"},
            "levels": [
                {
                    "id": "gold",
                    "name": "Gold",
                    "threshold": 0,
                    "benefits": {"birthday_gift": {"points": 20}},
                },
            ],
        }
        tiers.create_tiers(uow, shop.ctx, ladder, NOW)
    plus = _gift_plan(shop, {"points": 30})
    new_member(shop, "ann", birthday=date(1990, 5, 17))
    _join(shop, "ann", plus)
    with shop.db.transaction(shop.tenant_id) as uow:
        tiers.put_member_tier(uow, shop.ctx, "ann", "gold", None, "", NOW)

    raised = raise_birthdays(shop.db, datetime(2026, 5, 17, 9, 0, tzinfo=UTC), shop.tenant_id)

    assert raised == 2  # the rule's event and the gifts
    assert available(shop, "ann") == 100
    reasons = sorted(e["reason"] for e in _entries(shop, "ann"))
    assert reasons[:2] == ["birthday gift 2026 (plan Plus)", "birthday gift 2026 (tier Gold)"]


def test_a_member_created_with_a_birthday_days_before_it_earns_nothing_that_year(
    shop: Shop,
) -> None:
    _birthday_shop(shop)
    new_member(shop, "new", birthday=date(1990, 3, 12))  # created 10 days before
    new_member(shop, "old", birthday=date(1990, 4, 20))  # created 49 days before

    soon = raise_birthdays(shop.db, datetime(2026, 3, 12, 9, 0, tzinfo=UTC), shop.tenant_id)
    later = raise_birthdays(shop.db, datetime(2026, 4, 20, 9, 0, tzinfo=UTC), shop.tenant_id)
    next_year = raise_birthdays(shop.db, datetime(2027, 3, 12, 9, 0, tzinfo=UTC), shop.tenant_id)

    assert (soon, later, next_year) == (0, 1, 1)
    assert (available(shop, "new"), available(shop, "old")) == (50, 50)


def test_the_tier_earn_multiplier_and_segments_reach_the_rules(shop: Shop) -> None:
    from loyalty.services import tiers

    # given gold (x1.5) from 100 points, an order rule that reads segments, and a static VIP list
    with shop.db.transaction(shop.tenant_id) as uow:
        tiers.create_tiers(
            uow,
            shop.ctx,
            {
                "metric": "points_earned",
                "window": {"kind": "lifetime"},
                "levels": [
                    {
                        "id": "gold",
                        "name": "Gold",
                        "threshold": 100,
                        "benefits": {"earn_multiplier": "1.5"},
                    }
                ],
            },
            NOW,
        )
    add_rule(shop, **bonus("order.paid", 7, condition='"vip" in segments'))
    # when m1 buys twice for 100 (gold after the first order)
    first = send(shop, paid(1))
    second = send(shop, paid(2, at=NOW + timedelta(minutes=1)), NOW + timedelta(minutes=1))
    # then the second order earns 100 x 1.5; nobody is in "vip", so the bonus never applies
    assert sum(e["points"] for e in first["effects"]) == 100
    assert sum(e["points"] for e in second["effects"]) == 150


def test_a_rule_can_reward_a_segment(shop: Shop) -> None:
    from loyalty.services import segments

    # given a static VIP list holding m1, and a bonus for VIP orders
    new_member(shop, "m1")
    new_member(shop, "m2")
    with shop.db.transaction(shop.tenant_id) as uow:
        segments.create_segment(uow, {"id": "vip", "name": "VIP", "kind": "static"}, NOW)
        segments.change_members(uow, "vip", ["m1"], NOW, add=True)
    add_rule(shop, **bonus("order.paid", 7, condition='"vip" in segments'))
    # when both buy, then only m1 gets the bonus on top of the base points
    assert sum(e["points"] for e in send(shop, paid(1, "m1"))["effects"]) == 107
    assert sum(e["points"] for e in send(shop, paid(2, "m2"))["effects"]) == 100


# --- the tier multiplier without earning rules ------------------------------------------------


GOLD_LADDER = {
    "metric": "points_earned",
    "window": {"kind": "lifetime"},
    "levels": [
        {"id": "gold", "name": "Gold", "threshold": 100, "benefits": {"earn_multiplier": "1.5"}}
    ],
}


def _with_gold(shop: Shop) -> Shop:
    from loyalty.services import tiers

    with shop.db.transaction(shop.tenant_id) as uow:
        tiers.create_tiers(uow, shop.ctx, GOLD_LADDER, NOW)
    return shop


def test_a_tenant_with_tiers_and_no_rules_applies_the_tier_multiplier(shop: Shop) -> None:
    # given gold (x1.5) from 100 points and no earning rule at all
    _with_gold(shop)
    later = NOW + timedelta(minutes=1)
    # when m1 buys twice for 100 (gold after the first order)
    first = send(shop, paid(1))
    second = send(shop, paid(2, at=later), later)
    # then the second order earns 100 x 1.5, and its entry says why
    assert [e["points"] for e in first["effects"]] == [100]
    assert [e["points"] for e in second["effects"]] == [150]
    assert "x 1.5 (tier multiplier)" in second["effects"][0]["reason"]
    with shop.db.read(shop.tenant_id) as uow:
        assert rules.tenant_rules(uow) is None  # the rules never came into it


@pytest.mark.parametrize("price", ["33.33", "66.67", "0.99", "1000.01"])
def test_the_base_rate_with_a_tier_earns_what_the_rules_path_earns(
    make_shop: Any, price: str
) -> None:
    # given two gold shops, one with a rule that never applies (so the rules path runs)
    plain, ruled = (_with_gold(make_shop(pending_days=0)) for _ in range(2))
    add_rule(ruled, **bonus("order.paid", 7, condition="order.total < 0.0"))
    later = NOW + timedelta(minutes=1)
    # when m1 reaches gold in each, then buys for ``price``
    for shop in (plain, ruled):
        send(shop, paid(1, price="150"))
    earned = [
        sum(e["points"] for e in send(shop, paid(2, price=price, at=later), later)["effects"])
        for shop in (plain, ruled)
    ]
    # then both earn the same, rounded once
    assert earned[0] == earned[1]
    assert earned[0] == int(Decimal(price) * Decimal("1.5"))


def test_a_tenant_without_tiers_earns_the_programme_rate_only(shop: Shop) -> None:
    assert [e["points"] for e in send(shop, paid(1, price="33.33"))["effects"]] == [33]
    assert "tier multiplier" not in send(shop, paid(2))["effects"][0]["reason"]


def test_a_member_created_by_a_batch_with_a_birthday_days_before_it_earns_nothing(
    shop: Shop,
) -> None:
    # given a birthday gift for every tier-holder (no earning rule: the batch is written
    # set-based) and members first seen in a batch of orders, one born ten days later
    from loyalty.services import tiers

    with shop.db.transaction(shop.tenant_id) as uow:
        gift = {"birthday_gift": {"points": 50}}
        level = {"id": "fan", "name": "Fan", "threshold": 1, "benefits": gift}
        ladder = {"metric": "orders", "window": {"kind": "lifetime"}, "levels": [level]}
        tiers.create_tiers(uow, shop.ctx, ladder, NOW)
    batch = []
    for n, (member, born) in enumerate([("new", "1990-03-12"), ("old", None)]):
        body = order_paid_json(f"b{n}", member, f"bo{n}", [("a", 1, "1")], NOW)
        if born is not None:
            body["member"]["birthday"] = born
        batch.append(event(body))
    bulk.ingest_batch(shop.db, shop.ctx, batch, NOW)
    # when the birthday comes
    soon = raise_birthdays(shop.db, datetime(2026, 3, 12, 9, 0, tzinfo=UTC), shop.tenant_id)
    next_year = raise_birthdays(shop.db, datetime(2027, 3, 12, 9, 0, tzinfo=UTC), shop.tenant_id)
    # then it earns nothing this year, and next year as usual
    assert (soon, next_year) == (0, 1)
