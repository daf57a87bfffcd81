"""A member's tier and segments, for rewards that only some members may see.

Tiers and segments are stored by their own features. Until they exist in this schema a member
has no tier and no segments, so a reward limited to tiers or segments is offered to nobody
(closed, never open). The two statements below are the whole contract: a table
``member_tiers`` (tenant_id, member_id, tier) with at most one row per member, and a table
``segment_members`` (tenant_id, member_id, segment). Point them at the real tables when those
features land; nothing else reads tiers or segments for rewards.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

TIER_TABLE = "member_tiers"
SEGMENT_TABLE = "segment_members"
_TIER = text(
    f"SELECT tier FROM {TIER_TABLE} WHERE tenant_id = :tenant_id AND member_id = :member_id"
)
_SEGMENTS = text(
    f"SELECT segment FROM {SEGMENT_TABLE} WHERE tenant_id = :tenant_id AND member_id = :member_id"
)


def member_audience(
    conn: Connection, tenant_id: int, member_id: int
) -> tuple[str | None, frozenset[str]]:
    """(tier, segments) of a member; (None, empty) where the tables are not there."""
    tables = set(inspect(conn).get_table_names())
    params = {"tenant_id": tenant_id, "member_id": member_id}
    tier = conn.execute(_TIER, params).scalar() if TIER_TABLE in tables else None
    segments = (
        frozenset(str(s) for s in conn.execute(_SEGMENTS, params).scalars())
        if SEGMENT_TABLE in tables
        else frozenset()
    )
    return (None if tier is None else str(tier)), segments
