"""Member identity: normalised contact data and statuses."""

from __future__ import annotations

import re
from enum import StrEnum

from loyalty.domain.errors import ValidationFailed

SUPPORTED_LOCALES = ("en", "pl", "ro", "ru")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCALE = re.compile(r"^[a-z]{2,3}([-_][A-Za-z]{2,4})?$")
_PHONE_NOISE = re.compile(r"[\s\-().]")


class MemberStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


def normalise_email(email: str | None) -> str | None:
    """Trim and lower-case; the whole address, since stores treat it case-insensitively."""
    if email is None:
        return None
    value = email.strip().lower()
    if not value:
        return None
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValidationFailed(f"'{email}' is not an email address", field="email")
    return value


def normalise_phone(phone: str | None) -> str | None:
    """Strip spacing and punctuation; keep a leading '+'; 6..15 digits (E.164 length)."""
    if phone is None:
        return None
    value = _PHONE_NOISE.sub("", phone.strip())
    if not value:
        return None
    digits = value[1:] if value.startswith("+") else value
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise ValidationFailed(f"'{phone}' is not a phone number", field="phone")
    return value


def normalise_locale(locale: str | None) -> str | None:
    if locale is None:
        return None
    if not _LOCALE.match(locale):
        raise ValidationFailed(
            f"'{locale}' is not a locale such as 'pl' or 'en-GB'", field="locale"
        )
    return locale.replace("_", "-")
