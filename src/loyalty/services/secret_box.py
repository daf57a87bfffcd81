"""Secrets we must be able to read back (store webhook secrets for HMAC checks) are kept
encrypted at rest with a key derived from ``LOYALTY_SECRET_KEY`` (Fernet: AES-128-CBC + HMAC)."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, server_key: str) -> None:
        digest = hashlib.sha256(("loyalty-secret-box:" + server_key).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, secrets: list[str]) -> str:
        return self._fernet.encrypt(json.dumps(secrets).encode()).decode()

    def open(self, sealed: str) -> list[str]:
        try:
            return list(json.loads(self._fernet.decrypt(sealed.encode())))
        except InvalidToken as error:
            raise RuntimeError(
                "stored secrets cannot be read: was LOYALTY_SECRET_KEY changed?"
            ) from error
