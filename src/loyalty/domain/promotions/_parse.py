"""Typed reading of promotion data from JSON-like dicts, with the field path in every error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.domain.money import quantum
from loyalty.domain.promotions.reasons import InvalidPromotion


@contextmanager
def at(path: str) -> Iterator[None]:
    """Prefix the field of any ``InvalidPromotion`` raised inside with ``path``."""
    try:
        yield
    except InvalidPromotion as exc:
        field = f"{path}.{exc.field}" if exc.field else path
        raise InvalidPromotion(exc.detail, field=field) from None


class Fields:
    """One JSON object being read; ``done()`` refuses keys nobody asked for (typos)."""

    def __init__(self, data: object) -> None:
        if not isinstance(data, Mapping):
            raise InvalidPromotion("must be an object")
        self._data: Mapping[str, Any] = data
        self._read: set[str] = set()

    def _get(self, key: str) -> Any:
        self._read.add(key)
        return self._data.get(key)

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise InvalidPromotion("is required", field=key)
        return value

    def opt_text(self, key: str) -> str | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise InvalidPromotion("must be a non-empty string", field=key)
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.opt_int(key)
        return default if value is None else value

    def opt_int(self, key: str) -> int | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidPromotion("must be an integer", field=key)
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidPromotion("must be true or false", field=key)
        return value

    def decimal(self, key: str, default: Decimal) -> Decimal:
        value = self.opt_decimal(key)
        return default if value is None else value

    def opt_decimal(self, key: str) -> Decimal | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise InvalidPromotion("must be a decimal number", field=key)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise InvalidPromotion("must be a decimal number", field=key) from None
        if not number.is_finite():
            raise InvalidPromotion("must be a finite number", field=key)
        return number

    def texts(self, key: str) -> frozenset[str]:
        value = self.opt_texts(key)
        return frozenset() if value is None else value

    def opt_texts(self, key: str) -> frozenset[str] | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not all(
            isinstance(item, str) and item for item in value
        ):
            raise InvalidPromotion("must be a list of non-empty strings", field=key)
        return frozenset(value)

    def opt_datetime(self, key: str) -> datetime | None:
        value = self._get(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise InvalidPromotion("must be an ISO 8601 date-time", field=key)
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise InvalidPromotion("must be an ISO 8601 date-time", field=key) from None

    def objects(self, key: str) -> list[object]:
        value = self._get(key)
        if not isinstance(value, list | tuple):
            raise InvalidPromotion("must be a list", field=key)
        return list(value)

    def opt_object(self, key: str) -> object | None:
        value: object | None = self._get(key)
        return value

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise InvalidPromotion(f"unknown field '{unknown[0]}'", field=unknown[0])


def check_amount(value: Decimal | None, currency: str | None, field: str) -> None:
    """A money amount must be >= 0 and fit the currency's minor units."""
    if value is None:
        return
    if value < 0:
        raise InvalidPromotion("must not be negative", field=field)
    if currency is not None and value != value.quantize(quantum(currency)):
        raise InvalidPromotion(f"has more decimals than {currency} allows", field=field)


def check_percent(value: Decimal, field: str) -> None:
    if not 0 < value <= 100:
        raise InvalidPromotion("must be more than 0 and at most 100", field=field)


def decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def sorted_list(values: frozenset[str] | None) -> list[str] | None:
    return None if values is None else sorted(values)
