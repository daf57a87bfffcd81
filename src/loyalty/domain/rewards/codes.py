"""Coupon codes: unique, hard to guess, easy to read aloud and type.

Random characters come from a 32-symbol alphabet without 0, O, 1 and I, so each carries
exactly 5 bits and no character can be mistaken for another. A pattern marks random
positions with ``#``; everything else is kept as written (``"SPRING-####-####-####"``), so
a merchant's prefix may use any letters. A pattern must carry at least 60 bits (12 random
characters). There is no checksum: a code is looked up, never validated offline.

The randomness is injected: pass the ``secrets`` module in production and a seeded
``random.Random`` in tests.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Protocol

from loyalty.domain.rewards.errors import CodeSpaceExhausted, InvalidCodePattern

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
AMBIGUOUS = frozenset("0O1I")
BITS_PER_CHARACTER = 5  # log2(len(ALPHABET))
MIN_ENTROPY_BITS = 60
PLACEHOLDER = "#"
MAX_PATTERN_LENGTH = 64
DEFAULT_GROUPS = 3  # of 4 random characters: 60 bits

_PATTERN = re.compile(r"^[A-Z0-9#_-]+$")


class RandomSource(Protocol):
    """What code generation needs from a random source; the ``secrets`` module fits."""

    def choice(self, seq: Sequence[str], /) -> str: ...


@dataclass(frozen=True, slots=True)
class CodePattern:
    """Where a code's random characters go: each ``#`` is one, anything else is literal.

    Upper-case letters, digits, ``-`` and ``_`` only, so codes survive URLs, CSV and email.
    """

    text: str

    def __post_init__(self) -> None:
        if not self.text:
            raise InvalidCodePattern("is required", field="pattern")
        if len(self.text) > MAX_PATTERN_LENGTH:
            raise InvalidCodePattern(
                f"must be at most {MAX_PATTERN_LENGTH} characters", field="pattern"
            )
        if not _PATTERN.match(self.text):
            raise InvalidCodePattern(
                "may hold only A-Z, 0-9, '-', '_' and '#' (a random character)", field="pattern"
            )
        if self.entropy_bits < MIN_ENTROPY_BITS:
            short = -(-(MIN_ENTROPY_BITS - self.entropy_bits) // BITS_PER_CHARACTER)
            raise InvalidCodePattern(
                f"gives {self.entropy_bits} bits of randomness; at least {MIN_ENTROPY_BITS} "
                f"are needed: add {short} more '#'",
                field="pattern",
                entropy_bits=self.entropy_bits,
            )

    @classmethod
    def with_prefix(cls, prefix: str | None = None, groups: int = DEFAULT_GROUPS) -> CodePattern:
        """``PREFIX-####-####-####``: ``groups`` groups of 4 random characters."""
        body = "-".join([PLACEHOLDER * 4] * groups)
        if prefix is None or not prefix.strip():
            return cls(body)
        return cls(f"{prefix.strip().upper()}-{body}")

    @property
    def random_positions(self) -> int:
        return self.text.count(PLACEHOLDER)

    @property
    def entropy_bits(self) -> int:
        return self.random_positions * BITS_PER_CHARACTER

    def render(self, random: RandomSource) -> str:
        return "".join(
            random.choice(ALPHABET) if char == PLACEHOLDER else char for char in self.text
        )


DEFAULT_PATTERN = CodePattern.with_prefix()


def generate_code(random: RandomSource, pattern: CodePattern = DEFAULT_PATTERN) -> str:
    """One fresh code; the caller's unique index decides whether it is free."""
    return pattern.render(random)


def generate_codes(
    count: int,
    random: RandomSource,
    pattern: CodePattern = DEFAULT_PATTERN,
    *,
    taken: Container[str] = frozenset(),
) -> list[str]:
    """``count`` distinct codes, none of them in ``taken`` (the codes already stored).

    With 60 bits or more a collision is vanishingly rare; the retry bound only stops a broken
    random source from looping forever.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    codes: dict[str, None] = {}
    attempts_left = 2 * count + 16
    while len(codes) < count:
        if attempts_left == 0:
            raise CodeSpaceExhausted(
                f"found only {len(codes)} unused codes of {count}", field="count"
            )
        attempts_left -= 1
        code = pattern.render(random)
        if code not in codes and code not in taken:
            codes[code] = None
    return list(codes)
