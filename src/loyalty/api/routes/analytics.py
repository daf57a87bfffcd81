"""Customer profiles and segment counts."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from loyalty.api.deps import Admin, ClockDep, DbDep, Reader
from loyalty.services import profiles

router = APIRouter(tags=["analytics"])


@router.get("/v1/members/{external_id}/profile")
def member_profile(external_id: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    """Orders, spend, favourite category, RFM segment, lifecycle stage, predicted CLV."""
    with db.read(principal.context.tenant_id) as uow:
        return profiles.profile_view(uow, external_id)


@router.post("/v1/analytics/profiles/refresh")
async def refresh_profiles(
    principal: Admin, db: DbDep, clock: ClockDep, as_of: date | None = None
) -> dict[str, Any]:
    """Recompute every member's profile now (the models are fitted on this shop's history);
    ``as_of`` computes them as of an earlier day, for history that ended long ago."""
    report = await run_in_threadpool(
        profiles.refresh_profiles, db, principal.context, clock.now(), as_of
    )
    return report.to_dict()


@router.get("/v1/analytics/segments")
def segments(principal: Reader, db: DbDep) -> dict[str, Any]:
    """How many members are in each RFM segment and lifecycle stage."""
    with db.read(principal.context.tenant_id) as uow:
        return profiles.segments_view(uow)
