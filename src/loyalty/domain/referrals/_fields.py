"""Typed reading of referral settings from JSON-like dicts; every error names its field."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from loyalty.domain.referrals.errors import InvalidReferralProgram


@contextmanager
def at(path: str) -> Iterator[None]:
    """Prefix the field of an ``InvalidReferralProgram`` raised inside with ``path``."""
    try:
        yield
    except InvalidReferralProgram as exc:
        field = f"{path}.{exc.field}" if exc.field else path
        raise InvalidReferralProgram(exc.detail, field=field) from None


class Fields:
    """One JSON object being read; ``done()`` refuses keys nobody asked for (typos)."""

    def __init__(self, data: object) -> None:
        if not isinstance(data, Mapping):
            raise InvalidReferralProgram("must be an object")
        self._data: Mapping[str, Any] = data
        self._read: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self._data

    def get(self, key: str) -> Any:
        self._read.add(key)
        return self._data.get(key)

    def opt_text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise InvalidReferralProgram("must be a non-empty string", field=key)
        return value.strip()

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise InvalidReferralProgram("is required", field=key)
        return value

    def opt_int(self, key: str) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidReferralProgram("must be an integer", field=key)
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.opt_int(key)
        return default if value is None else value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidReferralProgram("must be true or false", field=key)
        return value

    def objects(self, key: str) -> list[object]:
        value = self.get(key)
        if not isinstance(value, list):
            raise InvalidReferralProgram("must be a list", field=key)
        return list(value)

    def opt_texts(self, key: str) -> frozenset[str] | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise InvalidReferralProgram("must be a list of non-empty strings", field=key)
        return frozenset(item.strip() for item in value)

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise InvalidReferralProgram("is not a known setting", field=unknown[0])
