"""Referrals: a member's code and link, explicit attribution, the list, stats and settings."""

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
from loyalty.api.schemas import ReferralCreate, canonical_hash
from loyalty.domain.events import ReferralData
from loyalty.services import referrals as referral_service
from loyalty.services.idempotency import run_write

router = APIRouter(prefix="/v1", tags=["referrals"])

Limit = Annotated[int, Query(ge=1, le=500)]
Status = Literal["pending", "qualified", "rewarded", "rejected", "cancelled"]


@router.get("/members/{external_id}/referral")
def member_referral(
    external_id: str, principal: Reader, db: DbDep, clock: ClockDep
) -> dict[str, Any]:
    """The member's referral code and link; the code is made on the first request."""
    now, tenant_id = clock.now(), principal.context.tenant_id
    with db.read(tenant_id) as uow:
        found = referral_service.member_referral(uow, external_id, now, create=False)
    if found is None:
        found = db.run(
            tenant_id, lambda uow: referral_service.member_referral(uow, external_id, now)
        )
    assert found is not None
    return found


@router.post("/referrals", status_code=201)
def create_referral(
    body: ReferralCreate,
    principal: Writer,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Attribute a referee to a code; a referral failing a fraud check is recorded as
    ``rejected`` with its reason (201 either way; 200 if this code already holds it)."""
    now = clock.now()
    data = body.referral_data() or ReferralData()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: referral_service.attribute_explicitly(
            uow, principal.context, body.referral_code, body.referee_profile(), data, now
        ),
        key=key,
        request_hash=canonical_hash(["POST /v1/referrals", body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)


@router.get("/referrals")
def list_referrals(
    principal: Reader,
    db: DbDep,
    status: Status | None = None,
    referrer: str | None = None,
    after: str | None = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        items, last = referral_service.list_referrals(
            uow, decode_cursor(after), limit, status, referrer
        )
    return {"items": items, "next": encode_cursor(last)}


@router.get("/referrals/stats")
def referral_stats(principal: Reader, db: DbDep, referrer: str | None = None) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return referral_service.stats(uow, referrer)


@router.get("/referrals/settings")
def get_referral_settings(principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return referral_service.get_settings(uow)


@router.put("/referrals/settings")
def put_referral_settings(
    body: Annotated[dict[str, Any], Body()],
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Change the given settings (the others keep their values); refused with the field named."""
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (200, referral_service.put_settings(uow, principal.context, body, now)),
        key=key,
        request_hash=canonical_hash(["PUT /v1/referrals/settings", body]),
        now=now,
    )
    return write_response(result)
