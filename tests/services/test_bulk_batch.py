"""The bulk batch path must give exactly what one-by-one processing gives."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from loyalty.domain.errors import DomainError
from loyalty.services import bulk, events, members, memberships, tiers
from loyalty.services.checks import check_ledger
from loyalty.store.tables import inbox_events, ledger_entries, lots, outbox_events
from tests.builders import event, order_paid_json, refund_json
from tests.conftest import NOW, Shop

MEMBERS = ["m0", "m1", "m2", "m3"]
# Silver (x1) from 10 points, gold (x1.25) from 100: orders cross tiers in the middle of a batch.
LADDER = {
    "metric": "points_earned",
    "window": {"kind": "lifetime"},
    "levels": [
        {"id": "silver", "name": "Silver", "threshold": 10},
        {"id": "gold", "name": "Gold", "threshold": 100, "benefits": {"earn_multiplier": "1.25"}},
    ],
}


@st.composite
def scenarios(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Orders for a few members, with retries, conflicting retries, repeated order ids,
    refunds in between, foreign currencies and zero-value orders."""
    bodies: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 25))):
        kind = draw(
            st.sampled_from(
                ["order", "order", "order", "retry", "conflict", "same_order", "refund"]
            )
        )
        member = draw(st.sampled_from(MEMBERS))
        price = draw(st.sampled_from(["0", "0.99", "10", "55.55", "120"]))
        at = NOW - timedelta(days=draw(st.integers(0, 30)))
        paid = [b for b in bodies if b["type"] == "order.paid"]
        if kind == "retry" and paid:
            bodies.append(draw(st.sampled_from(paid)))
        elif kind == "conflict" and paid:
            other = dict(draw(st.sampled_from(paid)))
            other["data"] = {**other["data"], "shipping": "1.23"}
            bodies.append(other)
        elif kind == "same_order" and paid:
            first = draw(st.sampled_from(paid))
            bodies.append({**first, "id": f"again-{n}"})
        elif kind == "refund" and paid:
            first = draw(st.sampled_from(paid))
            bodies.append(
                refund_json(f"r-{n}", first["data"]["order_id"], f"R{n}", NOW, amount="0.5")
            )
        else:
            currency = draw(st.sampled_from(["PLN", "PLN", "PLN", "EUR"]))
            bodies.append(
                order_paid_json(
                    f"e-{n}", member, f"o-{n}", [("a", 1, price)], at, currency=currency
                )
            )
    return bodies


def _outcome(result: events.EventResult) -> Any:
    if result.error is not None:
        return ("error", result.error.code)
    body = {
        **result.body,
        "effects": [
            {k: v for k, v in e.items() if k != "entry_id"} for e in result.body["effects"]
        ],
    }
    return ("ok", result.replayed, body)


def _one_by_one(shop: Shop, batch: list[Any]) -> list[Any]:
    out = []
    for item in batch:
        try:
            out.append(_outcome(events.ingest(shop.db, shop.ctx, item, NOW)))
        except DomainError as error:
            out.append(("error", error.code))
    return out


def _outbox(shop: Shop) -> list[Any]:
    with shop.db.read(shop.tenant_id) as uow:
        rows = uow.conn.execute(
            select(
                outbox_events.c.type, outbox_events.c.member_external_id, outbox_events.c.payload
            )
            .where(outbox_events.c.tenant_id == shop.tenant_id)
            .order_by(outbox_events.c.id)
        ).all()
    out = []
    for type_, member, payload in rows:
        if "entry" in payload:
            payload = {
                **payload,
                "entry": {k: v for k, v in payload["entry"].items() if k != "entry_id"},
            }
        out.append((type_, member, payload))
    return out


def _balances(shop: Shop) -> dict[str, Any]:
    out = {}
    with shop.db.read(shop.tenant_id) as uow:
        for m in MEMBERS:
            if uow.members.get(m) is not None:
                out[m] = members.get_member(uow, shop.ctx, m, NOW)["balances"]
    return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bodies=scenarios(),
    blocked=st.booleans(),
    pending=st.sampled_from([0, 14]),
    tiered=st.booleans(),
)
def test_bulk_equals_one_by_one(
    make_shop: Any, bodies: list[dict[str, Any]], blocked: bool, pending: int, tiered: bool
) -> None:
    # given two identical shops, with or without tiers (gold multiplies, and no earning rule)
    shops = [make_shop(pending_days=pending), make_shop(pending_days=pending)]
    for shop in shops:
        with shop.db.transaction(shop.tenant_id) as uow:
            members.create_member(
                uow, shop.ctx, "m3", {"status": "blocked" if blocked else "active"}, NOW
            )
            if tiered:
                tiers.create_tiers(uow, shop.ctx, LADDER, NOW)
    batch = []
    for body in bodies:
        try:
            batch.append(event(body))
        except DomainError:
            continue
    # when one gets the events one by one and the other as one batch
    expected = _one_by_one(shops[0], batch)
    got = [_outcome(r) for r in bulk.ingest_batch(shops[1].db, shops[1].ctx, batch, NOW)]
    # then every response, every balance and the ledger agree
    assert got == expected
    assert _balances(shops[1]) == _balances(shops[0])
    assert sorted(_outbox(shops[1]), key=repr) == sorted(_outbox(shops[0]), key=repr)
    for shop in shops:
        report = check_ledger(shop.db, shop.tenant_id)
        assert report.ok, [str(v) for v in report.violations]


def test_a_refund_after_a_group_reports_the_balances_the_group_left(make_shop: Any) -> None:
    # given a batch where a refund reads alice, a group then earns for her, and a second
    # refund reverses nothing more (found by the property test above on one seed)
    bodies = [
        order_paid_json("e-1", "alice", "o-1", [("a", 1, "10")], NOW),
        refund_json("r-2", "o-1", "R2", NOW, amount="1"),
        order_paid_json("e-3", "alice", "o-3", [("a", 1, "120")], NOW),
        refund_json("r-4", "o-1", "R4", NOW, amount="0.5"),
    ]
    shops = [make_shop(pending_days=0), make_shop(pending_days=0)]
    batch = [event(body) for body in bodies]
    # when one shop gets them one by one and the other as a batch
    expected = _one_by_one(shops[0], batch)
    got = [_outcome(r) for r in bulk.ingest_batch(shops[1].db, shops[1].ctx, batch, NOW)]
    # then the last response shows the 120 points the group earned
    assert got == expected
    assert got[-1][2]["balances"]["available"] == 129


def test_a_tier_reached_inside_a_batch_multiplies_the_next_orders_as_one_by_one(
    make_shop: Any,
) -> None:
    # given gold (x1.25) from 100 points and no earning rule
    shops = [make_shop(pending_days=0), make_shop(pending_days=0)]
    for shop in shops:
        with shop.db.transaction(shop.tenant_id) as uow:
            tiers.create_tiers(uow, shop.ctx, LADDER, NOW)
    # when alice orders three times and bob once, in one batch and one by one
    bodies = [
        order_paid_json("e-1", "alice", "o-1", [("a", 1, "100")], NOW),
        order_paid_json("e-2", "bob", "o-2", [("a", 1, "40")], NOW),
        order_paid_json("e-3", "alice", "o-3", [("a", 1, "10.99")], NOW),
        order_paid_json("e-4", "alice", "o-4", [("a", 1, "100")], NOW),
    ]
    batch = [event(body) for body in bodies]
    expected = _one_by_one(shops[0], batch)
    got = [_outcome(r) for r in bulk.ingest_batch(shops[1].db, shops[1].ctx, batch, NOW)]
    # then alice's orders after reaching gold earn x1.25 on both paths (10.99 x 1.25 = 13.7375)
    assert got == expected
    assert [sum(e["points"] for e in o[2]["effects"]) for o in got] == [100, 40, 13, 125]


def _ledger(shop: Shop) -> list[Any]:
    """Every entry and lot of the shop, by member, in the order written (ids left out)."""
    with shop.db.read(shop.tenant_id) as uow:
        e, lot = ledger_entries.c, lots.c
        entries = uow.conn.execute(
            select(e.member_id, e.kind, e.points, e.available_delta, e.reason, e.occurred_at)
            .where(e.tenant_id == shop.tenant_id)
            .order_by(e.id)
        ).all()
        made = uow.conn.execute(
            select(lot.member_id, lot.amount, lot.remaining, lot.status, lot.earned_at)
            .where(lot.tenant_id == shop.tenant_id)
            .order_by(lot.id)
        ).all()
        rows = [uow.members.get(m) for m in MEMBERS]
    names = {row["id"]: row["external_id"] for row in rows if row is not None}
    return [(names[r[0]], *r[1:]) for r in entries] + [(names[r[0]], *r[1:]) for r in made]


def _tiers(shop: Shop) -> dict[str, Any]:
    with shop.db.read(shop.tenant_id) as uow:
        return {
            m: tiers.member_tier(uow, shop.ctx, m, NOW)["tier"]["id"]
            for m in MEMBERS
            if uow.members.get(m) is not None
        }


def _rows(shop: Shop) -> tuple[int, int]:
    with shop.db.read(shop.tenant_id) as uow:
        return tuple(  # type: ignore[return-value]
            uow.conn.execute(
                select(func.count()).select_from(t).where(t.c.tenant_id == shop.tenant_id)
            ).scalar_one()
            for t in (outbox_events, inbox_events)
        )


def test_a_history_import_for_multiplied_members_is_lean_and_earns_as_one_by_one(
    make_shop: Any,
) -> None:
    # given two identical tiered shops where m1 is already gold (x1.25) and m2 has no tier
    shops = [make_shop(pending_days=0), make_shop(pending_days=0)]
    for shop in shops:
        with shop.db.transaction(shop.tenant_id) as uow:
            tiers.create_tiers(uow, shop.ctx, LADDER, NOW)
        first = order_paid_json("e-0", "m1", "o-0", [("a", 1, "150")], NOW - timedelta(days=60))
        events.ingest(shop.db, shop.ctx, event(first), NOW)
    # when old orders of m1 (several) and of m2 (reaching gold on the way) are imported as
    # history into one shop and sent one by one to the other
    bodies = [
        order_paid_json(f"h-{n}", member, f"o-{n}", [("a", 1, price)], NOW - timedelta(days=n))
        for n, member, price in [
            (1, "m1", "10.99"),
            (2, "m1", "100"),
            (3, "m2", "120"),
            (4, "m1", "33.33"),
            (5, "m2", "40"),
            (6, "m2", "8.50"),
        ]
    ]
    batch = [event(body) for body in bodies]
    _one_by_one(shops[0], batch)
    before = _rows(shops[1])
    with shops[1].db.transaction(shops[1].tenant_id) as uow:
        results = bulk.process_batch(uow, shops[1].ctx, batch, NOW, history=True)
    # then the history import writes no inbox or outbox rows (no webhook, no tier.changed)
    # and answers no bodies
    assert _rows(shops[1]) == before
    assert [r.body for r in results] == [{}] * len(batch)
    # and it earns the same points, lots, entries (reasons naming the multiplier), balances
    # and tiers as one by one
    assert _ledger(shops[1]) == _ledger(shops[0])
    assert any("x 1.25 (tier multiplier)" in str(row) for row in _ledger(shops[1]))
    assert _balances(shops[1]) == _balances(shops[0])
    assert _tiers(shops[1]) == _tiers(shops[0]) == {"m1": "gold", "m2": "gold"}
    report = check_ledger(shops[1].db, shops[1].tenant_id)
    assert report.ok, [str(v) for v in report.violations]


def test_a_bad_email_spoils_only_its_event_and_a_later_email_fills_an_empty_one(
    make_shop: Any,
) -> None:
    # given a batch where bob's second order brings a bad email and carol's second order
    # brings the email her first one did not have
    bodies = [
        order_paid_json("e-1", "bob", "o-1", [("a", 1, "10")], NOW),
        order_paid_json("e-2", "bob", "o-2", [("a", 1, "20")], NOW, email="not an email"),
        order_paid_json("e-3", "carol", "o-3", [("a", 1, "30")], NOW),
        order_paid_json("e-4", "carol", "o-4", [("a", 1, "40")], NOW, email="Carol@Example.com"),
        order_paid_json("e-5", "dan", "o-5", [("a", 1, "50")], NOW),
    ]
    shops = [make_shop(pending_days=0), make_shop(pending_days=0)]
    batch = [event(body) for body in bodies]
    # when one shop gets them one by one and the other as a batch
    expected = _one_by_one(shops[0], batch)
    got = [_outcome(r) for r in bulk.ingest_batch(shops[1].db, shops[1].ctx, batch, NOW)]
    # then only bob's second order fails, and carol has her email on both paths
    assert got == expected
    assert [o[0] for o in got] == ["ok", "error", "ok", "ok", "ok"]
    assert _balances(shops[1]) == _balances(shops[0])
    for shop in shops:
        with shop.db.read(shop.tenant_id) as uow:
            carol = uow.members.get("carol")
            assert carol is not None and carol["email"] == "carol@example.com"


def test_without_tiers_a_paid_membership_multiplies_on_every_order_path(
    make_shop: Any, tmp_path: Any
) -> None:
    # given three shops without tiers where m1 has a Plus plan (x2) since ten days ago
    shops = [make_shop(pending_days=0) for _ in range(3)]
    for shop in shops:
        with shop.db.transaction(shop.tenant_id) as uow:
            members.create_member(uow, shop.ctx, "m1", {}, NOW)
            plan = memberships.create_plan(
                uow,
                shop.ctx,
                {
                    "name": "Plus",
                    "price": "9.99",
                    "term": "monthly",
                    "benefits": {"earn_multiplier": "2"},
                },
                NOW,
            )
            at = NOW - timedelta(days=10)
            memberships.start_membership(uow, shop.ctx, "m1", plan["id"], "ms1", at, at)
    bodies = [
        order_paid_json(f"e-{n}", member, f"o-{n}", [("a", 1, price)], NOW - timedelta(days=n))
        for n, member, price in [(1, "m1", "10.99"), (2, "m2", "40"), (3, "m1", "33.33")]
    ]
    batch = [event(body) for body in bodies]
    # when the orders arrive one by one, as a batch, and as a history import
    _one_by_one(shops[0], batch)
    bulk.ingest_batch(shops[1].db, shops[1].ctx, batch, NOW)
    with shops[2].db.transaction(shops[2].tenant_id) as uow:
        bulk.process_batch(uow, shops[2].ctx, batch, NOW, history=True)
    # then m1 earns twice the base on each path, m2 the base, with the reason saying so
    for shop in shops:
        assert _balances(shop)["m1"]["available"] == 21 + 66  # floor(2 x 10.99) + floor(2 x 33.33)
        assert _balances(shop)["m2"]["available"] == 40
        assert any("x 2 (tier multiplier)" in str(row) for row in _ledger(shop))
        # (the same rows; the batch writes m1's orders, which go one by one, after m2's)
        assert sorted(_ledger(shop), key=repr) == sorted(_ledger(shops[0]), key=repr)
        assert check_ledger(shop.db, shop.tenant_id).ok
