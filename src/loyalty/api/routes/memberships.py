"""Paid membership: plans (/v1/membership-plans) and a member's memberships."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from loyalty.api.deps import Admin, ClockDep, DbDep, IdempotencyKey, Reader, Writer
from loyalty.api.routes._write import write_response
from loyalty.api.routes.tiers import BenefitsIn
from loyalty.api.schemas import Currency, ExternalId, Strict, canonical_hash
from loyalty.domain.tiers.membership import MembershipEvent
from loyalty.services import memberships
from loyalty.services.idempotency import run_write

router = APIRouter(prefix="/v1", tags=["memberships"])

Price = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6, allow_inf_nan=False)]


class PlanIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    price: Price
    currency: Currency | None = None  # the programme's by default
    term: Literal["monthly", "yearly"]
    benefits: BenefitsIn | None = None
    trial_days: int = Field(0, ge=0, le=365)


class PlanPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    price: Price | None = None
    term: Literal["monthly", "yearly"] | None = None
    benefits: BenefitsIn | None = None
    trial_days: int | None = Field(None, ge=0, le=365)
    active: bool | None = None  # false: no new memberships on the plan


class MembershipIn(Strict):
    plan_id: int = Field(ge=1)
    membership_id: ExternalId | None = None  # the store's subscription id; made up if absent


class CancelIn(Strict):
    immediately: bool = False  # end the benefits now instead of at the end of the paid term


def _plan_data(body: PlanIn | PlanPatch) -> dict[str, Any]:
    data = {k: v for k, v in body.model_dump(mode="json", exclude_unset=True).items()}
    if data.get("benefits") is not None:
        data["benefits"] = {k: v for k, v in data["benefits"].items() if v is not None}
    return {k: v for k, v in data.items() if v is not None}


@router.post("/membership-plans", status_code=201)
def create_plan(
    body: PlanIn, principal: Admin, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    data, now = _plan_data(body), clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (201, memberships.create_plan(uow, principal.context, data, now)),
        key=key,
        request_hash=canonical_hash(["POST /v1/membership-plans", data]),
        now=now,
    )
    return write_response(result)


@router.get("/membership-plans")
def list_plans(principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return {"items": memberships.list_plans(uow)}


@router.get("/membership-plans/{plan_id}")
def get_plan(plan_id: int, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return memberships.get_plan(uow, plan_id)


@router.patch("/membership-plans/{plan_id}")
def update_plan(
    plan_id: int,
    body: PlanPatch,
    principal: Admin,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    data, now = _plan_data(body), clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (200, memberships.update_plan(uow, principal.context, plan_id, data, now)),
        key=key,
        request_hash=canonical_hash(["PATCH /v1/membership-plans", plan_id, data]),
        now=now,
    )
    return write_response(result)


@router.get("/members/{external_id}/memberships")
def member_memberships(
    external_id: str, principal: Reader, db: DbDep, clock: ClockDep
) -> dict[str, Any]:
    """The member's memberships, newest first, with their history."""
    with db.read(principal.context.tenant_id) as uow:
        return memberships.member_memberships(uow, external_id, clock.now())


@router.post("/members/{external_id}/memberships", status_code=201)
def start_membership(
    external_id: str,
    body: MembershipIn,
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
            memberships.start_membership(
                uow, principal.context, external_id, body.plan_id, body.membership_id, now, now
            ),
        ),
        key=key,
        request_hash=canonical_hash(["start", external_id, body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)


@router.post("/members/{external_id}/memberships/{membership_id}/cancel")
def cancel_membership(
    external_id: str,
    membership_id: str,
    principal: Writer,
    db: DbDep,
    clock: ClockDep,
    body: CancelIn | None = None,
    key: IdempotencyKey = None,
) -> JSONResponse:
    now, immediately = clock.now(), body is not None and body.immediately
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (
            200,
            memberships.change_membership(
                uow,
                principal.context,
                membership_id,
                MembershipEvent.CANCELLED,
                now,
                now,
                immediately=immediately,
                member_external_id=external_id,
            ),
        ),
        key=key,
        request_hash=canonical_hash(["cancel", external_id, membership_id, immediately]),
        now=now,
    )
    return write_response(result)
