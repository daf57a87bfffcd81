"""Outbound webhook subscriptions and their delivery log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from loyalty.api.deps import Admin, ClockDep, DbDep, Reader, decode_cursor, encode_cursor
from loyalty.services import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000)
    event_types: list[str] = Field(min_length=1, max_length=50)
    description: str | None = Field(None, max_length=500)


@router.post("", status_code=201)
def create_webhook(
    body: WebhookCreate, principal: Admin, db: DbDep, clock: ClockDep
) -> dict[str, Any]:
    """Subscribe a URL; the response carries the signing secret, shown only this once."""
    now = clock.now()
    return db.run(
        principal.context.tenant_id,
        lambda uow: webhooks.create_subscription(
            uow, body.url, body.event_types, body.description, now
        ),
    )


@router.get("")
def list_webhooks(principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return {"items": webhooks.list_subscriptions(uow)}


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: int, principal: Admin, db: DbDep, clock: ClockDep) -> Response:
    now = clock.now()
    db.run(
        principal.context.tenant_id, lambda uow: webhooks.delete_subscription(uow, webhook_id, now)
    )
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: int,
    principal: Reader,
    db: DbDep,
    status: Literal["pending", "delivered", "dead"] | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        items, last = webhooks.deliveries(uow, webhook_id, status, decode_cursor(after), limit)
    return {"items": items, "next": encode_cursor(last)}


@router.post("/{webhook_id}/deliveries/{delivery_id}/replay", status_code=202)
def replay_delivery(
    webhook_id: int, delivery_id: int, principal: Admin, db: DbDep, clock: ClockDep
) -> dict[str, str]:
    """Send a delivery again (also a dead one), with the same event id."""
    now = clock.now()
    db.run(
        principal.context.tenant_id, lambda uow: webhooks.replay(uow, webhook_id, delivery_id, now)
    )
    return {"status": "pending"}
