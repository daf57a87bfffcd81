"""RFC 9457 problem+json. The one place where domain errors become HTTP statuses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from loyalty.domain.errors import DomainError, ErrorCode
from loyalty.domain.events import EVENT_TYPES, MEMBERSHIP_EVENT_TYPES

STATUS: dict[ErrorCode, int] = {
    ErrorCode.MALFORMED_JSON: 400,
    ErrorCode.INVALID_CURSOR: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.SIGNING_KEYS_UNAVAILABLE: 503,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.TENANT_NOT_FOUND: 404,
    ErrorCode.MEMBER_NOT_FOUND: 404,
    ErrorCode.MEMBER_EXISTS: 409,
    ErrorCode.MEMBER_BLOCKED: 409,
    ErrorCode.EVENT_CONFLICT: 409,
    ErrorCode.REFUND_CONFLICT: 409,
    ErrorCode.INSUFFICIENT_POINTS: 409,
    ErrorCode.TRANSFERS_DISABLED: 409,
    ErrorCode.ORDER_NOT_PAID: 409,
    ErrorCode.BATCH_TOO_LARGE: 413,
    ErrorCode.MEMBERSHIP_TRANSITION: 409,
    ErrorCode.REWARD_NOT_FOUND: 404,
    ErrorCode.REDEMPTION_NOT_FOUND: 404,
    ErrorCode.COUPON_NOT_FOUND: 404,
    ErrorCode.COUPON_BATCH_NOT_FOUND: 404,
    ErrorCode.REWARD_EXISTS: 409,
    ErrorCode.COUPON_BATCH_EXISTS: 409,
    ErrorCode.REWARD_INACTIVE: 409,
    ErrorCode.REWARD_NOT_VISIBLE: 409,
    ErrorCode.REWARD_EXCLUSIVE: 409,
    ErrorCode.REWARD_OUT_OF_STOCK: 409,
    ErrorCode.REDEMPTION_LIMIT_REACHED: 409,
    ErrorCode.REDEMPTION_NOT_CANCELLABLE: 409,
    ErrorCode.STORE_CREDIT_UNAVAILABLE: 409,
    ErrorCode.COUPON_NOT_USABLE: 409,
    ErrorCode.FULFILMENT_CONFLICT: 409,
    ErrorCode.PROMOTION_NOT_FOUND: 404,
    ErrorCode.PROMOTION_EXISTS: 409,
    ErrorCode.CODE_TAKEN: 409,
    ErrorCode.CHECKOUT_CLOSED: 409,
    ErrorCode.POINTS_PAYMENT_DISABLED: 409,
    ErrorCode.RULE_NOT_FOUND: 404,
    ErrorCode.INSUFFICIENT_CREDIT: 409,
    ErrorCode.WALLET_REFERENCE_CONFLICT: 409,
    ErrorCode.IDEMPOTENCY_CONFLICT: 422,
    ErrorCode.SEGMENT_NOT_FOUND: 404,
    ErrorCode.SEGMENT_EXISTS: 409,
    ErrorCode.SEGMENT_READ_ONLY: 409,
    ErrorCode.SURVEY_NOT_FOUND: 404,
    ErrorCode.SURVEY_INACTIVE: 409,
    ErrorCode.ALREADY_ANSWERED: 409,
    ErrorCode.RESPONSE_CONFLICT: 409,
}

TITLES: dict[ErrorCode, str] = {
    ErrorCode.MALFORMED_JSON: "The request body is not valid JSON",
    ErrorCode.VALIDATION_FAILED: "The request is not valid",
    ErrorCode.UNAUTHENTICATED: "Authentication required",
    ErrorCode.INSUFFICIENT_POINTS: "Not enough points",
}

PROBLEM_JSON = "application/problem+json"


def status_for(code: ErrorCode) -> int:
    return STATUS.get(code, 422)


def problem(
    code: ErrorCode, detail: str, *, field: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{code.value}",
        "title": TITLES.get(code, code.value.replace("_", " ").capitalize()),
        "status": status_for(code),
        "code": code.value,
        "detail": detail,
    }
    if field:
        body["field"] = field
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_for(error: DomainError) -> dict[str, Any]:
    data = {k: v for k, v in error.data.items() if isinstance(v, str | int | float | bool)}
    return problem(error.code, error.detail, field=error.field, **data)


def respond(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    tags = (*EVENT_TYPES, *MEMBERSHIP_EVENT_TYPES, "action")  # what pydantic puts first
    if parts and parts[0] in tags:  # for a tagged union
        parts = parts[1:]
    return ".".join(parts) or "body"


def _field(error: dict[str, Any]) -> str:
    """Where in the request an error is; a missing or unknown union tag is the tag's field."""
    loc = tuple(error.get("loc", ()))
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc += (_discriminator(error),)
    return _location(loc)


def _discriminator(error: dict[str, Any]) -> str:
    name = str((error.get("ctx") or {}).get("discriminator", "type")).strip("'")
    return "type" if name.endswith("()") else name  # the event union tags by a function of type


def validation_problem(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn pydantic errors into one problem; a custom error type that names a code wins."""
    if any(e["type"] == "json_invalid" for e in errors):
        return problem(
            ErrorCode.MALFORMED_JSON, "the body could not be parsed as JSON", field="body"
        )
    first = errors[0]
    known = {c.value for c in ErrorCode}
    code = ErrorCode(first["type"]) if first["type"] in known else ErrorCode.VALIDATION_FAILED
    if first["type"] == "union_tag_invalid":
        code = ErrorCode.UNKNOWN_EVENT_TYPE
    field = _field(first)
    listed = [{"field": _field(e), "message": _message(e)} for e in errors]
    return problem(code, f"{field}: {_message(first)}", field=field, errors=listed)


def _message(error: dict[str, Any]) -> str:
    text = str(error["msg"])
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        raw = str((error.get("ctx") or {}).get("discriminator", ""))
        if raw.endswith("()"):
            text = text.replace(f" found using {raw}", "").replace(raw, "'type'")
    return text


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, error: DomainError) -> JSONResponse:
        headers = (
            {"WWW-Authenticate": "Bearer"} if error.code is ErrorCode.UNAUTHENTICATED else None
        )
        return respond(problem_for(error), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        return respond(validation_problem(list(error.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = ErrorCode.NOT_FOUND if error.status_code == 404 else ErrorCode.VALIDATION_FAILED
        body = problem(code, str(error.detail))
        body["status"] = error.status_code
        return respond(body)
