"""A tokenizer for CEL, enough to find identifiers and where they are.

It runs only on text the CEL library has already accepted, so it does not need to report
syntax errors: its job is positions (1-based line and column) for the field checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

KEYWORDS = frozenset({"true", "false", "null", "in"})


class Kind(Enum):
    IDENT = "ident"
    NUMBER = "number"
    STRING = "string"
    KEYWORD = "keyword"
    PUNCT = "punct"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    line: int
    column: int

    def is_punct(self, text: str) -> bool:
        return self.kind is Kind.PUNCT and self.text == text


_SPACE = re.compile(r"(?:\s+|//[^\n]*)+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F]+[uU]?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?|\.\d+(?:[eE][+-]?\d+)?"
)
_PREFIX = re.compile(r"(?:[rR][bB]?|[bB][rR]?)?(?=['\"])")
_PUNCT = ("&&", "||", "==", "!=", "<=", ">=", ".?", *".()[]{},?:!<>+-*/%")
_ENDS_OPERAND = frozenset({")", "]", "}"})


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
            continue
        kind, end = _next(text, pos, tokens[-1] if tokens else None)
        line, column = _where(text, pos)
        word = text[pos:end]
        if kind is Kind.IDENT and word in KEYWORDS:
            kind = Kind.KEYWORD
        tokens.append(Token(kind, word, line, column))
        pos = end
    return tokens


def _next(text: str, pos: int, previous: Token | None) -> tuple[Kind, int]:
    prefix = _PREFIX.match(text, pos)
    if prefix:
        return Kind.STRING, _string_end(text, prefix.end(), raw="r" in prefix.group().lower())
    ident = _IDENT.match(text, pos)
    if ident:
        return Kind.IDENT, ident.end()
    number = _NUMBER.match(text, pos)
    if number and not (text[pos] == "." and _ends_operand(previous)):
        return Kind.NUMBER, number.end()
    for punct in _PUNCT:
        if text.startswith(punct, pos):
            return Kind.PUNCT, pos + len(punct)
    return Kind.PUNCT, pos + 1  # unreachable for text the library accepted


def _ends_operand(token: Token | None) -> bool:
    if token is None:
        return False
    return token.kind is not Kind.PUNCT or token.text in _ENDS_OPERAND


def _string_end(text: str, pos: int, *, raw: bool) -> int:
    quote = text[pos : pos + 3] if text[pos : pos + 3] in ('"""', "'''") else text[pos]
    pos += len(quote)
    while pos < len(text):
        if not raw and text[pos] == "\\":
            pos += 2
            continue
        if text.startswith(quote, pos):
            return pos + len(quote)
        pos += 1
    return pos


def _where(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    return line, pos - start + 1
