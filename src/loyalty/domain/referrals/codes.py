"""Member referral codes and links: short, readable, easy to say to a friend.

A referral code is public by design (members share it), so it needs to be unique, not
secret: the services retry on a collision with the unique index. It is the member's first
name (transliterated to A-Z, at most 8 letters) when there is one, then random characters
from an unambiguous alphabet: ``ANNA-7K3PQX``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read aloud or typed from a screenshot stays the same.
ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
NAME_LETTERS = 8
DEFAULT_LENGTH = 6  # ~28 bits: collisions stay rare well past a million members
WELCOME_LENGTH = 16  # ~74 bits: a welcome coupon is a secret, not guessable


class RandomSource(Protocol):
    """``secrets.SystemRandom()`` in production; a seeded ``random.Random`` in tests."""

    def choice(self, seq: Sequence[str]) -> str: ...


_CYRILLIC_LETTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ"
_CYRILLIC_SPELLING = (
    "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya i yi ye g"
)
_CYRILLIC = dict(zip(_CYRILLIC_LETTERS, _CYRILLIC_SPELLING.split(), strict=True))
_LATIN_EXTRA = {"ł": "l", "ß": "ss", "ø": "o", "đ": "d", "æ": "ae", "œ": "oe"}


def new_referral_code(
    random: RandomSource, *, name: str | None = None, length: int = DEFAULT_LENGTH
) -> str:
    """``NAME-XXXXXX`` or, without a usable name, ``XXXXXX``."""
    if not 4 <= length <= 16:
        raise ValueError("length must be between 4 and 16")
    tail = "".join(random.choice(ALPHABET) for _ in range(length))
    prefix = name_prefix(name)
    return f"{prefix}-{tail}" if prefix else tail


def new_welcome_code(random: RandomSource, prefix: str = "WELCOME") -> str:
    """A single-use coupon code for the friend: ``WELCOME-XXXX-XXXX-XXXX-XXXX``."""
    tail = "".join(random.choice(ALPHABET) for _ in range(WELCOME_LENGTH))
    groups = "-".join(tail[i : i + 4] for i in range(0, WELCOME_LENGTH, 4))
    return f"{prefix}-{groups}" if prefix else groups


def normalise_code(code: str) -> str:
    """How codes are stored and looked up: upper-case, without spaces around."""
    return code.strip().upper()


def name_prefix(name: str | None) -> str:
    """The first word of ``name`` in plain A-Z, upper-case, at most ``NAME_LETTERS`` long."""
    if not name or not name.split():
        return ""
    word = name.split()[0].lower()
    spelled = "".join(_CYRILLIC.get(char, _LATIN_EXTRA.get(char, char)) for char in word)
    folded = unicodedata.normalize("NFKD", spelled)
    letters = "".join(char for char in folded if "a" <= char <= "z")
    return letters[:NAME_LETTERS].upper()


def referral_link(base_url: str, code: str, param: str = "ref") -> str:
    """The store's landing URL with the code as a query parameter (existing ones kept)."""
    parts = urlsplit(base_url)
    query = f"{parts.query}&" if parts.query else ""
    query += urlencode({param: code})
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))
