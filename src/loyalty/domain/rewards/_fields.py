"""Typed reading of JSON-like dicts, with the field path in every error.

Shared by rewards and coupon batches; each passes the error class its faults are reported as.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.domain.errors import DomainError


@contextmanager
def at(path: str, error: type[DomainError]) -> Iterator[None]:
    """Prefix the field of any ``error`` raised inside with ``path``."""
    try:
        yield
    except error as exc:
        field = f"{path}.{exc.field}" if exc.field else path
        raise type(exc)(exc.detail, field=field, **exc.data) from None


class Fields:
    """One JSON object being read; ``done()`` refuses keys nobody asked for (typos)."""

    def __init__(self, data: object, error: type[DomainError]) -> None:
        if not isinstance(data, Mapping):
            raise error("must be an object")
        self._data: Mapping[str, Any] = data
        self._read: set[str] = set()
        self.error = error

    def get(self, key: str) -> Any:
        self._read.add(key)
        return self._data.get(key)

    def has(self, key: str) -> bool:
        """Whether the key is present at all (even as null)."""
        self._read.add(key)
        return key in self._data

    def fail(self, detail: str, key: str) -> DomainError:
        return self.error(detail, field=key)

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise self.fail("is required", key)
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail("must be a non-empty string", key)
        return value.strip()

    def any_text(self, key: str, default: str = "") -> str:
        """A string that may be empty (a description)."""
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail("must be a string", key)
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.opt_int(key)
        return default if value is None else value

    def required_int(self, key: str) -> int:
        value = self.opt_int(key)
        if value is None:
            raise self.fail("is required", key)
        return value

    def opt_int(self, key: str) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail("must be an integer", key)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail("must be true or false", key)
        return value

    def decimal(self, key: str) -> Decimal:
        value = self.opt_decimal(key)
        if value is None:
            raise self.fail("is required", key)
        return value

    def opt_decimal(self, key: str) -> Decimal | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise self.fail("must be a decimal number", key)
        try:
            number = Decimal(str(value))  # a JSON float by its shortest text, never its binary
        except InvalidOperation:
            raise self.fail("must be a decimal number", key) from None
        if not number.is_finite():
            raise self.fail("must be a finite number", key)
        return number

    def opt_texts(self, key: str) -> frozenset[str] | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str) and item.strip() for item in value
        ):
            raise self.fail("must be a list of non-empty strings", key)
        return frozenset(item.strip() for item in value)

    def opt_datetime(self, key: str) -> datetime | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise self.fail("must be an ISO 8601 date-time", key) from None
        if not isinstance(value, datetime):
            raise self.fail("must be an ISO 8601 date-time", key)
        if value.tzinfo is None or value.utcoffset() is None:
            raise self.fail("must include a time zone offset", key)
        return value

    def objects(self, key: str) -> list[object]:
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise self.fail("must be a list", key)
        return list(value)

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise self.fail(f"unknown field '{unknown[0]}'", unknown[0])


def decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def datetime_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def sorted_list(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)
