"""Normalised contact data, so that one person's two spellings compare equal.

Used by the self-referral checks only: a false match rejects a genuine friend, a missed one
pays a cheat, so each rule here is one that mail providers, phone formats and postal
addresses really follow.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.members import normalise_email, normalise_phone

# Providers that ignore dots in the local part (Gmail does; the alias domain is the same box).
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}
# Providers that deliver "name+tag@" to "name@".
PLUS_ALIAS_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "fastmail.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "yandex.ru",
        "ya.ru",
    }
)


@dataclass(frozen=True, slots=True)
class EmailRules:
    """Which providers' dots and +tags do not change the mailbox. Configurable per programme."""

    dotless_domains: frozenset[str] = DOTLESS_DOMAINS
    plus_alias_domains: frozenset[str] = PLUS_ALIAS_DOMAINS


def mailbox(email: str | None, rules: EmailRules = EmailRules()) -> str | None:
    """The mailbox an address delivers to: lower-case everywhere; for the providers in
    ``rules``, without dots and without the ``+tag``. Not an address, None: nothing to match."""
    try:
        value = normalise_email(email)
    except ValidationFailed:
        return None
    if value is None:
        return None
    local, _, domain = value.rpartition("@")
    domain = DOMAIN_ALIASES.get(domain, domain)
    if domain in rules.plus_alias_domains:
        local = local.split("+", 1)[0]
    if domain in rules.dotless_domains:
        local = local.replace(".", "")
    return f"{local}@{domain}" if local else None


def phone_key(phone: str | None, digits: int) -> str | None:
    """The last ``digits`` digits of a phone number, so that "+48 600 100 200",
    "0048600100200" and "600-100-200" match; too short to compare, None."""
    try:
        value = normalise_phone(phone)
    except ValidationFailed:
        return None
    if value is None:
        return None
    only_digits = "".join(char for char in value if char.isdigit())
    return only_digits[-digits:] if len(only_digits) >= digits else None


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    line2: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""  # ISO 3166 alpha-2 preferred


_WORDS = {
    "street": "st",
    "str": "st",
    "strasse": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "boulevard": "blvd",
    "lane": "ln",
    "apartment": "apt",
    "flat": "apt",
    "suite": "ste",
    "ulica": "ul",
    "aleja": "al",
    "aleje": "al",
    "strada": "str",
    "bulevardul": "bd",
    "bulevard": "bd",
    "ulitsa": "ul",
    "улица": "ул",
    "проспект": "пр",
}
_SPECIAL = str.maketrans({"ł": "l", "ß": "ss", "ø": "o", "đ": "d", "æ": "ae", "œ": "oe"})
_NOT_WORD = re.compile(r"[^\w]+")


def address_key(address: Address) -> str | None:
    """The address as one comparable string: case, accents, punctuation, spacing and common
    street-word abbreviations do not matter; the postal code stands for the city when given.
    No street line, None."""
    street = _tokens(f"{address.line1} {address.line2}")
    if not street:
        return None
    postal = "".join(char for char in address.postal_code.upper() if char.isalnum())
    place = postal or " ".join(_tokens(address.city))
    return f"{address.country.strip().lower()}|{place}|{' '.join(street)}"


def _tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text.lower().translate(_SPECIAL))
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    plain = plain.replace("_", " ")
    return [_WORDS.get(word, word) for word in _NOT_WORD.split(plain) if word]
