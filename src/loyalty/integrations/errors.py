"""What an adapter raises: a bad signature (answer 401) or a payload it cannot read."""

from __future__ import annotations

from typing import ClassVar

from loyalty.domain.errors import ErrorCode, ValidationFailed


class SignatureInvalid(Exception):
    """The delivery's signature is missing or does not match any configured secret.

    Not a ``DomainError``: nothing about the payload can be trusted, so the endpoint answers
    401 with ``code`` and records nothing.
    """

    code: ClassVar[str] = "invalid_signature"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class KeysUnavailable(Exception):
    """The keys a signature must be checked with could not be fetched (Saleor's JWKS).

    The delivery is neither accepted nor called forged: the endpoint answers 503 so the store
    retries later, and records nothing.
    """

    code: ClassVar[str] = "signing_keys_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class MalformedPayload(ValidationFailed):
    """A signed delivery that does not have the shape its platform documents."""


class MalformedJson(MalformedPayload):
    code = ErrorCode.MALFORMED_JSON
