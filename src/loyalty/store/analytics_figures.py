"""Read models for the engagement figures: reward popularity, tiers, referrals and NPS.

Everything is aggregated by the database. Where a figure needs the tenant's local calendar day,
rows are grouped by 15-minute slot of UTC time (``slot`` = epoch seconds // 900): every time
zone offset and every offset change falls on a quarter of an hour, so the caller can turn each
slot into a local day exactly, and the number of rows is bounded by the length of the period
(96 a day), not by the number of members.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import BigInteger, Integer, and_, case, cast, distinct, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from loyalty.store.tables import (
    coupons,
    member_tiers,
    members,
    redemptions,
    referral_codes,
    referrals,
    rewards,
    segment_memberships,
    survey_responses,
    surveys,
    tier_history,
    tier_ladders,
)

SLOT_SECONDS = 900


def _slot(conn: Connection, column: Any) -> ColumnElement[Any]:
    """The 15-minute slot of UTC time a timestamp falls in (integer division of whole
    epoch seconds)."""
    if conn.dialect.name == "sqlite":
        seconds: ColumnElement[Any] = cast(func.strftime("%s", column), Integer)
    else:
        seconds = cast(func.floor(func.extract("epoch", column)), BigInteger)
    slot: ColumnElement[Any] = seconds // SLOT_SECONDS
    return slot


def _frame(conn: Connection, stmt: Any, schema: dict[str, Any]) -> pl.DataFrame:
    rows = conn.execute(stmt).all()
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


def _between(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    found = []
    if start is not None:
        found.append(column >= start)
    if end is not None:
        found.append(column < end)
    return found


def _first(conn: Connection, column: Any, *where: Any) -> datetime | None:
    found: datetime | None = conn.execute(select(func.min(column)).where(*where)).scalar()
    return found


# --- rewards -------------------------------------------------------------------------------


def reward_catalogue(conn: Connection, tenant_id: int) -> list[tuple[str, str, Any]]:
    """(reward_id, type, data) of every reward in the catalogue."""
    stmt = select(rewards.c.reward_id, rewards.c.type, rewards.c.data).where(
        rewards.c.tenant_id == tenant_id
    )
    return [(row[0], row[1], row[2]) for row in conn.execute(stmt)]


def redemption_totals(
    conn: Connection, tenant_id: int, start: datetime, end: datetime
) -> pl.DataFrame:
    """Per reward, over the redemptions made in [start, end): how many, how many are cancelled
    now, how many issued a code and how many of those codes were used, the points they still
    spend and the distinct members who redeemed."""
    r, c = redemptions, coupons
    cancelled = r.c.status == "cancelled"
    stmt = (
        select(
            r.c.reward_id,
            func.count(),
            func.sum(case((cancelled, 1), else_=0)),
            func.sum(case((r.c.coupon_code.is_not(None), 1), else_=0)),
            func.sum(case((c.c.uses > 0, 1), else_=0)),
            func.sum(case((cancelled, 0), else_=r.c.points)),
            func.count(distinct(r.c.member_id)),
        )
        .select_from(
            r.outerjoin(c, and_(c.c.tenant_id == r.c.tenant_id, c.c.code == r.c.coupon_code))
        )
        .where(r.c.tenant_id == tenant_id, *_between(r.c.created_at, start, end))
        .group_by(r.c.reward_id)
    )
    schema = {
        "reward_id": pl.String,
        "issued": pl.Int64,
        "cancelled": pl.Int64,
        "codes_issued": pl.Int64,
        "codes_used": pl.Int64,
        "points_spent": pl.Int64,
        "members": pl.Int64,
    }
    return _frame(conn, stmt, schema)


def first_redemption(conn: Connection, tenant_id: int) -> datetime | None:
    return _first(conn, redemptions.c.created_at, redemptions.c.tenant_id == tenant_id)


# --- tiers ---------------------------------------------------------------------------------


def ladders(conn: Connection, tenant_id: int) -> list[tuple[int, Any]]:
    """Every version of the tier ladder: (version, settings), oldest first."""
    stmt = (
        select(tier_ladders.c.version, tier_ladders.c.settings)
        .where(tier_ladders.c.tenant_id == tenant_id)
        .order_by(tier_ladders.c.version)
    )
    return [(int(row[0]), row[1]) for row in conn.execute(stmt)]


def members_now(conn: Connection, tenant_id: int) -> int:
    stmt = select(func.count()).select_from(members).where(members.c.tenant_id == tenant_id)
    return int(conn.execute(stmt).scalar_one())


def tiers_now(conn: Connection, tenant_id: int) -> dict[str, int]:
    """Members per tier held now (the member's tier row)."""
    stmt = (
        select(member_tiers.c.tier, func.count())
        .where(member_tiers.c.tenant_id == tenant_id, member_tiers.c.tier.is_not(None))
        .group_by(member_tiers.c.tier)
    )
    return {str(tier): int(n) for tier, n in conn.execute(stmt)}


def members_before(conn: Connection, tenant_id: int, end: datetime) -> int:
    stmt = select(func.count()).where(members.c.tenant_id == tenant_id, members.c.created_at < end)
    return int(conn.execute(stmt).scalar_one())


def tiers_before(conn: Connection, tenant_id: int, end: datetime) -> dict[str, int]:
    """Members per tier held just before ``end``, from the tier history: each member's last
    change that took effect before then (the latest ``effective_at``, then the latest row)."""
    h = tier_history
    latest = (
        select(
            h.c.to_tier,
            func.row_number()
            .over(partition_by=h.c.member_id, order_by=(h.c.effective_at.desc(), h.c.id.desc()))
            .label("n"),
        )
        .where(h.c.tenant_id == tenant_id, h.c.effective_at < end)
        .subquery()
    )
    stmt = (
        select(latest.c.to_tier, func.count())
        .where(latest.c.n == 1, latest.c.to_tier.is_not(None))
        .group_by(latest.c.to_tier)
    )
    return {str(tier): int(n) for tier, n in conn.execute(stmt)}


def tier_changes(conn: Connection, tenant_id: int, start: datetime, end: datetime) -> pl.DataFrame:
    """Tier changes that took effect in [start, end), counted per slot, change and ladder
    version (the ladder that ranked the tiers when the change was made)."""
    h = tier_history
    slot = _slot(conn, h.c.effective_at)
    stmt = (
        select(slot, h.c.from_tier, h.c.to_tier, h.c.ladder_version, func.count())
        .where(h.c.tenant_id == tenant_id, *_between(h.c.effective_at, start, end))
        .group_by(slot, h.c.from_tier, h.c.to_tier, h.c.ladder_version)
    )
    schema = {
        "slot": pl.Int64,
        "from_tier": pl.String,
        "to_tier": pl.String,
        "ladder_version": pl.Int64,
        "changes": pl.Int64,
    }
    return _frame(conn, stmt, schema)


def first_tier_change(conn: Connection, tenant_id: int) -> datetime | None:
    return _first(conn, tier_history.c.effective_at, tier_history.c.tenant_id == tenant_id)


# --- referrals -----------------------------------------------------------------------------


def referral_outcomes(
    conn: Connection, tenant_id: int, start: datetime, end: datetime
) -> pl.DataFrame:
    """Referrals attributed in [start, end) per slot, status now, reason, and whether the
    friend's first order was paid."""
    f = referrals
    slot = _slot(conn, f.c.attributed_at)
    ordered = case((f.c.first_order_at.is_not(None), 1), else_=0)
    stmt = (
        select(slot, f.c.status, f.c.reason, ordered, func.count())
        .where(f.c.tenant_id == tenant_id, *_between(f.c.attributed_at, start, end))
        .group_by(slot, f.c.status, f.c.reason, ordered)
    )
    schema = {
        "slot": pl.Int64,
        "status": pl.String,
        "reason": pl.String,
        "ordered": pl.Int64,
        "referrals": pl.Int64,
    }
    return _frame(conn, stmt, schema)


def referral_codes_made(
    conn: Connection, tenant_id: int, start: datetime, end: datetime
) -> pl.DataFrame:
    """Referral codes (and so links) made in [start, end), per slot."""
    k = referral_codes
    slot = _slot(conn, k.c.created_at)
    stmt = (
        select(slot, func.count())
        .where(k.c.tenant_id == tenant_id, *_between(k.c.created_at, start, end))
        .group_by(slot)
    )
    return _frame(conn, stmt, {"slot": pl.Int64, "codes": pl.Int64})


def first_referral(conn: Connection, tenant_id: int) -> datetime | None:
    found = [
        _first(conn, referrals.c.attributed_at, referrals.c.tenant_id == tenant_id),
        _first(conn, referral_codes.c.created_at, referral_codes.c.tenant_id == tenant_id),
    ]
    known = [at for at in found if at is not None]
    return min(known) if known else None


# --- NPS -----------------------------------------------------------------------------------


def nps_surveys(conn: Connection, tenant_id: int) -> dict[int, str]:
    """Every survey of the tenant: id -> kind."""
    stmt = select(surveys.c.id, surveys.c.kind).where(surveys.c.tenant_id == tenant_id)
    return {int(row[0]): str(row[1]) for row in conn.execute(stmt)}


def nps_scores(
    conn: Connection,
    tenant_id: int,
    start: datetime | None,
    end: datetime | None,
    survey_id: int | None,
    by_segment: bool,
) -> pl.DataFrame:
    """Responses to NPS surveys answered in [start, end), counted per slot and score; with
    ``by_segment`` per segment too (each response once for every segment its member is in
    now; ``segment`` is null for all responses)."""
    r = survey_responses
    slot = _slot(conn, r.c.answered_at)
    where = [
        r.c.tenant_id == tenant_id,
        surveys.c.kind == "nps",
        *_between(r.c.answered_at, start, end),
    ]
    if survey_id is not None:
        where.append(r.c.survey_id == survey_id)
    joined = _nps_responses()
    keys: list[Any] = [slot, r.c.score]
    if by_segment:
        m = segment_memberships
        joined = joined.join(
            m, and_(m.c.tenant_id == r.c.tenant_id, m.c.member_id == r.c.member_id)
        )
        keys.append(m.c.segment_key)
    stmt = select(*keys, func.count()).select_from(joined).where(*where).group_by(*keys)
    schema = {"slot": pl.Int64, "score": pl.Int64}
    if by_segment:
        schema["segment"] = pl.String
    frame = _frame(conn, stmt, {**schema, "responses": pl.Int64})
    if not by_segment:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("segment"))
    return frame.select("slot", "segment", "score", "responses")


def _nps_responses() -> Any:
    r = survey_responses
    return r.join(
        surveys, and_(surveys.c.tenant_id == r.c.tenant_id, surveys.c.id == r.c.survey_id)
    )


def first_nps_response(conn: Connection, tenant_id: int, survey_id: int | None) -> datetime | None:
    r = survey_responses
    stmt = select(func.min(r.c.answered_at)).select_from(_nps_responses())
    stmt = stmt.where(r.c.tenant_id == tenant_id, surveys.c.kind == "nps")
    if survey_id is not None:
        stmt = stmt.where(r.c.survey_id == survey_id)
    found: datetime | None = conn.execute(stmt).scalar()
    return found
