"""Typed reading of rule data from JSON-like dicts, with the field path in every error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.domain.errors import InvalidRule


@contextmanager
def at(path: str) -> Iterator[None]:
    """Prefix the field of any ``InvalidRule`` raised inside with ``path``."""
    try:
        yield
    except InvalidRule as exc:
        field = f"{path}.{exc.field}" if exc.field else path
        raise InvalidRule(exc.detail, field=field, **exc.data) from None


class Fields:
    """One JSON object being read; ``done()`` refuses keys nobody asked for (typos)."""

    def __init__(self, data: object) -> None:
        if not isinstance(data, Mapping):
            raise InvalidRule("must be an object")
        self._data: Mapping[str, Any] = data
        self._read: set[str] = set()

    def get(self, key: str) -> Any:
        self._read.add(key)
        return self._data.get(key)

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise InvalidRule("is required", field=key)
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise InvalidRule("must be a non-empty string", field=key)
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.opt_int(key)
        return default if value is None else value

    def opt_int(self, key: str) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRule("must be an integer", field=key)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidRule("must be true or false", field=key)
        return value

    def opt_decimal(self, key: str) -> Decimal | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise InvalidRule("must be a decimal number", field=key)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise InvalidRule("must be a decimal number", field=key) from None
        if not number.is_finite():
            raise InvalidRule("must be a finite number", field=key)
        return number

    def texts(self, key: str) -> frozenset[str]:
        value = self.get(key)
        if value is None:
            return frozenset()
        if not isinstance(value, list | tuple):
            raise InvalidRule("must be a list of non-empty strings", field=key)
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise InvalidRule("must be a non-empty string", field=f"{key}[{index}]")
        return frozenset(value)

    def opt_datetime(self, key: str) -> datetime | None:
        value = self.get(key)
        if value is None or isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise InvalidRule("must be an ISO 8601 date or date-time", field=key)
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise InvalidRule("must be an ISO 8601 date or date-time", field=key) from None

    def items(self, key: str) -> list[object]:
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise InvalidRule("must be a list", field=key)
        return list(value)

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise InvalidRule(f"unknown field '{unknown[0]}'", field=unknown[0])


def decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
