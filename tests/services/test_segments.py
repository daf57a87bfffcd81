"""Segment materialisation on a real database: entered/left history, events, idempotence."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from loyalty.services import events, profiles
from loyalty.services import members as member_service
from loyalty.services import segments as service
from loyalty.services.segment_refresh import materialise, refresh_segment, refresh_segments
from loyalty.store import tables
from tests.builders import event as to_event
from tests.builders import order_paid_json
from tests.conftest import NOW, Shop

LATER = NOW + timedelta(days=1)


def buy(shop: Shop, n: int, member: str, category: str, price: str, at: datetime = NOW) -> None:
    body = order_paid_json(f"e{n}", member, f"o{n}", [("SKU", 1, price)], at - timedelta(days=3))
    body["data"]["lines"][0]["category"] = category
    events.ingest(shop.db, shop.ctx, to_event(body), at)


def create(shop: Shop, **data: Any) -> dict[str, Any]:
    with shop.db.transaction(shop.tenant_id) as uow:
        segment = service.create_segment(uow, {"description": None, "rule": None, **data}, NOW)
        report = materialise(uow, segment, NOW)
        return service.view(segment, report.members)


def members_of(shop: Shop, key: str) -> set[str]:
    with shop.db.read(shop.tenant_id) as uow:
        items, _ = service.members_page(uow, key, None, 500)
    return {item["external_id"] for item in items}


def history(shop: Shop, key: str) -> list[tuple[str, str]]:
    with shop.db.read(shop.tenant_id) as uow:
        rows = service.repo(uow).history(key)
    return [(r["external_id"], r["change"]) for r in rows]


def outbox(shop: Shop, segment: str) -> list[tuple[str, str]]:
    """(type, member) of the events written about one segment."""
    types = ("segment.entered", "segment.left")
    o = tables.outbox_events
    with shop.db.read(shop.tenant_id) as uow:
        rows = uow.conn.execute(
            select(o.c.type, o.c.member_external_id, o.c.payload)
            .where(o.c.tenant_id == shop.tenant_id, o.c.type.in_(types))
            .order_by(o.c.id)
        ).all()
    return [(t, m) for t, m, p in rows if p["segment"]["id"] == segment]


def test_rule_segment_history_events_and_idempotence(shop: Shop) -> None:
    # given alice buys for her cats, bob for his dog; profiles are fresh
    buy(shop, 1, "alice", "cats", "80.00")
    buy(shop, 2, "bob", "dogs", "50.00")
    profiles.refresh_profiles(shop.db, shop.ctx, NOW)
    # when a rule segment is created
    view = create(
        shop,
        id="cat-people",
        name="Cat people",
        kind="rule",
        rule='member.favourite_category == "cats"',
    )
    # then alice is in, with a history row and a segment.entered event
    assert view["members"] == 1
    assert members_of(shop, "cat-people") == {"alice"}
    assert history(shop, "cat-people") == [("alice", "entered")]
    assert outbox(shop, "cat-people") == [("segment.entered", "alice")]
    # when it is refreshed again with nothing changed, nothing is written
    again = refresh_segment(shop.db, shop.tenant_id, "cat-people", LATER)
    assert (again.entered, again.left, again.members) == (0, 0, 1)
    assert len(history(shop, "cat-people")) == 1
    assert len(outbox(shop, "cat-people")) == 1
    # when bob turns to cats and alice to dogs, the profile refresh moves them
    buy(shop, 3, "bob", "cats", "300.00", LATER)
    buy(shop, 4, "alice", "dogs", "500.00", LATER)
    report = profiles.refresh_profiles(shop.db, shop.ctx, LATER)
    ours = next(r for r in report.segments if r.segment == "cat-people")
    assert (ours.entered, ours.left, ours.members) == (1, 1, 1)
    assert members_of(shop, "cat-people") == {"bob"}
    assert history(shop, "cat-people") == [
        ("alice", "entered"),
        ("bob", "entered"),
        ("alice", "left"),
    ]
    assert outbox(shop, "cat-people")[1:] == [
        ("segment.entered", "bob"),
        ("segment.left", "alice"),
    ]
    # and a second pass is again a no-op
    assert all(
        (r.entered, r.left) == (0, 0) for r in refresh_segments(shop.db, shop.tenant_id, LATER)
    )
    assert len(history(shop, "cat-people")) == 3


def test_builtin_segments_follow_the_profiles(shop: Shop) -> None:
    buy(shop, 1, "alice", "cats", "80.00")
    buy(shop, 2, "bob", "dogs", "50.00")
    profiles.refresh_profiles(shop.db, shop.ctx, NOW)
    with shop.db.read(shop.tenant_id) as uow:
        p = tables.member_profiles
        stored = dict(
            uow.conn.execute(
                select(p.c.member_id, p.c.lifecycle_stage).where(p.c.tenant_id == shop.tenant_id)
            ).all()
        )
        alice = uow.members.get("alice")
        assert alice is not None
        mine = service.member_segments(uow, alice["id"])
    # each member is in exactly one RFM and one lifecycle built-in, matching their profile
    assert f"lifecycle:{stored[alice['id']]}" in mine
    assert len([k for k in mine if k.startswith("rfm:")]) == 1
    assert len([k for k in mine if k.startswith("lifecycle:")]) == 1
    total = sum(len(members_of(shop, key)) for key in service.BUILTINS)
    assert total == 4  # 2 members x (rfm + lifecycle)
    assert all(
        (r.entered, r.left) == (0, 0) for r in refresh_segments(shop.db, shop.tenant_id, NOW)
    )


def test_a_member_the_rule_cannot_decide_is_left_out_and_counted(shop: Shop) -> None:
    # given carol has no orders, so no days since her last one
    buy(shop, 1, "alice", "cats", "80.00")
    with shop.db.transaction(shop.tenant_id) as uow:
        member_service.create_member(uow, shop.ctx, "carol", {}, NOW)
    profiles.refresh_profiles(shop.db, shop.ctx, NOW)
    create(shop, id="recent", name="Recent", kind="rule", rule="member.days_since_last_order < 30")
    report = refresh_segment(shop.db, shop.tenant_id, "recent", NOW)
    assert report.members == 1 and report.undecided == 1
    assert report.error is not None and "carol" in report.error
    # a rule that reads only member fields decides every member
    create(shop, id="no-orders", name="No orders", kind="rule", rule="member.orders == 0")
    assert members_of(shop, "no-orders") == {"carol"}


def test_static_segment_changes_are_idempotent(shop: Shop) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        for name in ("ann", "ben"):
            member_service.create_member(uow, shop.ctx, name, {}, NOW)
    create(shop, id="vip", name="VIP", kind="static")

    def change(ids: list[str], *, add: bool) -> dict[str, Any]:
        with shop.db.transaction(shop.tenant_id) as uow:
            return service.change_members(uow, "vip", ids, NOW, add=add)

    assert change(["ann", "ben", "ann"], add=True) == {
        "id": "vip",
        "added": 2,
        "removed": 0,
        "members": 2,
    }
    assert change(["ann"], add=True)["added"] == 0
    assert change(["ann"], add=False) == {"id": "vip", "added": 0, "removed": 1, "members": 1}
    assert change(["ann"], add=False)["removed"] == 0
    assert history(shop, "vip") == [("ann", "entered"), ("ben", "entered"), ("ann", "left")]
    # a static segment is not touched by refreshes
    report = refresh_segment(shop.db, shop.tenant_id, "vip", LATER)
    assert (report.entered, report.left, report.members) == (0, 0, 1)


def test_deleting_a_segment_lets_every_member_leave(shop: Shop) -> None:
    buy(shop, 1, "alice", "cats", "80.00")
    create(shop, id="buyers", name="Buyers", kind="rule", rule="member.lifetime_points > 0")
    assert members_of(shop, "buyers") == {"alice"}
    with shop.db.transaction(shop.tenant_id) as uow:
        assert service.delete_segment(uow, "buyers", LATER) == 1
    assert outbox(shop, "buyers") == [("segment.entered", "alice"), ("segment.left", "alice")]
    assert history(shop, "buyers") == [("alice", "entered"), ("alice", "left")]
    with shop.db.read(shop.tenant_id) as uow:
        alice = uow.members.get("alice")
        assert alice is not None
        assert "buyers" not in service.member_segments(uow, alice["id"])
