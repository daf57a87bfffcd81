"""Just enough of CEL's lexical grammar to find which ``member`` fields a rule reads and which
names a comprehension binds, with their line and column (1-based)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
    | (?P<string>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
    | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
    | (?P<number>\d[\w.]*)
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Reference:
    field: str
    line: int
    column: int


def tokens(source: str) -> list[Token]:
    found: list[Token] = []
    line, line_start = 1, 0
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "punct"
        if kind != "space":
            found.append(Token(kind, match.group(), line, match.start() - line_start + 1))
        newlines = match.group().count("\n")
        if newlines:
            line += newlines
            line_start = match.start() + match.group().rindex("\n") + 1
    return found


def member_references(source: str, variable: str = "member") -> tuple[list[Reference], bool]:
    """The fields read as ``member.f`` or ``member["f"]``, and whether ``member`` is also used
    some other way (then every field may be read)."""
    toks = tokens(source)
    refs: list[Reference] = []
    dynamic = False
    for i, tok in enumerate(toks):
        if tok.kind != "ident" or tok.text != variable:
            continue
        if i > 0 and toks[i - 1].text == ".":
            continue  # a field of something else that happens to be called "member"
        nxt = toks[i + 1 : i + 4]
        if len(nxt) >= 2 and nxt[0].text == "." and nxt[1].kind == "ident":
            refs.append(Reference(nxt[1].text, nxt[1].line, nxt[1].column))
        elif (
            len(nxt) == 3 and nxt[0].text == "[" and nxt[1].kind == "string" and nxt[2].text == "]"
        ):
            refs.append(Reference(_literal(nxt[1].text), nxt[1].line, nxt[1].column))
        else:
            dynamic = True
    return refs, dynamic


def bound_names(source: str) -> set[str]:
    """Names introduced by comprehension macros: the ``x`` in ``list.all(x, x > 0)``."""
    toks = tokens(source)
    names: set[str] = set()
    for i in range(1, len(toks) - 3):
        if (
            toks[i - 1].text == "."
            and toks[i].text in _MACROS
            and toks[i + 1].text == "("
            and toks[i + 2].kind == "ident"
            and toks[i + 3].text == ","
        ):
            names.add(toks[i + 2].text)
    return names


def _literal(text: str) -> str:
    body = text.lstrip("rRbB")
    quote = 3 if body[:3] in ("'''", '"""') else 1
    return body[quote:-quote]
