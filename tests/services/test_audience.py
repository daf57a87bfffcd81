"""Reward visibility reads the tier the ladder decided and the segments last materialised."""

from __future__ import annotations

from loyalty.services import members
from loyalty.store.audience import member_audience
from loyalty.store.tables import member_tiers, segment_memberships
from tests.conftest import NOW, Shop


def test_tier_and_segments_are_read_for_this_tenant_and_member(shop: Shop, make_shop) -> None:  # type: ignore[no-untyped-def]
    other = make_shop()
    with shop.db.transaction(shop.tenant_id) as uow:
        members.create_member(uow, shop.ctx, "alice", {}, NOW)
        members.create_member(uow, shop.ctx, "bob", {}, NOW)
        alice, bob = (uow.members.get(x)["id"] for x in ("alice", "bob"))  # type: ignore[index]
    # given alice is gold and in two segments, and another shop has rows for the same id
    with shop.db.begin() as conn:
        conn.execute(
            member_tiers.insert(),
            [
                {
                    "member_id": alice,
                    "tenant_id": shop.tenant_id,
                    "tier": "gold",
                    "ladder_version": 1,
                    "updated_at": NOW,
                },
            ],
        )
        conn.execute(
            segment_memberships.insert(),
            [
                {"tenant_id": t, "segment_key": key, "member_id": alice, "entered_at": NOW}
                for t, key in (
                    (shop.tenant_id, "vip"),
                    (shop.tenant_id, "rfm:champions"),
                    (other.tenant_id, "b2b"),
                )
            ],
        )
    # then each member's audience is theirs alone
    with shop.db.read(shop.tenant_id) as uow:
        assert member_audience(uow.conn, shop.tenant_id, alice) == (
            "gold",
            frozenset({"vip", "rfm:champions"}),
        )
        assert member_audience(uow.conn, shop.tenant_id, bob) == (None, frozenset())
