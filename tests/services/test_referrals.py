"""Referrals through the events inbox and the jobs, on a real database."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from loyalty.domain.errors import UnknownReferralCode
from loyalty.domain.events import ReferralData
from loyalty.domain.referrals import Address
from loyalty.services import events, jobs, members, promotions, referrals, tiers
from loyalty.services.checks import check_ledger
from loyalty.store import tables
from loyalty.store.tables import ledger_entries, outbox_events
from tests.builders import cancel_json, event, order_paid_json, refund_json
from tests.conftest import NOW, Shop

WINDOW = timedelta(days=14)


@pytest.fixture
def shop(make_shop: Any) -> Shop:
    """A shop with a 14-day return window: order points and referrals wait for it."""
    made: Shop = make_shop(pending_days=14)
    with_welcome(made)
    return made


def with_welcome(shop: Shop) -> None:
    """The friend's welcome code is worth 20.00 PLN off an order of 50.00 or more."""
    with shop.db.transaction(shop.tenant_id) as uow:
        promotions.create(
            uow,
            {
                "id": "welcome",
                "trigger": "code",
                "currency": "PLN",
                "conditions": {"min_subtotal": "50.00"},
                "benefits": [{"type": "amount_off", "amount": "20.00"}],
            },
            "test",
            NOW,
        )
        referrals.put_settings(uow, shop.ctx, {"welcome_promotion_id": "welcome"}, NOW)
    promotions.forget(shop.tenant_id)


def send(shop: Shop, body: dict[str, Any], now: datetime = NOW) -> dict[str, Any]:
    result: dict[str, Any] = events.ingest(shop.db, shop.ctx, event(body), now).body
    return result


def customer(event_id: str, member: str, *, at: datetime = NOW, **data: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "customer.created",
        "occurred_at": at.isoformat(),
        "member": {"external_id": member},
        "data": data,
    }


def order(
    event_id: str,
    member: str,
    order_id: str,
    *,
    at: datetime = NOW,
    price: str = "100",
    **data: Any,
) -> dict[str, Any]:
    body = order_paid_json(event_id, member, order_id, [("a", 1, price)], at)
    body["data"].update(data)
    return body


def code_of(shop: Shop, member: str, *, first_name: str | None = None) -> str:
    with shop.db.transaction(shop.tenant_id) as uow:
        if uow.members.get(member) is None:
            members.create_member(uow, shop.ctx, member, {"first_name": first_name}, NOW)
        found = referrals.member_referral(uow, member, NOW)
    assert found is not None
    code: str = found["code"]
    return code


def balances(shop: Shop, member: str) -> dict[str, Any]:
    with shop.db.read(shop.tenant_id) as uow:
        found = members.get_member(uow, shop.ctx, member, NOW)["balances"]
    return {key: found[key] for key in ("available", "pending", "lifetime_earned")}


def outbox(shop: Shop, type_: str) -> list[dict[str, Any]]:
    stmt = (
        select(outbox_events.c.member_external_id, outbox_events.c.payload)
        .where(outbox_events.c.tenant_id == shop.tenant_id, outbox_events.c.type == type_)
        .order_by(outbox_events.c.id)
    )
    with shop.db.engine.connect() as conn:
        return [{"member": m, **p} for m, p in conn.execute(stmt)]


def listed(shop: Shop, **filters: Any) -> list[dict[str, Any]]:
    with shop.db.read(shop.tenant_id) as uow:
        items, _ = referrals.list_referrals(
            uow, None, 100, filters.get("status"), filters.get("referrer")
        )
    return items


def assert_clean(shop: Shop) -> None:
    report = check_ledger(shop.db, shop.tenant_id)
    assert report.ok, [str(v) for v in report.violations]


def test_code_is_made_once_and_stays(shop: Shop) -> None:
    first = code_of(shop, "anna", first_name="Anna")

    assert first.startswith("ANNA-")
    assert code_of(shop, "anna") == first


def test_the_whole_way_from_sign_up_to_the_referrers_points(shop: Shop) -> None:
    # given anna's code, and ben signing up with it
    code = code_of(shop, "anna", first_name="Anna")
    signed_up = send(shop, customer("c1", "ben", referral_code=code.lower()))
    assert signed_up["referral"]["status"] == "pending"
    assert signed_up["referral"]["referrer"] == "anna"

    # when ben's first order is paid
    paid = send(shop, order("p1", "ben", "o1"))

    # then the window starts and ben gets a welcome coupon
    referral = paid["referral"]
    assert referral["first_order_id"] == "o1"
    assert referral["qualifies_at"] == (NOW + WINDOW).isoformat()
    welcome = referral["welcome_coupon"]
    assert welcome["status"] == "issued" and welcome["code"].startswith("WELCOME-")
    assert outbox(shop, "coupon.issued")[0]["coupon"]["code"] == welcome["code"]
    # and anna earns nothing yet
    assert (
        jobs.run_due_jobs(
            shop.db, NOW + WINDOW - timedelta(seconds=1), shop.tenant_id
        ).referrals_qualified
        == 0
    )
    assert balances(shop, "anna")["lifetime_earned"] == 0

    # when the window has passed
    report = jobs.run_due_jobs(shop.db, NOW + WINDOW, shop.tenant_id)

    # then anna earns the referral points, available at once, and the referral is rewarded
    assert report.referrals_qualified == 1
    assert balances(shop, "anna") == {"available": 500, "pending": 0, "lifetime_earned": 500}
    [done] = listed(shop, referrer="anna")
    assert done["status"] == "rewarded" and done["referrer_points"] == 500
    [completed] = outbox(shop, "referral.completed")
    assert completed["member"] == "anna" and completed["referral"]["status"] == "rewarded"
    assert [e["member"] for e in outbox(shop, "points.earned")][-1] == "anna"
    assert_clean(shop)


def test_the_referrer_earns_once_however_often_the_job_runs(shop: Shop) -> None:
    code = code_of(shop, "anna")
    send(shop, order("p1", "ben", "o1", referral_code=code))

    for days in (14, 15, 40):
        jobs.run_due_jobs(shop.db, NOW + timedelta(days=days), shop.tenant_id)

    stmt = select(ledger_entries.c.reason).where(ledger_entries.c.tenant_id == shop.tenant_id)
    with shop.db.engine.connect() as conn:
        reasons = list(conn.execute(stmt).scalars())
    assert reasons.count("referral") == 1
    assert balances(shop, "anna")["available"] == 500


def test_a_job_that_was_down_catches_up_dated_when_due(shop: Shop) -> None:
    # given two friends whose windows closed while the jobs were not running
    code = code_of(shop, "anna")
    send(shop, order("p1", "ben", "o1", referral_code=code))
    later = NOW + timedelta(days=3)
    send(shop, order("p2", "cleo", "o2", at=later, referral_code=code), later)

    # when the job runs a month later
    report = jobs.run_due_jobs(shop.db, NOW + timedelta(days=45), shop.tenant_id)

    # then both are rewarded, each entry dated when its window closed
    assert report.referrals_qualified == 2
    stmt = (
        select(ledger_entries.c.occurred_at)
        .where(ledger_entries.c.tenant_id == shop.tenant_id, ledger_entries.c.reason == "referral")
        .order_by(ledger_entries.c.occurred_at)
    )
    with shop.db.engine.connect() as conn:
        dated = list(conn.execute(stmt).scalars())
    assert dated == [NOW + WINDOW, NOW + timedelta(days=3) + WINDOW]
    assert balances(shop, "anna")["available"] == 1000
    assert_clean(shop)


def test_refund_within_the_window_cancels_both(shop: Shop) -> None:
    # given ben's first order with anna's code
    code = code_of(shop, "anna")
    send(shop, order("p1", "ben", "o1", referral_code=code))

    # when it is refunded within the window
    body = send(shop, refund_json("r1", "o1", "rf1", NOW + timedelta(days=3), amount="100"))

    # then the welcome coupon is cancelled and anna will get nothing
    assert body["referral"]["status"] == "cancelled"
    assert body["referral"]["reason"] == "first_order_refunded"
    assert body["referral"]["welcome_coupon"]["status"] == "cancelled"
    assert (
        jobs.run_due_jobs(shop.db, NOW + timedelta(days=30), shop.tenant_id).referrals_qualified
        == 0
    )
    assert balances(shop, "anna")["lifetime_earned"] == 0
    assert outbox(shop, "referral.completed") == []


def test_a_late_refund_event_dated_within_the_window_takes_the_points_back(shop: Shop) -> None:
    # given anna was rewarded
    code = code_of(shop, "anna")
    send(shop, order("p1", "ben", "o1", referral_code=code))
    jobs.run_due_jobs(shop.db, NOW + WINDOW, shop.tenant_id)

    # when a cancellation dated inside the window arrives late
    body = send(shop, cancel_json("x1", "o1", NOW + timedelta(days=2)), NOW + timedelta(days=20))

    # then the referral is cancelled and the ledger reverses anna's referral points
    assert body["referral"]["status"] == "cancelled"
    assert body["referral"]["reason"] == "first_order_cancelled"
    assert balances(shop, "anna") == {"available": 0, "pending": 0, "lifetime_earned": 0}
    assert "anna" in [e["member"] for e in outbox(shop, "points.reversed")]
    assert_clean(shop)


def test_refund_after_the_window_or_partial_when_allowed_keeps_the_referral(shop: Shop) -> None:
    code = code_of(shop, "anna")
    with shop.db.transaction(shop.tenant_id) as uow:
        referrals.put_settings(uow, shop.ctx, {"cancel_on_partial_refund": False}, NOW)
    send(shop, order("p1", "ben", "o1", referral_code=code))

    partial = send(shop, refund_json("r1", "o1", "rf1", NOW + timedelta(days=1), amount="10"))
    late = send(shop, refund_json("r2", "o1", "rf2", NOW + timedelta(days=15), amount="90"))

    assert "referral" not in partial and "referral" not in late
    assert listed(shop)[0]["status"] == "pending"


def test_a_referee_with_earlier_orders_is_rejected_with_the_reason(shop: Shop) -> None:
    code = code_of(shop, "anna")
    send(shop, order("p0", "ben", "o0", at=NOW - timedelta(days=90)))

    body = send(shop, order("p1", "ben", "o1", referral_code=code))

    assert body["referral"]["status"] == "rejected"
    assert body["referral"]["reason"] == "existing_customer"
    assert body["referral"]["findings"][0]["reason"] == "existing_customer"
    assert body["effects"][0]["points"] == 100  # the order itself still earns


@pytest.mark.parametrize(
    ("referrer", "referee", "reason"),
    [
        (
            {"email": "anna.nowak@gmail.com"},
            {"email": "Anna.Nowak+b@gmail.com"},
            "self_referral_email",
        ),
        ({"phone": "+48 600 100 200"}, {"phone": "600100200"}, "self_referral_phone"),
        ({"device_hash": "dev-1"}, {"device_hash": "dev-1"}, "self_referral_device"),
        ({"ip_hash": "ip-1"}, {"ip_hash": "ip-1"}, "self_referral_ip"),
        (
            {
                "shipping_address": {
                    "line1": "Ulica Lipowa 3",
                    "postal_code": "30-001",
                    "country": "PL",
                }
            },
            {
                "shipping_address": {
                    "line1": "ul. Lipowa 3",
                    "postal_code": "30001",
                    "country": "pl",
                }
            },
            "self_referral_address",
        ),
    ],
)
def test_self_referrals_are_rejected_and_recorded(
    shop: Shop, referrer: dict[str, Any], referee: dict[str, Any], reason: str
) -> None:
    # given anna told the store her contact data (a sign-up event carries it)
    send(shop, customer("c0", "anna", at=NOW - timedelta(days=60), **referrer))
    code = code_of(shop, "anna")

    # when "ben" signs up with the same data and anna's code
    body = send(shop, customer("c1", "ben", referral_code=code, **referee))

    # then
    assert body["referral"]["status"] == "rejected"
    assert body["referral"]["reason"] == reason
    assert listed(shop, status="rejected")[0]["reason"] == reason


def test_velocity_cap_rejects_the_referral_over_the_cap(shop: Shop) -> None:
    code = code_of(shop, "anna")
    with shop.db.transaction(shop.tenant_id) as uow:
        settings = {"fraud": {"velocity": [{"window": "day", "max_referrals": 2}]}}
        referrals.put_settings(uow, shop.ctx, settings, NOW)

    answers = [
        send(shop, customer(f"c{i}", f"friend{i}", referral_code=code))["referral"]
        for i in range(3)
    ]

    assert [a["status"] for a in answers] == ["pending", "pending", "rejected"]
    assert answers[2]["reason"] == "velocity_cap"


def test_an_unknown_code_on_an_event_is_ignored_and_the_event_succeeds(shop: Shop) -> None:
    body = send(shop, order("p1", "ben", "o1", referral_code="NOPE-123"))

    assert body["referral"] == {
        "status": "ignored",
        "reason": "unknown_referral_code",
        "code": "NOPE-123",
    }
    assert body["effects"][0]["points"] == 100
    assert listed(shop) == []


def test_the_same_code_on_sign_up_and_first_order_makes_one_referral(shop: Shop) -> None:
    code = code_of(shop, "anna")
    send(shop, customer("c1", "ben", referral_code=code))
    send(shop, order("p1", "ben", "o1", referral_code=code))

    [only] = listed(shop)
    assert only["status"] == "pending" and only["first_order_id"] == "o1"


def test_a_second_referrer_for_a_referred_friend_is_rejected(shop: Shop) -> None:
    anna, carl = code_of(shop, "anna"), code_of(shop, "carl")
    send(shop, customer("c1", "ben", referral_code=anna))

    body = send(shop, order("p1", "ben", "o1", referral_code=carl))

    assert body["referral"]["referrer"] == "anna"  # the first order counts for anna
    rejected = listed(shop, referrer="carl")
    assert [(r["status"], r["reason"]) for r in rejected] == [("rejected", "already_referred")]


def test_an_order_in_a_batch_still_counts_as_the_first_order(shop: Shop) -> None:
    from loyalty.services import bulk

    code = code_of(shop, "anna")
    send(shop, customer("c1", "ben", referral_code=code))
    batch = [event(order("p1", "carl", "o1")), event(order("p2", "ben", "o2"))]

    results = bulk.ingest_batch(shop.db, shop.ctx, batch, NOW)

    assert results[1].body["referral"]["first_order_id"] == "o2"
    assert "referral" not in results[0].body


def test_explicit_attribution_creates_the_referee(shop: Shop) -> None:
    code = code_of(shop, "anna")
    with shop.db.transaction(shop.tenant_id) as uow:
        status, view = referrals.attribute_explicitly(
            uow,
            shop.ctx,
            code,
            {"external_id": "ben", "email": "ben@example.com"},
            ReferralData(device_hash="d-2", shipping_address=Address("Main Road 1")),
            NOW,
        )
        again, same = referrals.attribute_explicitly(
            uow, shop.ctx, code, {"external_id": "ben"}, ReferralData(), NOW
        )
    assert (status, view["status"], view["referee"]) == (201, "pending", "ben")
    assert (again, same["id"]) == (200, view["id"])
    with shop.db.transaction(shop.tenant_id) as uow, pytest.raises(UnknownReferralCode):
        referrals.attribute_explicitly(
            uow, shop.ctx, "ZZZ", {"external_id": "x"}, ReferralData(), NOW
        )


def test_the_database_refuses_a_second_live_referral_for_a_referee(shop: Shop) -> None:
    code = code_of(shop, "anna")
    send(shop, customer("c1", "ben", referral_code=code))
    [live] = listed(shop)

    with pytest.raises(IntegrityError), shop.db.transaction(shop.tenant_id) as uow:
        row = uow.referrals.get(live["id"])
        assert row is not None
        names = [c.name for c in tables.referrals.c if c.name not in ("id", "tenant_id")]
        copy = {name: row[name] for name in names}
        uow.referrals.add({**copy, "welcome_code": None})


def test_stats_per_referrer(shop: Shop) -> None:
    code = code_of(shop, "anna")
    send(shop, order("p0", "old", "o0", at=NOW - timedelta(days=90)))
    send(shop, order("p1", "ben", "o1", referral_code=code))
    send(shop, order("p2", "cleo", "o2", referral_code=code))
    send(shop, order("p3", "old", "o3", referral_code=code))
    send(shop, customer("c4", "dan", referral_code=code))
    send(shop, refund_json("r2", "o2", "rf2", NOW + timedelta(days=1), amount="100"))
    jobs.run_due_jobs(shop.db, NOW + WINDOW, shop.tenant_id)

    with shop.db.read(shop.tenant_id) as uow:
        [anna] = referrals.stats(uow, "anna")["items"]
        everyone = referrals.stats(uow, None)["items"]

    assert anna == {
        "referrer": "anna",
        "invited": 4,
        "pending": 1,
        "qualified": 1,
        "rewarded": 1,
        "rejected": 1,
        "cancelled": 1,
        "rejected_by_reason": {"existing_customer": 1},
        "conversion": round(1 / 3, 4),
    }
    assert everyone == [anna]


def test_two_job_runs_at_once_reward_the_referrer_once(shop: Shop) -> None:
    # given a referral whose window has closed
    code = code_of(shop, "anna")
    send(shop, order("p1", "ben", "o1", referral_code=code))
    due = NOW + WINDOW
    barrier = threading.Barrier(2)

    def run() -> int:
        barrier.wait()
        return jobs.qualify_referrals(shop.db, due, shop.tenant_id)

    # when two workers run the job at the same moment
    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda _: run(), range(2)))

    # then exactly one of them rewarded it
    assert sorted(counts) == [0, 1]
    assert balances(shop, "anna")["available"] == 500
    assert len(outbox(shop, "referral.completed")) == 1
    assert_clean(shop)


def test_two_codes_for_one_friend_at_once_leave_one_live_referral(shop: Shop) -> None:
    anna, carl = code_of(shop, "anna"), code_of(shop, "carl")
    with shop.db.transaction(shop.tenant_id) as uow:
        members.create_member(uow, shop.ctx, "ben", {}, NOW)
    barrier = threading.Barrier(2)

    def attribute(code: str) -> str:
        barrier.wait()
        with shop.db.transaction(shop.tenant_id) as uow:
            _, view = referrals.attribute_explicitly(
                uow, shop.ctx, code, {"external_id": "ben"}, ReferralData(), NOW
            )
        status: str = view["status"]
        return status

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(attribute, (anna, carl)))

    assert statuses == ["pending", "rejected"]
    assert [r["reason"] for r in listed(shop, status="rejected")] == ["already_referred"]


def test_a_qualified_referral_also_earns_through_the_rules_once(shop: Shop) -> None:
    from loyalty.services import rules

    # given a campaign rule: 200 extra points for every completed referral
    with shop.db.transaction(shop.tenant_id) as uow:
        rules.create_rule(
            uow,
            shop.ctx,
            {
                "name": "referral campaign",
                "trigger": "referral.completed",
                "effect": {"kind": "fixed_points", "points": 200},
            },
            NOW,
        )
    code = code_of(shop, "anna")
    send(shop, order("p1", "ben", "o1", referral_code=code))
    # when the job runs twice after the window closed
    jobs.qualify_referrals(shop.db, NOW + WINDOW, shop.tenant_id)
    jobs.qualify_referrals(shop.db, NOW + WINDOW, shop.tenant_id)
    # then anna has the programme's 500 and the rule's 200, once
    assert balances(shop, "anna")["lifetime_earned"] == 700
    assert_clean(shop)


def test_the_referrers_points_count_for_their_tier_at_once(shop: Shop) -> None:
    # given a ladder where 500 earned points make silver, and anna's friend's first order
    with shop.db.transaction(shop.tenant_id) as uow:
        tiers.create_tiers(
            uow,
            shop.ctx,
            {
                "metric": "points_earned",
                "window": {"kind": "lifetime"},
                "levels": [{"id": "silver", "name": "Silver", "threshold": 500}],
            },
            NOW,
        )
    code = code_of(shop, "anna")
    send(shop, customer("c1", "ben", referral_code=code))
    send(shop, order("p1", "ben", "o1"))
    # when the referral qualifies and anna gets her 500 points
    jobs.run_due_jobs(shop.db, NOW + WINDOW, shop.tenant_id)
    # then she is silver without waiting for an order of her own
    with shop.db.read(shop.tenant_id) as uow:
        assert tiers.member_tier(uow, shop.ctx, "anna", NOW + WINDOW)["tier"]["id"] == "silver"
    assert [e["to_tier"] for e in outbox(shop, "tier.changed")] == ["silver"]
