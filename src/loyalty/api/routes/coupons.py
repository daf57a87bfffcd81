"""Coupon codes and campaign batches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse, Response

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
from loyalty.api.schemas import CouponUse, canonical_hash
from loyalty.services import coupons as coupon_service
from loyalty.services.idempotency import run_write

router = APIRouter(prefix="/v1", tags=["coupons"])

Limit = Annotated[int, Query(ge=1, le=500)]
BatchBody = Annotated[
    dict[str, Any],
    Body(
        description="A batch: id (optional), name, count, pattern ('SPRING-####-####-####') "
        "or prefix, max_uses (1: single use), once_per_member, expires_at, and exactly one "
        "of promotion_id and reward_id."
    ),
]


@router.get("/coupons/{code}")
def get_coupon(code: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return coupon_service.get_coupon(uow, code)


@router.post("/coupons/{code}/use")
def use_coupon(
    code: str,
    body: CouponUse,
    principal: Writer,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Use the code for an order; the same order again answers 200 and changes nothing."""
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: coupon_service.use_coupon(
            uow, code, body.order_id, body.member, now, checkout_id=body.checkout_id
        ),
        key=key,
        request_hash=canonical_hash(["use coupon", code, body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)


@router.post("/coupon-batches", status_code=201)
def create_batch(
    body: BatchBody, principal: Admin, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (201, coupon_service.create_batch(uow, body, now)),
        key=key,
        request_hash=canonical_hash(["POST /v1/coupon-batches", body]),
        now=now,
    )
    return write_response(result)


@router.get("/coupon-batches")
def list_batches(
    principal: Reader, db: DbDep, after: str | None = None, limit: Limit = 50
) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        items, last = coupon_service.list_batches(uow, decode_cursor(after), limit)
    return {"items": items, "next": encode_cursor(last)}


@router.get("/coupon-batches/{batch_id}")
def get_batch(batch_id: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return coupon_service.get_batch(uow, batch_id)


@router.get("/coupon-batches/{batch_id}/codes.csv", response_class=Response)
def batch_codes(batch_id: str, principal: Reader, db: DbDep) -> Response:
    with db.read(principal.context.tenant_id) as uow:
        text = coupon_service.batch_csv(uow, batch_id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}-codes.csv"'},
    )
