"""Rule segments: a CEL expression over ``member`` (see ``fields``) and ``now``.

Saving a rule compiles it once (cached by its text), reports syntax errors with line and column,
rejects names a rule cannot read, and tries it on a typical member to catch type errors and
results that are not true or false.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import cel

from loyalty.domain.errors import InvalidSegmentRule, UnknownSegmentField
from loyalty.domain.segments._lexer import bound_names, member_references
from loyalty.domain.segments.fields import FIELDS, sample_member

MAX_RULE_LENGTH = 4_000
VARIABLES = frozenset({"member", "now"})
_TYPE_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"}
)
_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")
_SAMPLE_NOW = datetime(2026, 1, 1, tzinfo=UTC)


class RuleEvaluationError(Exception):
    """The rule could not be decided for one member (a null field, a missing map key...)."""


@dataclass(frozen=True, slots=True)
class SegmentRule:
    source: str
    program: cel.Program
    fields: frozenset[str]  # the member fields the rule reads

    def matches(self, member: Mapping[str, Any], now: datetime) -> bool:
        """Whether the member is in the segment; raises RuleEvaluationError when undecidable."""
        try:
            result = self.program.execute({"member": dict(member), "now": now})
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise RuleEvaluationError(str(error)) from error
        if not isinstance(result, bool):
            raise RuleEvaluationError(f"the rule gave {_cel_type(result)}, not true or false")
        return result


def compile_rule(source: str) -> SegmentRule:
    """A checked, compiled rule; raises InvalidSegmentRule or UnknownSegmentField."""
    return _compile(source.strip())


@lru_cache(maxsize=1024)
def _compile(source: str) -> SegmentRule:
    if not source:
        raise InvalidSegmentRule("the rule is empty", field="rule")
    if len(source) > MAX_RULE_LENGTH:
        raise InvalidSegmentRule(f"the rule is longer than {MAX_RULE_LENGTH} characters")
    try:
        program = cel.compile(source)
    except ValueError as error:
        raise _syntax_error(str(error)) from error
    fields = _check_names(source, program)
    rule = SegmentRule(source, program, fields)
    _try_on_sample(rule)
    return rule


def _syntax_error(message: str) -> InvalidSegmentRule:
    found = _POSITION.search(message)
    if found is None:
        return InvalidSegmentRule(f"the rule does not parse: {message}", field="rule")
    line, column, what = int(found[1]), int(found[2]), found[3].strip()
    return InvalidSegmentRule(
        f"syntax error at line {line}, column {column}: {what}",
        field="rule",
        line=line,
        column=column,
    )


def _check_names(source: str, program: cel.Program) -> frozenset[str]:
    refs, dynamic = member_references(source)
    for ref in refs:
        if ref.field not in FIELDS:
            raise UnknownSegmentField(
                f"unknown field 'member.{ref.field}' at line {ref.line}, column {ref.column}; "
                f"known fields: {', '.join(sorted(FIELDS))}",
                field="rule",
                unknown=f"member.{ref.field}",
                line=ref.line,
                column=ref.column,
            )
    allowed = VARIABLES | _TYPE_NAMES | bound_names(source)
    unknown = sorted(set(program.variables()) - allowed)
    if unknown:
        raise UnknownSegmentField(
            f"unknown name '{unknown[0]}'; a rule reads member.<field> and now",
            field="rule",
            unknown=unknown[0],
        )
    return frozenset(FIELDS) if dynamic else frozenset(ref.field for ref in refs)


def _try_on_sample(rule: SegmentRule) -> None:
    """On a member with every field set, a type error is a mistake in the rule itself."""
    try:
        result = rule.program.execute({"member": sample_member(), "now": _SAMPLE_NOW})
    except TypeError as error:
        raise InvalidSegmentRule(f"type error: {error}", field="rule") from error
    except (KeyError, ValueError, RuntimeError):
        return  # depends on the member's data (a map key, a conversion): decided per member
    if not isinstance(result, bool):
        raise InvalidSegmentRule(
            f"a rule must give true or false; this one gives {_cel_type(result)}",
            field="rule",
        )


def _cel_type(value: Any) -> str:
    names = {float: "double", str: "string", dict: "map", int: "int", list: "list", bytes: "bytes"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
