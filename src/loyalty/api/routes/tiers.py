"""Tiers: the ladder (/v1/tiers) and a member's tier (/v1/members/{external_id}/tier)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from loyalty.api.deps import Admin, ClockDep, DbDep, IdempotencyKey, Reader
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import Strict, Timestamp, canonical_hash
from loyalty.services import tiers
from loyalty.services.idempotency import run_write

router = APIRouter(prefix="/v1", tags=["tiers"])

Number = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]


class BirthdayGiftIn(Strict):
    reward_id: str | None = Field(None, max_length=64)
    points: int | None = Field(None, ge=1, le=10_000_000)


class BenefitsIn(Strict):
    """Benefits of a tier or a paid plan; what is left out is not given."""

    earn_multiplier: Number | None = None
    free_shipping: bool | None = None
    birthday_gift: BirthdayGiftIn | None = None
    exclusive_rewards: bool | None = None
    early_access_days: int | None = Field(None, ge=0, le=365)
    perks: dict[str, str] | None = Field(None, max_length=50)


class LevelIn(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    threshold: Number
    benefits: BenefitsIn | None = None


class WindowIn(Strict):
    kind: Literal["rolling_days", "calendar_year", "lifetime"]
    days: int | None = Field(None, ge=1, le=3660)


class ReviewIn(Strict):
    kind: Literal["calendar_year_end", "months_after_reached"] | None = None
    months: int | None = Field(None, ge=1, le=120)
    grace_days: int | None = Field(None, ge=0, le=365)
    max_levels_down: int | None = Field(None, ge=0, le=20)  # null: no limit
    refunds_downgrade_immediately: bool | None = None


class TiersIn(Strict):
    metric: Literal["points_earned", "amount_spent", "orders"]
    currency: str | None = Field(None, min_length=3, max_length=3)
    window: WindowIn
    review: ReviewIn | None = None
    levels: list[LevelIn] = Field(min_length=1, max_length=20)


class TiersPatch(Strict):
    """Fields given replace the current ones (``levels`` as a whole); a new version results."""

    metric: Literal["points_earned", "amount_spent", "orders"] | None = None
    currency: str | None = Field(None, min_length=3, max_length=3)
    window: WindowIn | None = None
    review: ReviewIn | None = None
    levels: list[LevelIn] | None = Field(None, min_length=1, max_length=20)


class MemberTierIn(Strict):
    """An admin's tier for the member, a floor until ``until`` (null: until removed);
    ``tier: null`` removes the floor."""

    tier: str | None = Field(max_length=64)
    until: Timestamp | None = None
    note: str = Field("", max_length=500)


def _data(body: TiersIn | TiersPatch) -> dict[str, Any]:
    data = body.model_dump(mode="json", exclude_unset=True)
    for level in data.get("levels") or []:
        if level.get("benefits") is not None:
            level["benefits"] = {k: v for k, v in level["benefits"].items() if v is not None}
    return data


@router.post("/tiers", status_code=201)
def create_tiers(
    body: TiersIn, principal: Admin, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    data, now = _data(body), clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (201, tiers.create_tiers(uow, principal.context, data, now)),
        key=key,
        request_hash=canonical_hash(["POST /v1/tiers", data]),
        now=now,
    )
    return write_response(result)


@router.get("/tiers")
def get_tiers(principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return tiers.get_tiers(uow)


@router.patch("/tiers")
def update_tiers(
    body: TiersPatch, principal: Admin, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    data, now = _data(body), clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (200, tiers.update_tiers(uow, principal.context, data, now)),
        key=key,
        request_hash=canonical_hash(["PATCH /v1/tiers", data]),
        now=now,
    )
    return write_response(result)


@router.get("/members/{external_id}/tier")
def get_member_tier(
    external_id: str, principal: Reader, db: DbDep, clock: ClockDep
) -> dict[str, Any]:
    """Tier, since when, progress to the next tier and what the next review would do."""
    with db.read(principal.context.tenant_id) as uow:
        return tiers.member_tier(uow, principal.context, external_id, clock.now())


@router.put("/members/{external_id}/tier")
def put_member_tier(
    external_id: str,
    body: MemberTierIn,
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (
            200,
            tiers.put_member_tier(
                uow, principal.context, external_id, body.tier, body.until, body.note, now
            ),
        ),
        key=key,
        request_hash=canonical_hash(["PUT tier", external_id, body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)
