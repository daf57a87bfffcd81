"""Typed reading of tier and plan data from JSON-like dicts, with the field path in every error."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.domain.tiers.errors import InvalidTierSettings

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


@contextmanager
def at(path: str) -> Iterator[None]:
    """Prefix the field of any ``InvalidTierSettings`` raised inside with ``path``."""
    try:
        yield
    except InvalidTierSettings as exc:
        field = f"{path}.{exc.field}" if exc.field else path
        raise InvalidTierSettings(exc.detail, field=field, **exc.data) from None


def check_id(value: str, field: str) -> None:
    if not ID.match(value):
        raise InvalidTierSettings("must be 1-64 letters, digits or _ . : -", field=field)


def check_range(value: int, low: int, high: int, field: str) -> None:
    if not low <= value <= high:
        raise InvalidTierSettings(f"must be {low}..{high}", field=field)


class Fields:
    """One JSON object being read; ``done()`` refuses keys nobody asked for (typos)."""

    def __init__(self, data: object) -> None:
        if not isinstance(data, Mapping):
            raise InvalidTierSettings("must be an object")
        self._data: Mapping[str, Any] = data
        self._read: set[str] = set()

    def get(self, key: str) -> Any:
        self._read.add(key)
        return self._data.get(key)

    def has(self, key: str) -> bool:
        return key in self._data

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise InvalidTierSettings("is required", field=key)
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise InvalidTierSettings("must be a non-empty string", field=key)
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.opt_int(key)
        return default if value is None else value

    def opt_int(self, key: str) -> int | None:
        value = self.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidTierSettings("must be an integer", field=key)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidTierSettings("must be true or false", field=key)
        return value

    def decimal(self, key: str, default: Decimal | None = None) -> Decimal:
        value = self.get(key)
        if value is None:
            if default is None:
                raise InvalidTierSettings("is required", field=key)
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidTierSettings(
                "must be a decimal number (a string or an integer)", field=key
            )
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise InvalidTierSettings("must be a decimal number", field=key) from None
        if not number.is_finite():
            raise InvalidTierSettings("must be a finite number", field=key)
        return number

    def items(self, key: str) -> list[object]:
        value = self.get(key)
        if not isinstance(value, list | tuple):
            raise InvalidTierSettings("must be a list", field=key)
        return list(value)

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise InvalidTierSettings(f"unknown field '{unknown[0]}'", field=unknown[0])
