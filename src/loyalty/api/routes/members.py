"""Members: profiles, balances, history, adjustments, transfers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from loyalty.api.deps import (
    ClockDep,
    DbDep,
    IdempotencyKey,
    Reader,
    Writer,
    decode_cursor,
    encode_cursor,
)
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import Adjustment, MemberCreate, MemberUpdate, Transfer, canonical_hash
from loyalty.services import members as member_service
from loyalty.services.idempotency import run_write

router = APIRouter(prefix="/v1", tags=["members"])

Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("/members", status_code=201)
def create_member(
    body: MemberCreate, principal: Writer, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    data = body.model_dump(exclude_unset=True, exclude={"external_id"})
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (
            201,
            member_service.create_member(uow, principal.context, body.external_id, data, now),
        ),
        key=key,
        request_hash=canonical_hash(["POST /v1/members", body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)


@router.get("/members")
def list_members(
    principal: Reader,
    db: DbDep,
    after: str | None = None,
    limit: Limit = 50,
    email: str | None = None,
    phone: str | None = None,
    status: Literal["active", "blocked"] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    min_available: int | None = None,
) -> dict[str, Any]:
    filters = {
        name: value
        for name, value in dict(
            email=email,
            phone=phone,
            status=status,
            created_after=created_after,
            created_before=created_before,
            min_available=min_available,
        ).items()
        if value is not None
    }
    with db.read(principal.context.tenant_id) as uow:
        items, last = member_service.list_members(uow, decode_cursor(after), limit, filters)
    return {"items": items, "next": encode_cursor(last)}


@router.get("/members/{external_id}")
def get_member(external_id: str, principal: Reader, db: DbDep, clock: ClockDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return member_service.get_member(uow, principal.context, external_id, clock.now())


@router.patch("/members/{external_id}")
def update_member(
    external_id: str,
    body: MemberUpdate,
    principal: Writer,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    data = body.model_dump(exclude_unset=True)
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (
            200,
            member_service.update_member(uow, principal.context, external_id, data, now),
        ),
        key=key,
        request_hash=canonical_hash(
            ["PATCH", external_id, body.model_dump(mode="json", exclude_unset=True)]
        ),
        now=now,
    )
    return write_response(result)


@router.get("/members/{external_id}/ledger")
def member_ledger(
    external_id: str, principal: Reader, db: DbDep, after: str | None = None, limit: Limit = 50
) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        items, last = member_service.history(uow, external_id, decode_cursor(after), limit)
    return {"items": items, "next": encode_cursor(last)}


@router.post("/members/{external_id}/adjustments", status_code=201)
def adjust_points(
    external_id: str,
    body: Adjustment,
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
            member_service.adjust(
                uow, principal.context, external_id, body.points, body.reason, now
            ),
        ),
        key=key,
        request_hash=canonical_hash(["adjust", external_id, body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)


@router.post("/transfers", status_code=201)
def transfer_points(
    body: Transfer, principal: Writer, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (
            201,
            member_service.transfer(
                uow, principal.context, body.from_member, body.to, body.points, body.reason, now
            ),
        ),
        key=key,
        request_hash=canonical_hash(["transfer", body.model_dump(mode="json", by_alias=True)]),
        now=now,
    )
    return write_response(result)
