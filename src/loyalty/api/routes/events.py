"""The events inbox: POST /v1/events and /v1/events/batch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from loyalty.api.deps import ClockDep, DbDep, IdempotencyKey, Writer
from loyalty.api.problems import problem_for, validation_problem
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import EventBatch, EventIn, to_domain
from loyalty.domain.errors import BatchTooLarge, DomainError
from loyalty.services import bulk
from loyalty.services import events as event_service
from loyalty.services.idempotency import run_write
from loyalty.store.uow import UnitOfWork

router = APIRouter(prefix="/v1/events", tags=["events"])

MAX_BATCH = 1000
_event_adapter: TypeAdapter[Any] = TypeAdapter(EventIn)


@router.post("", responses={409: {"description": "same event id, different body"}})
async def post_event(
    event: EventIn, principal: Writer, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    """Record one store event; a retry with the same id returns the first response."""
    ctx = principal.context
    inbound = to_domain(event)
    now = clock.now()
    if key is None:
        result = await db.run_async(
            ctx.tenant_id, lambda uow: event_service.process(uow, ctx, inbound, now)
        )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return JSONResponse(result.body, headers=headers)

    event_replayed = False  # a new key on a known event id is still a replay of that event

    def work(uow: UnitOfWork) -> tuple[int, Any]:
        nonlocal event_replayed
        result = event_service.process(uow, ctx, inbound, now)
        event_replayed = result.replayed
        return 200, result.body

    status, body, key_replayed = await run_in_threadpool(
        run_write, db, ctx.tenant_id, work, key=key, request_hash=inbound.body_hash, now=now
    )
    return write_response((status, body, key_replayed or event_replayed))


@router.post("/batch")
async def post_batch(
    batch: EventBatch, principal: Writer, db: DbDep, clock: ClockDep
) -> JSONResponse:
    """Up to 1,000 events in one request and one transaction; each succeeds or fails alone."""
    if len(batch.events) > MAX_BATCH:
        raise BatchTooLarge(
            f"at most {MAX_BATCH} events per batch, got {len(batch.events)}", field="events"
        )
    ctx = principal.context
    results: list[dict[str, Any] | None] = [None] * len(batch.events)
    valid, positions = [], []
    for index, raw in enumerate(batch.events):
        try:
            valid.append(to_domain(_event_adapter.validate_python(raw)))
            positions.append(index)
        except ValidationError as error:
            problem = validation_problem(list(error.errors()))
            results[index] = {"index": index, "status": problem["status"], "problem": problem}
        except DomainError as error:
            results[index] = _failed(index, error)
    now = clock.now()
    outcomes = await db.run_async(
        ctx.tenant_id, lambda uow: bulk.process_batch(uow, ctx, valid, now)
    )
    for index, outcome in zip(positions, outcomes, strict=True):
        if outcome.error is not None:
            results[index] = _failed(index, outcome.error)
        else:
            results[index] = {
                "index": index,
                "status": 200,
                "replayed": outcome.replayed,
                "body": outcome.body,
            }
    accepted = sum(1 for r in results if r and r["status"] == 200)
    # A plain JSONResponse: FastAPI's encoder walks every nested value and is slow on 1,000 bodies.
    return JSONResponse(
        {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
    )


def _failed(index: int, error: DomainError) -> dict[str, Any]:
    body = problem_for(error)
    return {"index": index, "status": body["status"], "problem": body}
