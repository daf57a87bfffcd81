"""GET/PUT /v1/program: the programme's settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from loyalty.api.deps import Admin, ClockDep, DbDep, IdempotencyKey, Reader
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import ProgramUpdate, canonical_hash
from loyalty.services import program as program_service
from loyalty.services.idempotency import run_write
from loyalty.services.tenants import forget_cached_keys

router = APIRouter(prefix="/v1/program", tags=["program"])


@router.get("")
def get_program(principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return program_service.get_program(uow)


@router.put("")
def put_program(
    body: ProgramUpdate, principal: Admin, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    data = body.model_dump(mode="json", exclude_none=True)
    if "point_value" in body.model_fields_set and body.point_value is None:
        data["point_value"] = None  # null switches paying with points off
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (200, program_service.put_program(uow, principal.context, data, now)),
        key=key,
        request_hash=canonical_hash(["PUT /v1/program", data]),
        now=now,
    )
    forget_cached_keys()  # cached principals carry the settings; drop them after the commit
    return write_response(result)
