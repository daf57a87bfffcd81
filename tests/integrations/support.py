"""Fixtures as raw bytes, signed the way each platform signs them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "shpss_current_4f9c2a"
OLD_SECRET = "shpss_previous_77d01b"


def raw(name: str) -> bytes:
    """A fixture's exact bytes: what the store put on the wire."""
    return (FIXTURES / name).read_bytes()


def edited(name: str, **changes: Any) -> bytes:
    """A fixture re-serialised with top-level fields changed (ids stay exact ints)."""
    data = json.loads(raw(name))
    data.update(changes)
    return json.dumps(data).encode()


def base64_hmac(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def hex_hmac(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
