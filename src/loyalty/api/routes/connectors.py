"""Store connectors: settings (/v1/connectors/{platform}), inbound hooks (/hooks/{tenant}/{platform})
and claiming guest orders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from loyalty.api.deps import Admin, ClockDep, DbDep, Reader, Writer
from loyalty.api.problems import PROBLEM_JSON, problem
from loyalty.domain.errors import ErrorCode
from loyalty.integrations.errors import SignatureInvalid
from loyalty.integrations.registry import adapter_for
from loyalty.services import connectors
from loyalty.services.secret_box import SecretBox

router = APIRouter(tags=["connectors"])


class ConnectorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secrets: list[str] = Field(min_length=1, max_length=2, description="current secret first")
    guest_matching: bool = False
    enabled: bool = True


def _box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


@router.put("/v1/connectors/{platform}")
def put_connector(
    platform: str,
    body: ConnectorSettings,
    request: Request,
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
) -> dict[str, Any]:
    now, box = clock.now(), _box(request)
    return db.run(
        principal.context.tenant_id,
        lambda uow: connectors.configure(
            uow, box, platform, body.secrets, body.guest_matching, body.enabled, now
        ),
    )


@router.get("/v1/connectors/{platform}")
def get_connector(platform: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return connectors.describe(uow, platform)


@router.post("/v1/members/{external_id}/claim-orders")
def claim_orders(external_id: str, principal: Writer, db: DbDep, clock: ClockDep) -> dict[str, Any]:
    """Attach guest orders placed with this member's email address to the member."""
    now = clock.now()
    return db.run(
        principal.context.tenant_id,
        lambda uow: connectors.claim_orders(uow, principal.context, external_id, now),
    )


@router.post("/hooks/{tenant}/{platform}", tags=["hooks"])
async def receive_hook(
    tenant: str, platform: str, request: Request, db: DbDep, clock: ClockDep
) -> JSONResponse:
    """A store's webhook. The signature is checked over the raw body before anything is parsed;
    a bad or missing one is a 401 and nothing is written. Redeliveries change nothing."""
    raw = await request.body()
    adapter = adapter_for(platform)
    target = await run_in_threadpool(connectors.hook_target, db, _box(request), tenant, platform)
    now = clock.now()
    try:
        result = adapter.receive(
            request.headers, raw, target.secrets, now=now, guest_matching=target.guest_matching
        )
    except SignatureInvalid as error:
        body = problem(ErrorCode.UNAUTHENTICATED, str(error), field="signature")
        return JSONResponse(body, status_code=401, media_type=PROBLEM_JSON)
    if result.ignored is not None:
        return JSONResponse({"status": "ignored", "reason": result.ignored})
    applied = await run_in_threadpool(
        connectors.apply, db, target.context, platform, result.events, now
    )
    return JSONResponse({"status": "processed", "events": applied})
