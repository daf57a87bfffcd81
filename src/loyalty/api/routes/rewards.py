"""Rewards catalogue and redemptions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from loyalty.api.deps import (
    Admin,
    ClockDep,
    DbDep,
    IdempotencyKey,
    Reader,
    Writer,
    decode_cursor,
    encode_cursor,
)
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import FulfilmentUpdate, RedemptionCreate, canonical_hash
from loyalty.services import rewards as reward_service
from loyalty.services.idempotency import run_write

router = APIRouter(prefix="/v1", tags=["rewards"])

Limit = Annotated[int, Query(ge=1, le=500)]
RewardBody = Annotated[
    dict[str, Any],
    Body(
        description="A reward: id (optional), name, description, cost_points, benefit "
        "{type, ...}, stock, limits [{period, max_redemptions}], code_valid_days, "
        "visibility {tiers, segments}, enabled, active_from, active_until, promotion_id, "
        "exclusive (only for members whose tier or paid plan grants exclusive_rewards)."
    ),
]
RewardType = Literal[
    "fixed_discount",
    "percent_discount",
    "free_shipping",
    "free_product",
    "store_credit",
    "physical_gift",
    "charity_donation",
    "early_access",
]


@router.post("/rewards", status_code=201)
def create_reward(
    body: RewardBody, principal: Admin, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (201, reward_service.create_reward(uow, body, now)),
        key=key,
        request_hash=canonical_hash(["POST /v1/rewards", body]),
        now=now,
    )
    return write_response(result)


@router.get("/rewards")
def list_rewards(
    principal: Reader,
    db: DbDep,
    clock: ClockDep,
    after: str | None = None,
    limit: Limit = 50,
    type: RewardType | None = None,
    member: str | None = None,
) -> dict[str, Any]:
    """The catalogue; ``member=<external_id>`` keeps only what that member may redeem now."""
    with db.read(principal.context.tenant_id) as uow:
        items, last = reward_service.list_rewards(
            uow, decode_cursor(after), limit, type, member=member, now=clock.now()
        )
    return {"items": items, "next": encode_cursor(last)}


@router.get("/rewards/{reward_id}")
def get_reward(reward_id: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return reward_service.get_reward(uow, reward_id)


@router.patch("/rewards/{reward_id}")
def update_reward(
    reward_id: str,
    body: RewardBody,
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (200, reward_service.update_reward(uow, reward_id, body, now)),
        key=key,
        request_hash=canonical_hash(["PATCH /v1/rewards", reward_id, body]),
        now=now,
    )
    return write_response(result)


@router.post("/members/{external_id}/redemptions", status_code=201)
def redeem(
    external_id: str,
    body: RedemptionCreate,
    principal: Writer,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (
            201,
            reward_service.redeem_reward(uow, principal.context, external_id, body.reward_id, now),
        ),
        key=key,
        request_hash=canonical_hash(["redeem", external_id, body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)


@router.get("/members/{external_id}/redemptions")
def list_redemptions(
    external_id: str, principal: Reader, db: DbDep, after: str | None = None, limit: Limit = 50
) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        items, last = reward_service.list_redemptions(uow, external_id, decode_cursor(after), limit)
    return {"items": items, "next": encode_cursor(last)}


@router.get("/redemptions/{redemption_id}")
def get_redemption(redemption_id: int, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return reward_service.get_redemption(uow, redemption_id)


@router.post("/redemptions/{redemption_id}/cancel")
def cancel_redemption(
    redemption_id: int, principal: Writer, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (
            200,
            reward_service.cancel_redemption(uow, principal.context, redemption_id, now),
        ),
        key=key,
        request_hash=canonical_hash(["cancel redemption", redemption_id]),
        now=now,
    )
    return write_response(result)


@router.post("/redemptions/{redemption_id}/fulfilment")
def update_fulfilment(
    redemption_id: int,
    body: FulfilmentUpdate,
    principal: Writer,
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
            reward_service.update_fulfilment(
                uow, redemption_id, body.status, now, carrier=body.carrier, tracking=body.tracking
            ),
        ),
        key=key,
        request_hash=canonical_hash(["fulfilment", redemption_id, body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)
