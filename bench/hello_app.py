"""The ceiling: a hello-world FastAPI app served exactly like the product (one uvicorn worker)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/v1/events")
async def hello(request: Request) -> dict[str, Any]:
    await request.body()
    return {"ok": True}
