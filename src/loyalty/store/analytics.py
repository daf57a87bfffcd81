"""Read models for analytics: order history as columns, profiles in and out."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store.tables import member_profiles, members, orders


@dataclass
class OrderHistory:
    """One entry per paid, not cancelled order: who, which local day, net value."""

    member_ids: list[int]
    days: list[date]
    amounts: list[float]
    category_spend: dict[int, dict[str, Decimal]]


def order_history(conn: Connection, tenant_id: int, tz: Any) -> OrderHistory:
    stmt = (
        select(
            orders.c.member_id,
            orders.c.paid_at,
            orders.c.total,
            orders.c.refunded_amount,
            orders.c.lines,
        )
        .where(orders.c.tenant_id == tenant_id, orders.c.status != "cancelled")
        .order_by(orders.c.member_id, orders.c.paid_at)
    )
    history = OrderHistory([], [], [], defaultdict(lambda: defaultdict(Decimal)))
    for member_id, paid_at, total, refunded, lines in conn.execute(stmt):
        net = total - refunded
        if net <= 0:
            continue
        history.member_ids.append(member_id)
        history.days.append(paid_at.astimezone(tz).date())
        history.amounts.append(float(net))
        shares = history.category_spend[member_id]
        for line in lines:
            value = Decimal(line["unit_price"]) * line["quantity"] - Decimal(line["discount"])
            shares[line.get("category") or "uncategorised"] += value
    return history


def replace_profiles(conn: Connection, tenant_id: int, rows: list[dict[str, Any]]) -> None:
    conn.execute(delete(member_profiles).where(member_profiles.c.tenant_id == tenant_id))
    for start in range(0, len(rows), 5_000):
        conn.execute(member_profiles.insert(), rows[start : start + 5_000])


def profile_of(conn: Connection, tenant_id: int, external_id: str) -> RowMapping | None:
    stmt = (
        select(member_profiles)
        .join(members, members.c.id == member_profiles.c.member_id)
        .where(members.c.tenant_id == tenant_id, members.c.external_id == external_id)
    )
    return conn.execute(stmt).mappings().first()


def segment_counts(
    conn: Connection, tenant_id: int
) -> tuple[list[Any], list[Any], datetime | None]:
    by_rfm = conn.execute(
        select(member_profiles.c.rfm_segment, func.count())
        .where(member_profiles.c.tenant_id == tenant_id)
        .group_by(member_profiles.c.rfm_segment)
    ).all()
    by_stage = conn.execute(
        select(member_profiles.c.lifecycle_stage, func.count())
        .where(member_profiles.c.tenant_id == tenant_id)
        .group_by(member_profiles.c.lifecycle_stage)
    ).all()
    refreshed = conn.execute(
        select(func.max(member_profiles.c.refreshed_at)).where(
            member_profiles.c.tenant_id == tenant_id
        )
    ).scalar()
    return list(by_rfm), list(by_stage), refreshed


def last_refresh(conn: Connection, tenant_id: int) -> datetime | None:
    stmt = select(func.max(member_profiles.c.refreshed_at)).where(
        member_profiles.c.tenant_id == tenant_id
    )
    return conn.execute(stmt).scalar()
