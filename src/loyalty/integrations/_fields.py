"""Reading store JSON: numbers stay exact, and every error names the field it is about."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.integrations.errors import MalformedJson, MalformedPayload

MAX_ID_LENGTH = 200


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def parse_json(raw_body: bytes) -> Any:
    """JSON with decimals as ``Decimal`` and integers as ``int``: never a float.

    Shopify's 64-bit order ids (e.g. 820982911946154508) lose digits as floats, and money as a
    float is never exact; ``parse_float=Decimal`` keeps both as the store wrote them.
    """
    try:
        return json.loads(raw_body, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedJson(f"the body is not valid JSON: {error}") from error


def decimal_of(value: Any, path: str) -> Decimal:
    """A money amount from a decimal string ("19.99") or a JSON number; never from a float."""
    if isinstance(value, bool) or value is None:
        raise _error(path, "must be a decimal amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation as error:
            raise _error(path, f"'{value}' is not a decimal amount") from error
    else:
        raise _error(path, "must be a decimal string or number")
    if not amount.is_finite():
        raise _error(path, "must be a finite amount")
    return amount


def id_of(value: Any, path: str) -> str:
    """An id from an integer (kept exact: 64-bit ids are common) or a non-empty string."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
    else:
        raise _error(path, "must be an integer or a non-empty string id")
    if len(text) > MAX_ID_LENGTH:
        raise _error(path, f"is longer than {MAX_ID_LENGTH} characters")
    return text


def timestamp_of(value: Any, path: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 timestamp; one without an offset is UTC only where the store documents so."""
    if not isinstance(value, str):
        raise _error(path, "must be an ISO 8601 timestamp")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise _error(path, f"'{value}' is not an ISO 8601 timestamp") from error
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise _error(path, "needs a time zone offset, e.g. 'Z'")
        moment = moment.replace(tzinfo=UTC)
    return moment


def _error(path: str, problem: str) -> MalformedPayload:
    return MalformedPayload(f"{path or 'the body'} {problem}", field=path or None)


class JsonObject:
    """A JSON object and where it was found, so a missing or wrong field is named exactly."""

    __slots__ = ("data", "path")

    def __init__(self, data: Any, path: str = "") -> None:
        if not isinstance(data, dict):
            raise _error(path, "must be a JSON object")
        self.data: dict[str, Any] = data
        self.path = path

    def at(self, key: str) -> str:
        """The path of ``key`` inside this object, as error messages name it."""
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def _required(self, key: str) -> Any:
        value = self.data.get(key)
        if value is None:
            raise _error(self.at(key), "is required")
        return value

    def obj(self, key: str) -> JsonObject:
        return JsonObject(self._required(key), self.at(key))

    def opt_obj(self, key: str) -> JsonObject | None:
        return self.obj(key) if self.has(key) else None

    def objs(self, key: str) -> list[JsonObject]:
        """The objects of a list; a missing or null list is empty."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _error(self.at(key), "must be a list")
        return [JsonObject(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]

    def text(self, key: str) -> str:
        value = self._required(key)
        if not isinstance(value, str) or not value.strip():
            raise _error(self.at(key), "must be a non-empty string")
        return value.strip()

    def opt_text(self, key: str) -> str | None:
        """A string, or None when missing, null or blank."""
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise _error(self.at(key), "must be a string")
        return value.strip() or None

    def ident(self, key: str) -> str:
        return id_of(self._required(key), self.at(key))

    def opt_ident(self, key: str) -> str | None:
        return self.ident(key) if self.has(key) else None

    def money(self, key: str) -> Decimal:
        return decimal_of(self._required(key), self.at(key))

    def opt_money(self, key: str) -> Decimal | None:
        return self.money(key) if self.has(key) else None

    def integer(self, key: str) -> int:
        value = self._required(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _error(self.at(key), "must be an integer")
        return value

    def flag(self, key: str) -> bool:
        """True only for JSON ``true``."""
        return self.data.get(key) is True

    def timestamp(self, key: str, *, naive_is_utc: bool = False) -> datetime:
        return timestamp_of(self._required(key), self.at(key), naive_is_utc=naive_is_utc)

    def opt_timestamp(self, key: str, *, naive_is_utc: bool = False) -> datetime | None:
        if not self.has(key):
            return None
        return self.timestamp(key, naive_is_utc=naive_is_utc)

    def first_timestamp(self, *keys: str, naive_is_utc: bool = False) -> datetime:
        """The first of ``keys`` that is present, e.g. ``updated_at`` then ``created_at``."""
        for key in keys:
            if self.has(key):
                return self.timestamp(key, naive_is_utc=naive_is_utc)
        raise _error(self.at(keys[0]), "is required")
