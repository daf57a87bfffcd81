"""Earning rules: POST/GET /v1/rules, GET/PATCH/DELETE /v1/rules/{id}, POST /v1/simulate."""

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
    decode_cursor,
    encode_cursor,
)
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import EventIn, canonical_hash, to_domain
from loyalty.services import rules as rule_service
from loyalty.services.idempotency import run_write
from loyalty.services.simulate import simulate

router = APIRouter(prefix="/v1", tags=["rules"])

RuleBody = Annotated[
    dict[str, Any],
    Body(
        description=(
            "name, trigger, condition (CEL), effect, limits, schedule, priority, exclusive, "
            "stop_processing, active; see docs/rules.md in the repository"
        ),
        examples=[
            {
                "name": "Double points on pets",
                "trigger": "order.paid",
                "condition": 'order.total >= 200 && "pets" in order.categories',
                "effect": {"kind": "multiplier", "factor": "2", "lines": {"categories": ["pets"]}},
                "limits": {"per_member": [{"period": "month", "max_points": 1000}]},
                "schedule": {"days_of_week": ["sat", "sun"]},
                "priority": 10,
            }
        ],
    ),
]


@router.post("/rules", status_code=201)
def create_rule(
    body: RuleBody, principal: Admin, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    """A new rule at version 1; a bad condition is a 422 naming its line and column."""
    ctx, now = principal.context, clock.now()
    result = run_write(
        db,
        ctx.tenant_id,
        lambda uow: (201, rule_service.create_rule(uow, ctx, body, now)),
        key=key,
        request_hash=canonical_hash(["POST /v1/rules", body]),
        now=now,
    )
    return write_response(result)


@router.get("/rules")
def list_rules(
    principal: Reader,
    db: DbDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    trigger: str | None = None,
) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        items, last = rule_service.list_rules(uow, decode_cursor(after), limit, trigger)
    return {"items": items, "next": encode_cursor(last)}


@router.get("/rules/{rule_id}")
def get_rule(rule_id: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    """The current version, the version history and recent run-time failures."""
    with db.read(principal.context.tenant_id) as uow:
        return rule_service.get_rule(uow, rule_id)


@router.patch("/rules/{rule_id}")
def update_rule(
    rule_id: str,
    body: RuleBody,
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Top-level fields given replace the current ones; the result is the next version."""
    ctx, now = principal.context, clock.now()
    result = run_write(
        db,
        ctx.tenant_id,
        lambda uow: (200, rule_service.update_rule(uow, ctx, rule_id, body, now)),
        key=key,
        request_hash=canonical_hash(["PATCH /v1/rules", rule_id, body]),
        now=now,
    )
    return write_response(result)


@router.delete("/rules/{rule_id}", status_code=204)
def delete_rule(rule_id: str, principal: Admin, db: DbDep, clock: ClockDep) -> Response:
    ctx, now = principal.context, clock.now()
    db.run(ctx.tenant_id, lambda uow: rule_service.delete_rule(uow, ctx, rule_id, now))
    return Response(status_code=204)


@router.post("/simulate")
def simulate_event(event: EventIn, principal: Reader, db: DbDep, clock: ClockDep) -> dict[str, Any]:
    """What the event would earn and why, rule by rule; writes nothing."""
    ctx = principal.context
    inbound = to_domain(event)
    with db.read(ctx.tenant_id) as uow:
        return simulate(uow, ctx, inbound, clock.now())
