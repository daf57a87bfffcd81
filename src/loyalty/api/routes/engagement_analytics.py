"""GET /v1/analytics/...: reward popularity, tiers, referral conversion and NPS as JSON, CSV or
Parquet (docs/analytics.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from loyalty.analytics.kpis import Granularity
from loyalty.api.deps import ClockDep, DbDep, Reader
from loyalty.api.routes.program_analytics import (
    Format,
    FormatQuery,
    From,
    GranularityQuery,
    To,
    export,
)
from loyalty.services import engagement_analytics as service
from loyalty.services.context import TenantContext
from loyalty.services.engagement_analytics import EngagementQuery
from loyalty.store.uow import Database

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


async def _answer(
    db: Database, ctx: TenantContext, name: str, query: EngagementQuery, fmt: Format, now: Any
) -> Response:
    report = await run_in_threadpool(service.figure, db, ctx, name, query, now)
    return export(report, fmt)


@router.get("/rewards")
async def rewards(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    fmt: FormatQuery = "json",
) -> Response:
    """Per reward: redemptions made in the period, cancelled, codes issued and used, points
    spent, distinct members, and the reward's share of all redemptions."""
    query = EngagementQuery(first, last)
    return await _answer(db, principal.context, "rewards", query, fmt, clock.now())


@router.get("/tiers")
async def tiers(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    as_of: Annotated[
        list[date] | None, Query(description="also the distribution at the end of these days")
    ] = None,
    fmt: FormatQuery = "json",
) -> Response:
    """Members per tier now and, from the tier history, at the end of each ``as_of`` day."""
    query = EngagementQuery(as_of=tuple(as_of or ()))
    return await _answer(db, principal.context, "tiers", query, fmt, clock.now())


@router.get("/tier-movements")
async def tier_movements(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    granularity: GranularityQuery = Granularity.MONTH,
    fmt: FormatQuery = "json",
) -> Response:
    """Tier changes per period, from tier and to tier, as upgrades or downgrades."""
    query = EngagementQuery(first, last, granularity)
    return await _answer(db, principal.context, "tier_movements", query, fmt, clock.now())


@router.get("/referrals")
async def referrals(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    granularity: GranularityQuery = Granularity.MONTH,
    fmt: FormatQuery = "json",
) -> Response:
    """Per period of attribution: referral codes made, friends attributed, rejected, signed
    up, with a first order and qualified, with the conversion rates."""
    query = EngagementQuery(first, last, granularity)
    return await _answer(db, principal.context, "referrals", query, fmt, clock.now())


@router.get("/referral-rejections")
async def referral_rejections(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    granularity: GranularityQuery = Granularity.MONTH,
    fmt: FormatQuery = "json",
) -> Response:
    """Referrals rejected per period of attribution and reason (fraud checks and others)."""
    query = EngagementQuery(first, last, granularity)
    return await _answer(db, principal.context, "referral_rejections", query, fmt, clock.now())


@router.get("/nps")
async def net_promoter_score(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    first: From = None,
    last: To = None,
    granularity: GranularityQuery = Granularity.MONTH,
    survey: Annotated[int | None, Query(description="one NPS survey (default: all)")] = None,
    group_by: Annotated[Literal["segment"] | None, Query()] = None,
    fmt: FormatQuery = "json",
) -> Response:
    """NPS per period over the responses to NPS surveys; ``group_by=segment`` adds a row per
    segment (members' current segments)."""
    query = EngagementQuery(first, last, granularity, survey=survey, by_segment=bool(group_by))
    return await _answer(db, principal.context, "nps", query, fmt, clock.now())
