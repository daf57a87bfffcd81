"""A member's tier and segments, for rewards that only some members may see.

The tier is the one the tier ladder decided (``member_tiers.tier``, manual floors included);
the segments are those last materialised (``segment_memberships``: rule, static and built-in
``rfm:*`` / ``lifecycle:*`` segments). A member with neither sees only rewards open to all.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from loyalty.store.tables import member_tiers, segment_memberships


def member_audience(
    conn: Connection, tenant_id: int, member_id: int
) -> tuple[str | None, frozenset[str]]:
    """(tier, segment ids) of a member."""
    tier = conn.execute(
        select(member_tiers.c.tier).where(
            member_tiers.c.tenant_id == tenant_id, member_tiers.c.member_id == member_id
        )
    ).scalar()
    segments = conn.execute(
        select(segment_memberships.c.segment_key).where(
            segment_memberships.c.tenant_id == tenant_id,
            segment_memberships.c.member_id == member_id,
        )
    ).scalars()
    return (None if tier is None else str(tier)), frozenset(str(s) for s in segments)
