"""What a CEL expression refers to: field paths, functions and comprehension variables.

A *reference* is a chain ``name.field.field`` that starts an operand (``order.total``,
``member.tier``); a chain stops before a method call (``now.getHours()``) or an index
(``order.lines[0]``). The comprehension macros (``all``, ``exists``, ``exists_one``, ``map``,
``filter``) bind a variable inside their parentheses; it stands for an element of the receiver,
so ``order.lines.exists(l, l.sku == "A")`` checks ``l.sku`` against the line fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.domain.rules._lexer import Kind, Token, tokenize

MACROS = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True, slots=True)
class Reference:
    segments: tuple[Token, ...]
    binding: Binding | None  # the comprehension that binds the first name, if any

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(token.text for token in self.segments)


@dataclass(frozen=True, slots=True)
class Binding:
    variable: Token
    receiver: Reference | None  # None: the receiver is not a plain chain (a literal, a call)
    start: int  # token index range of the macro's parentheses
    end: int


@dataclass(frozen=True, slots=True)
class Analysis:
    references: tuple[Reference, ...]
    functions: tuple[Token, ...]
    bindings: tuple[Binding, ...]


def analyse(text: str) -> Analysis:
    tokens = tokenize(text)
    closing = _matching_parens(tokens)
    references: list[Reference] = []
    functions: list[Token] = []
    bindings: list[Binding] = []
    binders: set[int] = set()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.kind is not Kind.IDENT or index in binders:
            index += 1
            continue
        if _is_call(tokens, index):
            functions.append(token)
            binding = _macro_binding(tokens, index, closing, references, bindings)
            if binding is not None:
                bindings.append(binding)
                binders.add(index + 2)
            index += 1
            continue
        if index > 0 and tokens[index - 1].is_punct("."):
            index += 1  # a field of something that is not a chain, e.g. l[0].sku
            continue
        end = _chain_end(tokens, index)
        segments = tuple(tokens[index:end:2])
        references.append(Reference(segments, _binding_for(token, index, bindings)))
        index = end
    return Analysis(tuple(references), tuple(functions), tuple(bindings))


def _is_call(tokens: list[Token], index: int) -> bool:
    return index + 1 < len(tokens) and tokens[index + 1].is_punct("(")


def _chain_end(tokens: list[Token], index: int) -> int:
    """Index just after ``name(.field)*``, stopping before a method name."""
    end = index + 1
    while (
        end + 1 < len(tokens)
        and tokens[end].is_punct(".")
        and tokens[end + 1].kind is Kind.IDENT
        and not _is_call(tokens, end + 1)
    ):
        end += 2
    return end


def _macro_binding(
    tokens: list[Token],
    index: int,
    closing: dict[int, int],
    references: list[Reference],
    bindings: list[Binding],
) -> Binding | None:
    """``receiver.macro(var, ...)`` binds ``var`` inside the parentheses."""
    if tokens[index].text not in MACROS or index == 0 or not tokens[index - 1].is_punct("."):
        return None
    if index + 3 >= len(tokens) or tokens[index + 2].kind is not Kind.IDENT:
        return None
    if not tokens[index + 3].is_punct(","):
        return None
    receiver = (
        references[-1] if references and _ends_at(tokens, references[-1], index - 1) else None
    )
    return Binding(tokens[index + 2], receiver, index + 1, closing[index + 1])


def _ends_at(tokens: list[Token], reference: Reference, dot: int) -> bool:
    return tokens[dot - 1] is reference.segments[-1]


def _binding_for(token: Token, index: int, bindings: list[Binding]) -> Binding | None:
    for binding in reversed(bindings):  # innermost first: later bindings nest inside earlier ones
        if binding.variable.text == token.text and binding.start < index < binding.end:
            return binding
    return None


def _matching_parens(tokens: list[Token]) -> dict[int, int]:
    closing: dict[int, int] = {}
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.is_punct("("):
            stack.append(index)
        elif token.is_punct(")") and stack:
            closing[stack.pop()] = index
    for index in stack:  # unbalanced: the library would have refused the text
        closing[index] = len(tokens)
    return closing
