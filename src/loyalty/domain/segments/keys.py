"""Segment ids: a slug chosen by the merchant (``cat-lovers``), or ``rfm:<name>`` /
``lifecycle:<stage>`` for the built-in ones (the colon keeps the two apart)."""

from __future__ import annotations

import re

from loyalty.domain.errors import ValidationFailed

_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
RESERVED = frozenset({"refresh"})


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key) or key in RESERVED:
        raise ValidationFailed(
            "a segment id is 1-64 lower-case letters, digits, '-' or '_' (and not 'refresh')",
            field="id",
        )
    return key


def slug(text: str) -> str:
    """``"Can't Lose"`` -> ``"cant_lose"``; ``"Cat lovers!"`` -> ``"cat_lovers"``."""
    text = text.lower().replace("'", "")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")[:64]


def builtin_key(family: str, name: str) -> str:
    return f"{family}:{slug(name)}"
