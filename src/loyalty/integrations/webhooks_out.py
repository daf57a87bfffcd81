"""Sending a webhook: the JSON body, its signature headers, one HTTP POST.

Receivers verify ``Loyalty-Signature: t=<unix seconds>,v1=<hex>`` where the hex is
HMAC-SHA256(secret, f"{t}.{raw body}"), reject timestamps too far from their clock, and
de-duplicate by ``Loyalty-Event-Id`` (a delivery may arrive more than once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass(frozen=True, slots=True)
class Attempt:
    status_code: int | None
    error: str | None


def post(
    client: httpx.Client, url: str, secret: str, body: dict[str, Any], timestamp: int
) -> Attempt:
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "loyalty-engine-webhooks/1",
        "Loyalty-Event-Id": str(body["id"]),
        "Loyalty-Event-Type": str(body["type"]),
        "Loyalty-Timestamp": str(timestamp),
        "Loyalty-Signature": signature(secret, timestamp, raw),
    }
    try:
        response = client.post(url, content=raw, headers=headers)
    except httpx.TimeoutException:
        return Attempt(None, "timed out")
    except httpx.HTTPError as error:
        return Attempt(None, f"{type(error).__name__}: {error}"[:500])
    return Attempt(
        response.status_code, None if response.is_success else f"HTTP {response.status_code}"
    )
