"""Segments: definitions, members (paged or CSV), static lists, refresh on demand."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

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
from loyalty.api.schemas import ExternalId, Strict, canonical_hash
from loyalty.services import segments as service
from loyalty.services.idempotency import run_write
from loyalty.services.segment_refresh import (
    apply_targets,
    plan,
    refresh_segment,
    refresh_segments,
)
from loyalty.store.uow import Database

router = APIRouter(prefix="/v1", tags=["segments"])

Limit = Annotated[int, Query(ge=1, le=500)]
_CSV_CHUNK = 1_000
_CSV_COLUMNS = ("external_id", "email", "first_name", "last_name", "status", "entered_at")


class SegmentCreate(Strict):
    id: str | None = Field(None, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)
    kind: Literal["rule", "static"]
    rule: str | None = Field(None, max_length=4000)


class SegmentUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)
    rule: str | None = Field(None, max_length=4000)


class MemberList(Strict):
    members: list[ExternalId] = Field(min_length=1, max_length=1000)


@router.post("/segments", status_code=201)
def create_segment(
    body: SegmentCreate, principal: Writer, db: DbDep, clock: ClockDep, key: IdempotencyKey = None
) -> JSONResponse:
    """A rule segment is materialised at once, so its members can be read straight away."""
    now = clock.now()
    tenant_id = principal.context.tenant_id
    definition = service.define_segment(body.model_dump())
    planned = plan(db, tenant_id, definition, now)

    def work(uow: Any) -> tuple[int, Any]:
        segment = service.add_segment(uow, definition, now)
        members = apply_targets(uow, segment, planned, now).members
        return 201, service.view(segment, members)

    result = run_write(
        db,
        tenant_id,
        work,
        key=key,
        request_hash=canonical_hash(["POST /v1/segments", body.model_dump(mode="json")]),
        now=now,
    )
    return write_response(result)


@router.get("/segments")
def list_segments(principal: Reader, db: DbDep) -> dict[str, Any]:
    """Stored segments first, then the built-in RFM and lifecycle ones."""
    with db.read(principal.context.tenant_id) as uow:
        return {"items": service.list_segments(uow)}


@router.post("/segments/refresh")
async def refresh_all(principal: Admin, db: DbDep, clock: ClockDep) -> dict[str, Any]:
    """Materialise every rule and built-in segment now."""
    reports = await run_in_threadpool(
        refresh_segments, db, principal.context.tenant_id, clock.now()
    )
    return {"items": [report.to_dict() for report in reports]}


@router.get("/segments/{segment_id}")
def get_segment(segment_id: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return service.get_segment(uow, segment_id)


@router.patch("/segments/{segment_id}")
def update_segment(
    segment_id: str, body: SegmentUpdate, principal: Writer, db: DbDep, clock: ClockDep
) -> dict[str, Any]:
    """A new rule is materialised at once (members who no longer match leave)."""
    now = clock.now()
    data = body.model_dump(exclude_unset=True)
    tenant_id = principal.context.tenant_id
    _, rule_changed = db.run(
        tenant_id, lambda uow: service.update_segment(uow, segment_id, data, now)
    )
    if rule_changed:
        refresh_segment(db, tenant_id, segment_id, now)
    with db.read(tenant_id) as uow:
        return service.get_segment(uow, segment_id)


@router.delete("/segments/{segment_id}", status_code=204)
def delete_segment(segment_id: str, principal: Writer, db: DbDep, clock: ClockDep) -> Response:
    now = clock.now()
    db.run(principal.context.tenant_id, lambda uow: service.delete_segment(uow, segment_id, now))
    return Response(status_code=204)


@router.post("/segments/{segment_id}/refresh")
async def refresh_one(
    segment_id: str, principal: Admin, db: DbDep, clock: ClockDep
) -> dict[str, Any]:
    report = await run_in_threadpool(
        refresh_segment, db, principal.context.tenant_id, segment_id, clock.now()
    )
    return report.to_dict()


@router.get("/segments/{segment_id}/members", response_model=None)
def segment_members(
    segment_id: str,
    principal: Reader,
    db: DbDep,
    after: str | None = None,
    limit: Limit = 50,
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | StreamingResponse:
    """Members by join order of their member id; ``format=csv`` exports all of them."""
    tenant_id = principal.context.tenant_id
    with db.read(tenant_id) as uow:
        items, last = service.members_page(uow, segment_id, decode_cursor(after), limit)
    if format == "csv":
        filename = segment_id.replace(":", "-")
        return StreamingResponse(
            _csv_rows(db, tenant_id, segment_id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="segment-{filename}.csv"'},
        )
    return {"items": items, "next": encode_cursor(last)}


@router.get("/segments/{segment_id}/history")
def segment_history(
    segment_id: str, principal: Reader, db: DbDep, after: str | None = None, limit: Limit = 50
) -> dict[str, Any]:
    """Who entered and left the segment, and when, oldest first."""
    with db.read(principal.context.tenant_id) as uow:
        items, last = service.history_page(uow, segment_id, decode_cursor(after), limit)
    return {"items": items, "next": encode_cursor(last)}


def _csv_rows(db: Database, tenant_id: int, segment_id: str) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_CSV_COLUMNS)
    after: int | None = None
    while True:
        with db.read(tenant_id) as uow:
            items, after = service.members_page(uow, segment_id, after, _CSV_CHUNK)
        writer.writerows([_cell(item[c]) for c in _CSV_COLUMNS] for item in items)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if after is None:
            return


def _cell(value: str | None) -> str:
    """Text a spreadsheet would run as a formula is quoted (CSV injection)."""
    if not value:
        return ""
    return "'" + value if value[0] in "=+-@\t\r" else value


def _change_members(
    segment_id: str,
    body: MemberList,
    principal: Any,
    db: Database,
    clock: Any,
    key: str | None,
    *,
    add: bool,
) -> JSONResponse:
    now = clock.now()
    result = run_write(
        db,
        principal.context.tenant_id,
        lambda uow: (
            200,
            service.change_members(uow, segment_id, body.members, now, add=add),
        ),
        key=key,
        request_hash=canonical_hash(["members", segment_id, add, body.members]),
        now=now,
    )
    return write_response(result)


@router.post("/segments/{segment_id}/members")
def add_members(
    segment_id: str,
    body: MemberList,
    principal: Writer,
    db: DbDep,
    clock: ClockDep,
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Put members into a static segment (those already in stay, unchanged)."""
    return _change_members(segment_id, body, principal, db, clock, key, add=True)


@router.delete("/segments/{segment_id}/members")
def remove_members(
    segment_id: str,
    principal: Writer,
    db: DbDep,
    clock: ClockDep,
    body: Annotated[MemberList, Body()],
    key: IdempotencyKey = None,
) -> JSONResponse:
    """Take members out of a static segment (the body lists them)."""
    return _change_members(segment_id, body, principal, db, clock, key, add=False)


@router.get("/members/{external_id}/segments")
def member_segments(external_id: str, principal: Reader, db: DbDep) -> dict[str, Any]:
    with db.read(principal.context.tenant_id) as uow:
        return service.member_segments_view(uow, external_id)
