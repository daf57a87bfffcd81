"""Reward visibility reads a member's tier and segments only where those tables exist."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from loyalty.store.audience import member_audience


def test_no_tables_means_no_tier_and_no_segments() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        assert member_audience(conn, 1, 7) == (None, frozenset())


def test_the_tier_and_segments_tables_are_read_per_tenant_and_member() -> None:
    # given the tables the tiers and segments features are expected to provide
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE member_tiers (tenant_id INT, member_id INT, tier TEXT)"))
        conn.execute(
            text("CREATE TABLE segment_members (tenant_id INT, member_id INT, segment TEXT)")
        )
        conn.execute(text("INSERT INTO member_tiers VALUES (1, 7, 'gold'), (2, 7, 'bronze')"))
        conn.execute(
            text("INSERT INTO segment_members VALUES (1, 7, 'vip'), (1, 7, 'b2b'), (1, 8, 'x')")
        )
        # when / then
        assert member_audience(conn, 1, 7) == ("gold", frozenset({"vip", "b2b"}))
        assert member_audience(conn, 1, 9) == (None, frozenset())
