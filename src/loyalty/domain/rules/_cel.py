"""The one module that knows which CEL library runs conditions.

The library is ``common-expression-language`` (import name ``cel``): Rust's ``cel`` crate
behind PyO3, so a compiled program runs in about a microsecond. Everything else in the rules
package talks to the three functions here, so swapping the library touches this file only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import cel

Program = cel.Program
Activation = cel.Context

_LOCATION = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")
_EXPECTING = re.compile(r" expecting \{.*\}$")


class CelSyntaxError(Exception):
    """The text is not a CEL expression; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class CelRuntimeError(Exception):
    """Evaluation failed for this activation (missing key, bad types, division by zero...)."""


@dataclass(frozen=True, slots=True)
class Compiled:
    program: Program
    variables: frozenset[str]  # identifiers the library saw, comprehension variables included


def compile_expression(text: str) -> Compiled:
    try:
        program = cel.compile(text)
    except ValueError as exc:
        raise _syntax_error(str(exc)) from None
    return Compiled(program, frozenset(program.variables()))


def activation(variables: dict[str, Any]) -> Activation:
    return cel.Context(variables)


def run(program: Program, bound: Activation) -> object:
    try:
        return program.execute(bound)
    except Exception as exc:  # the library raises many types; a rule must never break an event
        raise CelRuntimeError(_runtime_message(exc)) from None


def _syntax_error(raw: str) -> CelSyntaxError:
    found = _LOCATION.search(raw)
    if found is None:
        return CelSyntaxError(raw, 1, 1)
    message = _EXPECTING.sub("", found.group(3).strip()).removeprefix("Syntax error: ")
    message = message.replace("'<EOF>'", "end of text")
    return CelSyntaxError(message, int(found.group(1)), int(found.group(2)))


def _runtime_message(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"no such key: {exc}"
    if isinstance(exc, IndexError):
        return f"index out of range ({exc})"
    text = str(exc).split(". ")[0].rstrip(".")
    return text or type(exc).__name__
