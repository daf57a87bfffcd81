"""Shaping responses of writes that may be replays of an Idempotency-Key."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


def write_response(result: tuple[int, Any, bool]) -> JSONResponse:
    status, body, replayed = result
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(body, status_code=status, headers=headers)
