"""The events inbox: POST /v1/events and /v1/events/batch."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from loyalty.api.deps import (
    ClockDep,
    DbDep,
    Writer,
    component_schemas,
    read_body,
    request_principal,
)
from loyalty.api.problems import problem_for, validation_problem
from loyalty.api.routes._write import write_response
from loyalty.api.schemas import EventBatch, EventIn, to_domain
from loyalty.domain.errors import BatchTooLarge, DomainError
from loyalty.services import bulk
from loyalty.services import events as event_service
from loyalty.services.context import Clock
from loyalty.services.idempotency import run_write
from loyalty.store.uow import Database, UnitOfWork

router = APIRouter(prefix="/v1/events", tags=["events"])

MAX_BATCH = 1000
MAX_KEY = 200  # the Idempotency-Key header, as on every other write
JSON = "application/json"
_event_adapter: TypeAdapter[Any] = TypeAdapter(EventIn)
EVENT_SCHEMA, EVENT_MODELS = component_schemas(_event_adapter)


async def post_event(request: Request) -> Response:
    """Record one store event; a retry with the same id returns the first response."""
    # The API's hot path reads the request itself instead of through FastAPI's dependency and
    # body machinery (a third of the request's CPU): the same authentication, the same
    # validation (pydantic parses the body straight from bytes), the same problems.
    db: Database = request.app.state.db
    clock: Clock = request.app.state.clock
    principal = request_principal(request, "write")
    key = _idempotency_key(request)
    event = await read_body(request, _event_adapter)
    ctx = principal.context
    inbound = to_domain(event)
    now = clock.now()
    if key is None:
        result = await bulk.ingest_grouped(db, ctx, inbound, now)
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return Response(orjson.dumps(result.body), media_type=JSON, headers=headers)

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


class _OwnRequestRoute(APIRoute):
    """A route whose endpoint takes only the ``Request`` and returns a ``Response``: FastAPI's
    request handler around it (body parsing, dependency solving, response serialisation) has
    nothing to do for it but costs a tenth of the request, so the endpoint is the handler. The
    route is otherwise FastAPI's: the same OpenAPI entry, body limit and exception handling."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


router.add_api_route(
    "",
    post_event,
    methods=["POST"],
    route_class_override=_OwnRequestRoute,
    responses={409: {"description": "same event id, different body"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EVENT_SCHEMA}},
        },
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": MAX_KEY},
            }
        ],
    },
)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and len(key) > MAX_KEY:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("header", "Idempotency-Key"),
                    "msg": f"String should have at most {MAX_KEY} characters",
                    "input": key,
                    "ctx": {"max_length": MAX_KEY},
                }
            ]
        )
    return key


@router.post("/batch")
async def post_batch(batch: EventBatch, principal: Writer, db: DbDep, clock: ClockDep) -> Response:
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
    # orjson, not FastAPI's encoder, which walks every nested value of 1,000 bodies.
    body = {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
    return Response(orjson.dumps(body), media_type=JSON)


def _failed(index: int, error: DomainError) -> dict[str, Any]:
    body = problem_for(error)
    return {"index": index, "status": body["status"], "problem": body}
