"""Rule conditions: CEL expressions, compiled once, checked against the declared schema.

``compile_condition`` refuses text that does not parse, names a variable or field the schema
does not declare, or calls a function the condition language here does not have; each error
carries ``line`` and ``column``. Compiled conditions are cached by their text. Evaluating one
never raises: a failure for one event (a missing ``event.data`` key, a type mismatch) comes
back as a result with the reason, and the engine skips the rule for that event.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from loyalty.domain.errors import InvalidCondition, UnknownConditionField, UnknownConditionFunction
from loyalty.domain.rules import _cel
from loyalty.domain.rules._fast import Fn, compile_fast
from loyalty.domain.rules._lexer import Token
from loyalty.domain.rules._references import MACROS, Analysis, Reference, analyse
from loyalty.domain.rules.schema import ACTION_VARIABLES, ORDER_VARIABLES, FieldSpec, ValueKind
from loyalty.domain.rules.triggers import ORDER_PAID

# Functions the library provides natively (checked by the tests, one call each).
FUNCTIONS = frozenset(
    {
        "has",
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "dyn",
        "type",
        "timestamp",
        "duration",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfYear",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
        *MACROS,
    }
)

Path = tuple[str, ...]
_DYNAMIC = FieldSpec(ValueKind.DYNAMIC)
_KEY = FieldSpec(ValueKind.STRING)


@dataclass(frozen=True, slots=True)
class ConditionResult:
    matched: bool
    error: str | None = None  # why evaluation failed; the rule is skipped for this event


MATCHED = ConditionResult(True)
NOT_MATCHED = ConditionResult(False)


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """A compiled condition. ``needs`` lists what it reads: a whole variable (``("now",)``),
    a field (``("order", "total")``, ``("event", "data")``), or a field of the order lines
    (``("order", "lines", "sku")``) when lines are only read through a comprehension."""

    text: str
    needs: frozenset[Path]
    program: _cel.Program | None  # None: no condition, always true
    fast: Fn | None = None  # the same condition as Python closures, when it is simple enough

    def evaluate(self, bound: _cel.Activation) -> ConditionResult:
        if self.program is None:
            return MATCHED
        try:
            value = _cel.run(self.program, bound)
        except _cel.CelRuntimeError as exc:
            return ConditionResult(False, str(exc))
        if value is True:
            return MATCHED
        if value is False:
            return NOT_MATCHED
        return ConditionResult(False, f"the condition gave {value!r}, not true or false")


ALWAYS = Condition("", frozenset(), None)


def compile_condition(text: str | None, trigger: str = ORDER_PAID) -> Condition:
    """Compile and check ``text`` for rules on ``trigger``; empty text is always true.

    Raises ``InvalidCondition`` (syntax), ``UnknownConditionField`` or
    ``UnknownConditionFunction``, each with ``line`` and ``column`` in ``data``.
    """
    if text is None or not text.strip():
        return ALWAYS
    return _compile(text, trigger == ORDER_PAID)


@lru_cache(maxsize=4096)
def _compile(text: str, with_order: bool) -> Condition:
    try:
        compiled = _cel.compile_expression(text)
    except _cel.CelSyntaxError as exc:
        raise InvalidCondition(
            f"syntax error at line {exc.line}, column {exc.column}: {exc.message}",
            field="condition",
            line=exc.line,
            column=exc.column,
        ) from None
    analysis = analyse(text)
    variables = ORDER_VARIABLES if with_order else ACTION_VARIABLES
    _check_functions(analysis)
    for ref in analysis.references:
        _check_reference(ref, variables)
    _check_library_variables(compiled.variables, analysis, variables)
    return Condition(text, _needs(analysis), compiled.program, compile_fast(text))


def _check_functions(analysis: Analysis) -> None:
    for token in analysis.functions:
        if token.text not in FUNCTIONS:
            raise UnknownConditionFunction(
                f"unknown function '{token.text}' at {_at(token)}",
                field="condition",
                line=token.line,
                column=token.column,
                name=token.text,
            )


def _check_reference(ref: Reference, variables: Mapping[str, FieldSpec]) -> None:
    """Walk the chain through the schema, refusing names it does not declare."""
    spec = _root_spec(ref, variables)
    for index in range(1, len(ref.segments)):
        if spec.kind is ValueKind.DYNAMIC:
            break
        spec = _child(ref, index, spec)


def _needs(analysis: Analysis) -> frozenset[Path]:
    """What the activation must hold. Lines cost the most to hand over, so a comprehension
    over ``order.lines`` asks only for the line fields its variable reads."""
    lines_bindings = {
        id(b) for b in analysis.bindings if b.receiver is not None and _is_lines(b.receiver)
    }
    receivers = {id(b.receiver) for b in analysis.bindings if id(b) in lines_bindings}
    needs: set[Path] = set()
    used: set[int] = set()
    for ref in analysis.references:
        if ref.binding is None and id(ref) not in receivers:
            needs.add(ref.path[:2])
        elif ref.binding is not None and id(ref.binding) in lines_bindings:
            used.add(id(ref.binding))
            needs.add(_LINES + ref.path[1:2])
    if lines_bindings - used:  # a comprehension that never reads its variable's fields
        needs.add(_LINES)
    return frozenset(needs)


_LINES = ("order", "lines")


def _is_lines(ref: Reference) -> bool:
    return ref.binding is None and ref.path == _LINES


def _root_spec(ref: Reference, variables: Mapping[str, FieldSpec]) -> FieldSpec:
    if ref.binding is not None:
        return _element(ref.binding.receiver, variables)
    root = ref.segments[0]
    spec = variables.get(root.text)
    if spec is not None:
        return spec
    if root.text == "order":
        detail = f"'order' at {_at(root)} is only available in rules on {ORDER_PAID}"
    else:
        known = ", ".join(sorted(variables))
        detail = f"unknown variable '{root.text}' at {_at(root)}{_hint(root.text, variables)}"
        detail += f"; variables are {known}"
    raise _unknown(detail, root, root.text)


def _child(ref: Reference, index: int, spec: FieldSpec) -> FieldSpec:
    segment = ref.segments[index]
    path = ".".join(ref.path[: index + 1])
    owner = ".".join(ref.path[:index])
    if spec.kind is not ValueKind.MAP:
        detail = f"'{owner}' is a {spec.kind.value} and has no field '{segment.text}'"
        raise _unknown(f"{detail} (at {_at(segment)})", segment, path)
    child = spec.fields.get(segment.text)
    if child is None:
        hint = _hint(segment.text, spec.fields)
        detail = f"unknown field '{segment.text}' of '{owner}' at {_at(segment)}{hint}"
        raise _unknown(detail, segment, path)
    return child


def _element(receiver: Reference | None, variables: Mapping[str, FieldSpec]) -> FieldSpec:
    """What a comprehension variable stands for: an element of a list, a key of a map."""
    if receiver is None:
        return _DYNAMIC
    spec = _root_spec(receiver, variables)
    for segment in receiver.path[1:]:
        if spec.kind is not ValueKind.MAP:
            return _DYNAMIC
        spec = spec.fields.get(segment, _DYNAMIC)
    if spec.kind is ValueKind.LIST:
        return spec.element or _DYNAMIC
    return _KEY if spec.kind is ValueKind.MAP and spec.fields else _DYNAMIC


def _check_library_variables(
    seen: frozenset[str], analysis: Analysis, variables: Mapping[str, FieldSpec]
) -> None:
    """A safety net behind the tokenizer: every name the library saw must be known."""
    bound = {binding.variable.text for binding in analysis.bindings}
    for name in sorted(seen - bound - set(variables)):
        raise UnknownConditionField(
            f"unknown variable '{name}'", field="condition", line=1, column=1, path=name
        )


def _unknown(detail: str, token: Token, path: str) -> UnknownConditionField:
    return UnknownConditionField(
        detail, field="condition", line=token.line, column=token.column, path=path
    )


def _hint(name: str, known: Mapping[str, FieldSpec]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _at(token: Token) -> str:
    return f"line {token.line}, column {token.column}"
