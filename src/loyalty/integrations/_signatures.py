"""HMAC-SHA256 checks over the raw body, against every configured secret (rotation)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from loyalty.integrations.errors import SignatureInvalid
from loyalty.integrations.results import Headers


def header(headers: Headers, name: str) -> str | None:
    """A header's stripped value by case-insensitive name; None when absent or blank."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None or not value.strip():
        return None
    return value.strip()


def first_header(headers: Headers, *names: str) -> str | None:
    return next((v for name in names if (v := header(headers, name)) is not None), None)


def digest(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def matches_any(given: bytes, message: bytes, secrets: Sequence[str]) -> bool:
    """Whether ``given`` is the HMAC of ``message`` under one of ``secrets``.

    Every secret is tried (no early exit) and each comparison is constant-time, so the answer
    takes as long whichever secret, if any, matched.
    """
    usable = [secret for secret in secrets if secret]
    if not usable:
        raise SignatureInvalid("no signing secret is configured for this connector")
    matched = False
    for secret in usable:
        matched |= hmac.compare_digest(digest(secret, message), given)
    return matched


def verify_base64(
    raw_body: bytes, signature: str | None, secrets: Sequence[str], name: str
) -> None:
    """Shopify and WooCommerce: the header is the base64 HMAC-SHA256 of the raw body."""
    if signature is None:
        raise SignatureInvalid(f"the {name} header is missing")
    try:
        given = base64.b64decode(signature, validate=True)
    except binascii.Error as error:
        raise SignatureInvalid(f"the {name} header is not base64") from error
    if not matches_any(given, raw_body, secrets):
        raise SignatureInvalid(f"the {name} header does not match the body")


def verify_hex(message: bytes, signature: str | None, secrets: Sequence[str], name: str) -> None:
    """Saleor and our own scheme: the signature is the hex HMAC-SHA256 of ``message``."""
    if signature is None:
        raise SignatureInvalid(f"the {name} header is missing")
    try:
        given = bytes.fromhex(signature)
    except ValueError as error:
        raise SignatureInvalid(f"the {name} header is not a hex digest") from error
    if not matches_any(given, message, secrets):
        raise SignatureInvalid(f"the {name} header does not match the body")
