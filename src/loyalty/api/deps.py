"""Dependencies shared by the routers: database, clock, the authenticated principal."""

from __future__ import annotations

import base64
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from loyalty.domain.errors import InvalidCursor
from loyalty.services.context import Clock
from loyalty.services.tenants import Principal, Unauthenticated, authenticate
from loyalty.store.uow import Database

T = TypeVar("T")


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


DbDep = Annotated[Database, Depends(get_db)]
ClockDep = Annotated[Clock, Depends(get_clock)]


async def _principal(db: DbDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    return principal_for(db, authorization)


def request_principal(request: Request, scope: str) -> Principal:
    """The principal of a route that reads its own request (the hot paths), with ``scope``."""
    principal = principal_for(request.app.state.db, request.headers.get("authorization"))
    principal.require(scope)
    return principal


async def read_body(request: Request, adapter: TypeAdapter[T]) -> T:
    """The JSON body parsed and validated straight from bytes; errors as FastAPI reports a
    body's (a 422 problem whose fields are located in the body)."""
    try:
        return adapter.validate_json(await request.body())
    except ValidationError as error:
        located = [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
        raise RequestValidationError(located) from None


def component_schemas(adapter: TypeAdapter[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A body's JSON schema for a route's ``openapi_extra``, and the models it refers to, to
    merge into the document's components (see ``app._document_body_models``)."""
    schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
    return schema, schema.pop("$defs", {})


def principal_for(db: Database, authorization: str | None) -> Principal:
    """The principal an ``Authorization: Bearer <api key>`` header names."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthenticated("send 'Authorization: Bearer <api key>'")
    return authenticate(db, authorization[7:].strip())


def _scoped(scope: str):  # type: ignore[no-untyped-def]
    async def dependency(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        principal.require(scope)
        return principal

    return dependency


Reader = Annotated[Principal, Depends(_scoped("read"))]
Writer = Annotated[Principal, Depends(_scoped("write"))]
Admin = Annotated[Principal, Depends(_scoped("admin"))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def encode_cursor(last_id: int | None) -> str | None:
    return None if last_id is None else base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        version, value = base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)
        if version != "v1":
            raise ValueError(version)
        return int(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor(
            "the 'after' cursor is not one this API returned", field="after"
        ) from exc
