"""Promotions: POST/GET /v1/promotions, GET/PATCH/DELETE /v1/promotions/{promotion_id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse

from loyalty.api.deps import (
    Admin,
    ClockDep,
    DbDep,
    IdempotencyKey,
    Reader,
    decode_cursor,
    encode_cursor,
)
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import canonical_hash
from loyalty.services import promotions
from loyalty.services.idempotency import run_write

router = APIRouter(prefix="/v1/promotions", tags=["promotions"])

PromotionBody = Annotated[
    dict[str, Any],
    Body(
        description=(
            "Promotion data: id, name, trigger (automatic|code), codes, currency, benefits, "
            "conditions, priority, exclusive, combines_with, max_discount; plus active and "
            "limits {uses, uses_per_member, budget, code_uses}."
        ),
        examples=[
            {
                "id": "spring10",
                "trigger": "code",
                "codes": ["SPRING10"],
                "currency": "PLN",
                "benefits": [{"type": "percent_off", "percent": "10"}],
                "conditions": {"min_subtotal": "100.00"},
                "limits": {"code_uses": 1},
            }
        ],
    ),
]


@router.post("", status_code=201)
def create_promotion(
    body: PromotionBody,
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    ctx, now = principal.context, clock.now()
    result = run_write(
        db,
        ctx.tenant_id,
        lambda uow: (201, promotions.create(uow, dict(body), ctx.actor, now)),
        key=key,
        request_hash=canonical_hash(["POST /v1/promotions", body]),
        now=now,
    )
    promotions.forget(ctx.tenant_id)
    return write_response(result)


@router.get("")
def list_promotions(
    principal: Reader,
    db: DbDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        items, last = promotions.page(uow, decode_cursor(after), limit)
    return {"items": items, "next": encode_cursor(last)}


@router.get("/{promotion_id}")
def get_promotion(promotion_id: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return promotions.get(uow, promotion_id)


@router.patch("/{promotion_id}")
def patch_promotion(
    promotion_id: str,
    body: PromotionBody,
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Change some fields; every change makes a new version, which evaluations report."""
    ctx, now = principal.context, clock.now()
    result = run_write(
        db,
        ctx.tenant_id,
        lambda uow: (200, promotions.update(uow, promotion_id, dict(body), ctx.actor, now)),
        key=key,
        request_hash=canonical_hash([f"PATCH /v1/promotions/{promotion_id}", body]),
        now=now,
    )
    promotions.forget(ctx.tenant_id)
    return write_response(result)


@router.delete("/{promotion_id}", status_code=204)
def delete_promotion(promotion_id: str, principal: Admin, db: DbDep, clock: ClockDep) -> Response:
    ctx, now = principal.context, clock.now()
    db.run(ctx.tenant_id, lambda uow: promotions.delete(uow, promotion_id, ctx.actor, now))
    promotions.forget(ctx.tenant_id)
    return Response(status_code=204)
