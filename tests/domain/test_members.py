"""Member identity: contact data is normalised once, at the edge of the domain."""

from __future__ import annotations

import pytest

from loyalty.domain.errors import ErrorCode, ValidationFailed
from loyalty.domain.members import (
    SUPPORTED_LOCALES,
    MemberStatus,
    normalise_email,
    normalise_locale,
    normalise_phone,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("anna@example.com", "anna@example.com"),
        ("  Anna.Kowalska@Example.COM ", "anna.kowalska@example.com"),
        ("a+tag@sub.example.pl", "a+tag@sub.example.pl"),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_email_is_trimmed_and_lower_cased(raw: str | None, expected: str | None) -> None:
    # given / when / then
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["anna", "anna@", "@example.com", "anna@example", "an na@example.com", "a@b@c.com"],
)
def test_malformed_email_is_refused(raw: str) -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as caught:
        normalise_email(raw)
    assert caught.value.field == "email"
    assert caught.value.code is ErrorCode.VALIDATION_FAILED


def test_overlong_email_is_refused() -> None:
    # given an address longer than 320 characters
    raw = "a" * 310 + "@example.com"
    # when / then
    with pytest.raises(ValidationFailed):
        normalise_email(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+48 600 100 200", "+48600100200"),
        ("(022) 123-45-67", "0221234567"),
        ("600.100.200", "600100200"),
        (" +40-721-000-111 ", "+40721000111"),
        ("123456", "123456"),  # 6 digits, the shortest
        ("+123456789012345", "+123456789012345"),  # 15 digits, the longest (E.164)
        (None, None),
        ("", None),
        (" - ( ) ", None),
    ],
)
def test_phone_keeps_digits_and_a_leading_plus(raw: str | None, expected: str | None) -> None:
    # given / when / then
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["12345", "+1234567890123456", "600 100 20x", "48+600100200", "++48600100200", "+"],
)
def test_malformed_phone_is_refused(raw: str) -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as caught:
        normalise_phone(raw)
    assert caught.value.field == "phone"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pl", "pl"),
        ("en-GB", "en-GB"),
        ("en_GB", "en-GB"),
        ("ro", "ro"),
        ("fil", "fil"),
        ("zh-Hant", "zh-Hant"),
        (None, None),
    ],
)
def test_locale_accepts_language_and_region_and_uses_a_hyphen(
    raw: str | None, expected: str | None
) -> None:
    # given / when / then
    assert normalise_locale(raw) == expected


@pytest.mark.parametrize("raw", ["", "p", "polish", "EN", "en-", "en-GB-x", "en GB", "12"])
def test_malformed_locale_is_refused(raw: str) -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as caught:
        normalise_locale(raw)
    assert caught.value.field == "locale"


def test_every_supported_locale_is_a_valid_locale() -> None:
    # given / when / then
    assert all(normalise_locale(code) == code for code in SUPPORTED_LOCALES)


def test_member_statuses() -> None:
    # given / when / then
    assert {s.value for s in MemberStatus} == {"active", "blocked"}
