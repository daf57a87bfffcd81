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
from loyalty.integrations.errors import KeysUnavailable, SignatureInvalid
from loyalty.integrations.jws import JwksCache
from loyalty.integrations.registry import adapter_for
from loyalty.services import connectors
from loyalty.services.secret_box import SecretBox

router = APIRouter(tags=["connectors"])


class ConnectorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secrets: list[str] = Field(
        default_factory=list,
        max_length=2,
        description="current secret first; Saleor needs none when api_url is set (JWS)",
    )
    guest_matching: bool = False
    enabled: bool = True
    api_url: str | None = Field(
        None, max_length=500, description="Saleor: the GraphQL API URL whose JWKS signs hooks"
    )
    checkout_key: str | None = Field(
        None, description="note attribute / meta_data / metadata key holding our checkout id"
    )
    referral_key: str | None = Field(
        None, description="note attribute / meta_data / metadata key holding a referral code"
    )
    referral_param: str | None = Field(
        None, description="Shopify: the landing_site query parameter with a referral code"
    )

    def settings(self) -> dict[str, str | None]:
        return {
            "api_url": self.api_url,
            "checkout_key": self.checkout_key,
            "referral_key": self.referral_key,
            "referral_param": self.referral_param,
        }


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
            uow,
            box,
            platform,
            body.secrets,
            body.guest_matching,
            body.enabled,
            now,
            body.settings(),
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
    a bad or missing one is a 401 and nothing is written. When a Saleor JWS cannot be checked
    because the shop's JWKS cannot be fetched the answer is 503 (with Retry-After), again with
    nothing written: the delivery may be genuine, and Saleor retries it. Redeliveries change
    nothing."""
    raw = await request.body()
    adapter = adapter_for(platform)
    target = await run_in_threadpool(connectors.hook_target, db, _box(request), tenant, platform)
    now = clock.now()
    keys: JwksCache = request.app.state.jwks
    try:  # in a thread: checking a JWS may fetch the shop's public keys over HTTP
        result = await run_in_threadpool(
            adapter.receive,
            request.headers,
            raw,
            target.secrets,
            now=now,
            options=target.options,
            keys=keys,
        )
    except SignatureInvalid as error:
        body = problem(ErrorCode.UNAUTHENTICATED, str(error), field="signature")
        return JSONResponse(body, status_code=401, media_type=PROBLEM_JSON)
    except KeysUnavailable as error:
        body = problem(ErrorCode.SIGNING_KEYS_UNAVAILABLE, error.detail, field="signature")
        return JSONResponse(
            body, status_code=503, media_type=PROBLEM_JSON, headers={"Retry-After": "60"}
        )
    if result.ignored is not None:
        return JSONResponse({"status": "ignored", "reason": result.ignored})
    applied = await run_in_threadpool(
        connectors.apply, db, target.context, platform, result.events, now
    )
    return JSONResponse({"status": "processed", "events": applied})
