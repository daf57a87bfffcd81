"""Service tests: tiers after order events, reviews by the job, manual tiers, benefits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from loyalty.domain.errors import InvalidSettings, NotFound
from loyalty.domain.tiers.errors import InvalidTierSettings
from loyalty.services import bulk, events, jobs, members, memberships, rules, tiers
from loyalty.store import tables
from loyalty.store.tiers import TierRepository
from tests.builders import cancel, event, order_paid, refund
from tests.conftest import NOW, Shop

NEW_YEAR_2027 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # midnight in Warsaw
NEW_YEAR_2028 = datetime(2027, 12, 31, 23, 0, tzinfo=UTC)


def ladder(metric: str = "points_earned", **extra: Any) -> dict[str, Any]:
    return {
        "metric": metric,
        "window": {"kind": "calendar_year"},
        "levels": [
            {"id": "silver", "name": "Silver", "threshold": 100},
            {
                "id": "gold",
                "name": "Gold",
                "threshold": 500,
                "benefits": {"earn_multiplier": "1.5", "free_shipping": True},
            },
            {"id": "platinum", "name": "Platinum", "threshold": 1000},
        ],
        **extra,
    }


def with_tiers(shop: Shop, data: dict[str, Any] | None = None) -> Shop:
    with shop.db.transaction(shop.tenant_id) as uow:
        tiers.create_tiers(uow, shop.ctx, data or ladder(), NOW)
    return shop


def buy(shop: Shop, n: int, amount: str, at: datetime = NOW, member: str = "m1") -> None:
    ev = order_paid(f"e{n}", member, f"o{n}", [("a", 1, amount)], at)
    events.ingest(shop.db, shop.ctx, ev, at)


def view(shop: Shop, now: datetime = NOW, member: str = "m1") -> dict[str, Any]:
    with shop.db.read(shop.tenant_id) as uow:
        return tiers.member_tier(uow, shop.ctx, member, now)


def stored(shop: Shop) -> tuple[list[Any], list[Any], list[Any]]:
    """Member tier rows, history rows and tier.changed outbox rows of the shop."""
    with shop.db.read(shop.tenant_id) as uow:
        conn, t = uow.conn, shop.tenant_id
        states = list(
            conn.execute(select(tables.member_tiers).where(tables.member_tiers.c.tenant_id == t))
        )
        history = list(
            conn.execute(
                select(tables.tier_history)
                .where(tables.tier_history.c.tenant_id == t)
                .order_by(tables.tier_history.c.id)
            )
        )
        outbox = list(
            conn.execute(
                select(tables.outbox_events.c.payload)
                .where(
                    tables.outbox_events.c.tenant_id == t,
                    tables.outbox_events.c.type == "tier.changed",
                )
                .order_by(tables.outbox_events.c.id)
            ).scalars()
        )
    return states, history, outbox


def test_order_raises_the_member_at_once_with_history_and_event(shop: Shop) -> None:
    # given
    with_tiers(shop)
    buy(shop, 1, "120")

    # when
    buy(shop, 2, "400", NOW + timedelta(hours=1))

    # then
    states, history, outbox = stored(shop)
    assert [s.tier for s in states] == ["gold"]
    assert [(h.from_tier, h.to_tier, h.reason) for h in history] == [
        (None, "silver", "qualified"),
        ("silver", "gold", "qualified"),
    ]
    assert outbox[-1]["member"] == "m1" and outbox[-1]["to_tier"] == "gold"
    seen = view(shop, NOW + timedelta(hours=2))
    assert seen["tier"] == {"id": "gold", "name": "Gold"}
    assert seen["progress"]["missing"] == 480 and seen["progress"]["next_tier"] == "platinum"
    assert seen["benefits"]["free_shipping"] is True


def test_replayed_event_changes_no_tier_twice(shop: Shop) -> None:
    with_tiers(shop)
    buy(shop, 1, "600")
    buy(shop, 1, "600")

    _states, history, outbox = stored(shop)
    assert len(history) == 1 and len(outbox) == 1


def test_refund_and_cancel_never_drop_mid_period_but_count_at_review(shop: Shop) -> None:
    # given: gold on 600 points in 2026
    with_tiers(shop)
    buy(shop, 1, "600")

    # when: the order is mostly refunded, then another cancelled
    at = NOW + timedelta(days=1)
    events.ingest(shop.db, shop.ctx, refund("r1", "o1", "rf1", at, amount="300"), at)
    buy(shop, 2, "50", at)
    events.ingest(shop.db, shop.ctx, cancel("c2", "o2", at), at)

    # then: still gold now; the 2027 review (measuring 2026: 300 points) drops one level
    assert view(shop, at)["tier"]["id"] == "gold"
    assert view(shop, at)["progress"]["next_review"]["outcome"] == "drop"
    assert (
        jobs.run_due_jobs(shop.db, NEW_YEAR_2027 + timedelta(days=2), shop.tenant_id).tier_changes
        == 1
    )
    states, history, _ = stored(shop)
    assert states[0].tier == "silver"
    assert history[-1].reason == "review" and history[-1].effective_at == NEW_YEAR_2027


def test_refunds_drop_at_once_when_configured(shop: Shop) -> None:
    with_tiers(shop, ladder(review={"refunds_downgrade_immediately": True}))
    buy(shop, 1, "600")

    at = NOW + timedelta(days=1)
    events.ingest(shop.db, shop.ctx, refund("r1", "o1", "rf1", at, amount="300"), at)

    assert stored(shop)[0][0].tier == "silver"


def test_review_job_is_idempotent_and_catches_up(shop: Shop) -> None:
    # given: platinum in 2026, nothing afterwards
    with_tiers(shop)
    buy(shop, 1, "1200")
    late = NEW_YEAR_2028 + timedelta(days=40)

    # when: the job first runs long after two reviews, then again
    first = tiers.review_due(shop.db, late, shop.tenant_id)
    second = tiers.review_due(shop.db, late, shop.tenant_id)

    # then: kept at the 2027 review, one level down at the 2028 one, once
    assert (first, second) == (1, 0)
    states, history, _ = stored(shop)
    assert states[0].tier == "gold"
    assert history[-1].effective_at == NEW_YEAR_2028
    assert states[0].review_at == datetime(2028, 12, 31, 23, 0, tzinfo=UTC)


def test_amount_metric_counts_spend_net_of_refunds(shop: Shop) -> None:
    data = ladder("amount_spent")
    data["levels"] = [
        {"id": "silver", "name": "Silver", "threshold": "100.00"},
        {"id": "gold", "name": "Gold", "threshold": "500.00"},
    ]
    with_tiers(shop, data)
    buy(shop, 1, "450.50")
    events.ingest(shop.db, shop.ctx, refund("r1", "o1", "rf1", NOW, amount="50.50"), NOW)

    buy(shop, 2, "99.99")

    assert view(shop)["progress"]["value"] == "499.99"
    assert view(shop)["tier"]["id"] == "silver"
    buy(shop, 3, "0.01")
    assert view(shop)["tier"]["id"] == "gold"


def test_orders_metric_ignores_cancelled_orders(shop: Shop) -> None:
    data = ladder("orders")
    data["levels"] = [{"id": "regular", "name": "Regular", "threshold": 3}]
    with_tiers(shop, data)
    buy(shop, 1, "10")
    buy(shop, 2, "10")
    events.ingest(shop.db, shop.ctx, cancel("c2", "o2", NOW), NOW)
    buy(shop, 3, "10")

    assert view(shop)["tier"] is None and view(shop)["progress"]["value"] == 2
    buy(shop, 4, "10")
    assert view(shop)["tier"]["id"] == "regular"


def test_positive_adjustment_counts_as_earned(shop: Shop) -> None:
    with_tiers(shop)
    buy(shop, 1, "50")

    with shop.db.transaction(shop.tenant_id) as uow:
        members.adjust(uow, shop.ctx, "m1", 60, "goodwill", NOW)

    assert stored(shop)[0][0].tier == "silver"


def test_batch_of_orders_raises_tiers(shop: Shop) -> None:
    with_tiers(shop)
    batch = [order_paid(f"e{i}", "m1", f"o{i}", [("a", 1, "300")], NOW) for i in range(2)]

    results = bulk.ingest_batch(shop.db, shop.ctx, batch, NOW)

    assert all(r.error is None for r in results)
    assert stored(shop)[0][0].tier == "gold"


def test_manual_tier_is_a_floor_until_it_ends(shop: Shop) -> None:
    # given: a member with no points set to gold until 1 April 2027
    with_tiers(shop)
    buy(shop, 1, "10")
    until = datetime(2027, 4, 1, tzinfo=UTC)
    with shop.db.transaction(shop.tenant_id) as uow:
        seen = tiers.put_member_tier(uow, shop.ctx, "m1", "gold", until, "VIP", NOW)
    assert seen["tier"]["id"] == "gold" and seen["manual"]["note"] == "VIP"

    # when: the new-year review passes, then the floor ends
    assert tiers.review_due(shop.db, NEW_YEAR_2027 + timedelta(days=1), shop.tenant_id) == 0
    changed = tiers.review_due(shop.db, until + timedelta(days=1), shop.tenant_id)

    # then: dropped one level once the floor ended, manual data gone
    states, history, _ = stored(shop)
    assert changed == 1 and states[0].tier == "silver" and states[0].manual_tier is None
    assert [h.reason for h in history] == ["manual", "review"]


def test_clearing_a_manual_tier_keeps_the_tier_until_review(shop: Shop) -> None:
    with_tiers(shop)
    buy(shop, 1, "10")
    with shop.db.transaction(shop.tenant_id) as uow:
        tiers.put_member_tier(uow, shop.ctx, "m1", "gold", None, "", NOW)
        seen = tiers.put_member_tier(uow, shop.ctx, "m1", None, None, "", NOW)

    assert seen["tier"]["id"] == "gold" and seen["manual"] is None


def test_ladder_versions_and_edits(shop: Shop) -> None:
    # given
    with_tiers(shop)
    buy(shop, 1, "600")

    # when: an edit renames gold and adds a level
    with shop.db.transaction(shop.tenant_id) as uow:
        current = tiers.get_tiers(uow)
        levels = current["levels"]
        levels[1]["name"] = "Golden"
        edited = tiers.update_tiers(uow, shop.ctx, {"levels": levels}, NOW)

    # then
    assert edited["version"] == 2 and edited["levels"][1]["name"] == "Golden"
    with (
        pytest.raises(InvalidTierSettings) as caught,
        shop.db.transaction(shop.tenant_id) as uow,
    ):
        tiers.update_tiers(uow, shop.ctx, {"levels": [levels[0], levels[2]]}, NOW)
    assert caught.value.field == "levels"  # gold is held by m1
    with pytest.raises(InvalidSettings), shop.db.transaction(shop.tenant_id) as uow:
        tiers.create_tiers(uow, shop.ctx, ladder(), NOW)


def test_no_tiers_means_no_tier_work(shop: Shop) -> None:
    buy(shop, 1, "600")

    assert stored(shop) == ([], [], [])
    with pytest.raises(NotFound), shop.db.read(shop.tenant_id) as uow:
        tiers.member_tier(uow, shop.ctx, "m1", NOW)


def test_benefits_merge_tier_and_active_membership(shop: Shop) -> None:
    # given: gold (x1.5) and a Plus plan (x1.2) running a month
    with_tiers(shop)
    buy(shop, 1, "600")
    with shop.db.transaction(shop.tenant_id) as uow:
        plan = memberships.create_plan(
            uow,
            shop.ctx,
            {
                "name": "Plus",
                "price": "19.99",
                "term": "monthly",
                "benefits": {"earn_multiplier": "1.2", "exclusive_rewards": True},
            },
            NOW,
        )
        memberships.start_membership(uow, shop.ctx, "m1", plan["id"], "ms1", NOW, NOW)
        member_id = uow.members.get("m1")["id"]  # type: ignore[index]

    # then: both while the membership runs, the tier's alone after it lapses
    with shop.db.read(shop.tenant_id) as uow:
        during = tiers.benefits_for(uow, member_id, NOW + timedelta(days=3))
        after = tiers.benefits_for(uow, member_id, NOW + timedelta(days=40))
    assert during.earn_multiplier == Decimal("1.80") and during.exclusive_rewards
    assert after.earn_multiplier == Decimal("1.5") and not after.exclusive_rewards


def test_expiry_job_ends_lapsed_memberships_once(shop: Shop) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        members.create_member(uow, shop.ctx, "m1", {}, NOW)
        plan = memberships.create_plan(
            uow, shop.ctx, {"name": "Plus", "price": "10", "term": "monthly"}, NOW
        )
        memberships.start_membership(uow, shop.ctx, "m1", plan["id"], "ms1", NOW, NOW)

    later = NOW + timedelta(days=45)
    assert memberships.expire_lapsed(shop.db, later, shop.tenant_id) == 1
    assert memberships.expire_lapsed(shop.db, later, shop.tenant_id) == 0

    with shop.db.read(shop.tenant_id) as uow:
        items = memberships.member_memberships(uow, "m1", later)["items"]
    assert items[0]["status"] == "expired" and not items[0]["active"]
    assert [h["event"] for h in items[0]["history"]] == ["membership.started", "membership.expired"]
    # one month on the Warsaw wall clock: 13:00 CET on 2 March -> 13:00 CEST on 2 April
    assert items[0]["history"][1]["occurred_at"] == "2026-04-02T11:00:00+00:00"


def test_grace_period_is_checked_again_only_when_it_ends(shop: Shop) -> None:
    # given: gold in 2026 with 14 days' grace; 2027 holds nothing
    with_tiers(shop, ladder(review={"grace_days": 14}))
    buy(shop, 1, "600")
    grace_end = NEW_YEAR_2028 + timedelta(days=14)

    # when: the job runs during the grace period
    during = tiers.review_due(shop.db, NEW_YEAR_2028 + timedelta(days=2), shop.tenant_id)

    # then: still gold, looked at again when the grace ends, and dropped then
    states, _, _ = stored(shop)
    assert during == 0 and states[0].tier == "gold" and states[0].check_at == grace_end
    with shop.db.read(shop.tenant_id) as uow:
        assert TierRepository(uow.conn, shop.tenant_id, uow.raw).due(grace_end, 0, 10) != []
        assert (
            TierRepository(uow.conn, shop.tenant_id, uow.raw).due(
                grace_end - timedelta(seconds=1), 0, 10
            )
            == []
        )
    assert tiers.review_due(shop.db, grace_end + timedelta(hours=1), shop.tenant_id) == 1
    states, history, _ = stored(shop)
    assert states[0].tier == "silver" and history[-1].effective_at == grace_end


def test_lowering_a_threshold_raises_holders_at_the_next_job_run(shop: Shop) -> None:
    # given: silver on 300 points
    with_tiers(shop)
    buy(shop, 1, "300")

    # when: gold now needs 250
    with shop.db.transaction(shop.tenant_id) as uow:
        levels = tiers.get_tiers(uow)["levels"]
        levels[1]["threshold"] = 250
        tiers.update_tiers(uow, shop.ctx, {"levels": levels}, NOW)
    changed = tiers.review_due(shop.db, NOW + timedelta(minutes=1), shop.tenant_id)

    # then
    states, history, _ = stored(shop)
    assert changed == 1 and states[0].tier == "gold"
    assert history[-1].ladder_version == 2
    assert tiers.review_due(shop.db, NOW + timedelta(minutes=2), shop.tenant_id) == 0


def test_points_from_an_action_event_reach_a_tier_at_once(shop: Shop) -> None:
    # given a points-earned ladder and a rule giving 600 points for an approved review
    with_tiers(shop)
    with shop.db.transaction(shop.tenant_id) as uow:
        rules.create_rule(
            uow,
            shop.ctx,
            {
                "name": "review +600",
                "trigger": "review.approved",
                "effect": {"kind": "fixed_points", "points": 600},
            },
            NOW,
        )
    review = {
        "id": "rv1",
        "type": "review.approved",
        "occurred_at": NOW.isoformat(),
        "member": {"external_id": "m1"},
        "data": {},
    }
    # when the review earns its points
    events.ingest(shop.db, shop.ctx, event(review), NOW)
    # then the member is gold straight away, with its history row and tier.changed
    assert view(shop)["tier"]["id"] == "gold"
    states, history, outbox = stored(shop)
    assert [s.tier for s in states] == ["gold"]
    assert [h.to_tier for h in history] == ["gold"]
    assert [o["to_tier"] for o in outbox] == ["gold"]
