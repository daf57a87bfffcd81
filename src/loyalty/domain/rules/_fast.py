"""A fast path for simple conditions: CEL translated into Python closures when a rule is built.

Handing an activation to the CEL library costs more than running the conditions (each Python
value is converted, an order's lines as maps alone cost tens of microseconds), so the common
shapes of condition run here instead, on the same values the activation would hold (read
lazily, each once per evaluation, through ``activation``'s getters):

- literals (int, double, plain strings, ``true``/``false``/``null``, lists of them);
- variables and field selection (``order.total``, ``event.data.coupon``, a line's ``l.sku``);
- ``==`` ``!=`` ``<`` ``<=`` ``>`` ``>=``, ``in`` (lists and maps), ``&&``, ``||``, ``!``;
- ``has()``, ``size()``, ``startsWith``/``endsWith``/``contains`` on strings, the
  ``get...()`` accessors of ``now``, and ``exists``/``all`` over a list.

Anything else (arithmetic, the ternary, ``matches``, indexes...) is refused at compile time
(``None``: the condition always runs in the library). At run time a closure never decides a
case it is not sure about: a type it does not handle, an error, a value the library might see
differently (NaN, ints beyond 2**53 against doubles) raises ``Bail`` and the library runs the
condition instead, with its own result or error message. So the fast path only ever answers
``true`` or ``false`` where the library gives the same answer; ``tests/domain/rules/
test_fast_conditions.py`` checks that against the library on generated expressions and inputs.
It follows this library where it differs from the CEL spec: ``size()`` of a string counts
UTF-8 bytes, and ``exists``/``all`` stop at the first element that decides (an error in an
earlier element is an error).

Each sub-expression is a closure; the hot shapes (``&&``, ``||``, ``!``, a relation against a
literal, a literal ``in`` a list field, field reads) also carry their Python source, and a
condition made of them runs as one generated function (``_generated``), the closures' exact
logic without a call per operator.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from loyalty.domain.rules._lexer import Kind, Token, tokenize
from loyalty.domain.rules.activation import _GETTERS, line_map, local_now
from loyalty.domain.rules.facts import EarningInput


class Bail(Exception):
    """The fast path is not sure: let the CEL library evaluate this condition."""


class Unsupported(Exception):
    """The text uses something the fast path does not translate."""


_BAIL = Bail()
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_EXACT = 2**53  # ints beyond this compare differently once the library makes them doubles


_MISSING = object()


class Env:
    """One evaluation's values, each computed the first time a condition reads it.

    ``line_fields``: the fields of ``order.lines`` the conditions read (None: all of them), as
    the CEL activation holds only those too."""

    __slots__ = ("facts", "line_fields", "local", "values")

    def __init__(
        self,
        facts: EarningInput,
        line_fields: tuple[str, ...] | None = None,
        local: datetime | None = None,
    ) -> None:
        self.facts = facts
        self.line_fields = line_fields
        self.local = local  # ``facts.now`` in ``facts.timezone``, when the caller has it
        self.values: dict[tuple[str, str], object] = {}

    def strings(self, root: str, name: str) -> frozenset[str] | None:
        """A list field as a set, when it holds only strings (``"pets" in order.categories``)."""
        key = (root, name + "[]")
        cached = self.values.get(key, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        value = self.field(root, name)
        strings = None
        if type(value) is list and all(type(item) is str for item in value):
            strings = frozenset(value)
        self.values[key] = strings
        return strings

    def field(self, root: str, name: str) -> object:
        key = (root, name)
        cached = self.values.get(key, _MISSING)
        if cached is not _MISSING:
            return cached
        facts, order = self.facts, self.facts.order
        if root == "order" and order is None:
            raise _BAIL
        if (
            root == "order"
            and name == "lines"
            and order is not None
            and self.line_fields is not None
        ):
            fields = self.line_fields
            value: object = [line_map(line, fields) for line in order.lines]
        else:
            value = _GETTERS[root][name](facts)
        if root == "event" and name == "data" and not _plain(value):
            raise _BAIL
        self.values[key] = value
        return value

    def variable(self, root: str) -> object:
        key = (root, "")
        cached = self.values.get(key, _MISSING)
        if cached is not _MISSING:
            return cached
        facts = self.facts
        value: object
        if root == "now":
            value = local_now(facts, self.local)
        elif root == "segments":
            value = sorted(facts.segments)
        else:
            value = {name: self.field(root, name) for name in _GETTERS[root]}
        self.values[key] = value
        return value


Fn = Callable[[Env, dict[str, object]], object]  # (values, comprehension variables) -> value


def _plain(value: object) -> bool:
    """Only values the library and Python see alike: no ints beyond 64 bits."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return _INT_MIN <= value <= _INT_MAX
    if isinstance(value, dict):
        return all(_plain(item) for item in value.values())
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    return True


# --- CEL operators on Python values ---------------------------------------------------------


def equal(a: object, b: object) -> bool:
    """CEL ``==``: numbers across int and double, lists and maps element-wise, no coercion
    otherwise (``1 == "1"`` and ``true == 1`` are false)."""
    ta, tb = type(a), type(b)
    if ta is str and tb is str:
        return a == b
    if (ta is int or ta is float) and (tb is int or tb is float):
        if ta is not tb and (abs(a) > _EXACT if ta is int else abs(b) > _EXACT):  # type: ignore[arg-type]
            raise _BAIL
        return a == b
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if a is None or b is None:
        if _known(a) and _known(b):
            return a is b
        raise _BAIL
    if ta is list and tb is list:
        assert isinstance(a, list) and isinstance(b, list)
        if len(a) != len(b):
            for item in (*a, *b):
                _check_known(item)
            return False
        same = True
        for x, y in zip(a, b, strict=True):
            if not equal(x, y):
                same = False
        return same
    if ta is dict and tb is dict:
        assert isinstance(a, dict) and isinstance(b, dict)
        for item in (*a.values(), *b.values()):
            _check_known(item)
        if a.keys() != b.keys():
            return False
        return all([equal(a[key], b[key]) for key in a])
    if _known(a) and _known(b):
        return False
    raise _BAIL


def _known(value: object) -> bool:
    return value is None or type(value) in (bool, int, float, str, list, dict)


def _check_known(value: object) -> None:
    if not _known(value):
        raise _BAIL
    if type(value) is list:
        for item in value:
            _check_known(item)
    elif type(value) is dict:
        for item in value.values():
            _check_known(item)


def _ordered(a: object, b: object) -> tuple[Any, Any]:
    """Operands ``<`` can compare like the library: two numbers (no NaN) or two strings."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        if a != a or b != b:
            raise _BAIL
        if ta is not tb and (abs(a) > _EXACT if ta is int else abs(b) > _EXACT):  # type: ignore[arg-type]
            raise _BAIL
        return a, b
    if ta is str and tb is str:
        return a, b
    raise _BAIL


def _contains(needle: object, haystack: object) -> bool:
    if type(haystack) is list:
        found = False
        for item in haystack:
            if equal(needle, item):
                found = True
        return found
    if type(haystack) is dict and type(needle) is str:
        return needle in haystack
    raise _BAIL


def _size(value: object) -> int:
    kind = type(value)
    if kind is list or kind is dict:
        return len(value)  # type: ignore[arg-type]
    if kind is str:
        return len(value.encode())  # type: ignore[attr-defined]
    raise _BAIL


def _select(value: object, name: str) -> object:
    if type(value) is dict:
        try:
            return value[name]
        except KeyError:
            raise _BAIL from None
    raise _BAIL


def _has(value: object, name: str) -> bool:
    if type(value) is dict:
        return name in value
    raise _BAIL


_NOW_METHODS: Mapping[str, Callable[[datetime], int]] = {
    "getFullYear": lambda t: t.year,
    "getMonth": lambda t: t.month - 1,
    "getDate": lambda t: t.day,
    "getDayOfMonth": lambda t: t.day - 1,
    "getDayOfYear": lambda t: t.timetuple().tm_yday - 1,
    "getDayOfWeek": lambda t: t.isoweekday() % 7,
    "getHours": lambda t: t.hour,
    "getMinutes": lambda t: t.minute,
    "getSeconds": lambda t: t.second,
    "getMilliseconds": lambda t: t.microsecond // 1000,
}
_STRING_METHODS: Mapping[str, Callable[[str, str], bool]] = {
    "startsWith": str.startswith,
    "endsWith": str.endswith,
    "contains": str.__contains__,
}


# --- the parser: tokens to closures ---------------------------------------------------------

_ROOTS = frozenset(_GETTERS) | {"now", "segments"}
_MAP_ROOTS = frozenset(_GETTERS)
_RELATIONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


def compile_fast(text: str) -> Fn | None:
    """Closures for ``text``, or None when it uses something the fast path does not have."""
    try:
        parser = _Parser(tokenize(text))
        node = parser.expression()
        if parser.pos != len(parser.tokens):
            return None
    except (Unsupported, IndexError):
        return None
    return node.fn if node.src is None else _generated(node)


def _generated(node: _Node) -> Fn:
    """The node as one Python function: the hot shapes (``&&``, ``||``, ``!``, relations
    against a literal, a literal ``in`` a list field, field reads) written out inline, each
    exactly the closure it replaces; anything else is called as its closure. The source holds
    only generated names and fixed operators; every value (literals included) is passed in
    the namespace, never written into the text."""
    source = f"def condition(env, scope):\n    V = env.values\n    return {node.src}\n"
    namespace: dict[str, Any] = {"BAIL": _bail, **node.names}
    exec(compile(source, "<condition>", "exec"), namespace)
    function: Fn = namespace["condition"]
    return function


def _bail() -> object:
    raise _BAIL


_names = itertools.count()


def _fresh(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def _code(node: _Node) -> tuple[str, dict[str, object]]:
    """The node as a Python expression over ``env``, ``scope`` and ``V`` (the cached values)."""
    if node.src is not None:
        return node.src, node.names
    name = _fresh("F")
    return f"{name}(env, scope)", {name: node.fn}


class _Node:
    """A compiled sub-expression: a closure, and how it was written (for ``has`` and calls)."""

    __slots__ = (
        "const",
        "fn",
        "names",
        "parent",
        "parent_names",
        "parent_src",
        "path",
        "src",
        "variable",
    )

    def __init__(
        self,
        fn: Fn,
        *,
        path: tuple[str, ...] = (),
        variable: bool = False,
        const: bool = False,
        parent: Fn | None = None,
        src: str | None = None,
        names: dict[str, object] | None = None,
        parent_src: str | None = None,
        parent_names: dict[str, object] | None = None,
    ) -> None:
        self.fn = fn
        self.src = src  # the same as a Python expression, for the hot shapes (see _generated)
        self.names = names or {}  # the values and closures ``src`` refers to
        self.path = path  # root variable or comprehension variable, then fields
        self.variable = variable  # path starts at a comprehension variable
        self.const = const
        self.parent = parent  # a field selection: what the field is selected from
        self.parent_src = parent_src  # and its Python expression, when it has one
        self.parent_names = parent_names or {}


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.bound: list[str] = []  # comprehension variables in scope, innermost last

    def peek(self, text: str) -> bool:
        if self.pos >= len(self.tokens):
            return False
        token = self.tokens[self.pos]
        return token.text == text and token.kind in (Kind.PUNCT, Kind.KEYWORD)

    def take(self, text: str) -> None:
        if not self.peek(text):
            raise Unsupported(text)
        self.pos += 1

    def next(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expression(self) -> _Node:
        node = self.disjunction()
        if self.peek("?"):
            raise Unsupported("?")
        return node

    def disjunction(self) -> _Node:
        node = self.conjunction()
        while self.peek("||"):
            self.pos += 1
            node = _or(node, self.conjunction())
        return node

    def conjunction(self) -> _Node:
        node = self.relation()
        while self.peek("&&"):
            self.pos += 1
            node = _and(node, self.relation())
        return node

    def relation(self) -> _Node:
        node = self.unary()
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            if token.kind is Kind.PUNCT and token.text in _RELATIONS:
                self.pos += 1
                node = _relation(token.text, node, self.unary())
            elif token.kind is Kind.KEYWORD and token.text == "in":
                self.pos += 1
                node = _in(node, self.unary())
            elif token.kind is Kind.PUNCT and token.text in "+-*/%":
                raise Unsupported(token.text)
            else:
                break
        return node

    def unary(self) -> _Node:
        if self.peek("!"):
            self.pos += 1
            return _not(self.unary())
        if self.peek("-"):
            self.pos += 1
            token = self.next()
            if token.kind is not Kind.NUMBER:
                raise Unsupported("-")
            return _constant(_number_literal(token.text, negative=True))
        return self.member()

    def member(self) -> _Node:
        node = self.primary()
        while True:
            if self.peek("."):
                self.pos += 1
                name = self.next()
                if name.kind is not Kind.IDENT:
                    raise Unsupported(name.text)
                call = self.peek("(")
                node = self.method(node, name.text) if call else _field(node, name.text)
            elif self.peek("[") or self.peek(".?"):
                raise Unsupported("index")
            else:
                return node

    def primary(self) -> _Node:
        token = self.next()
        if token.kind is Kind.NUMBER:
            return _constant(_number_literal(token.text, negative=False))
        if token.kind is Kind.STRING:
            return _constant(_string_literal(token.text))
        if token.kind is Kind.KEYWORD:
            literals = {"true": True, "false": False, "null": None}
            if token.text not in literals:
                raise Unsupported(token.text)
            return _constant(literals[token.text])
        if token.is_punct("("):
            node = self.expression()
            self.take(")")
            return node
        if token.is_punct("["):
            return self.list_literal()
        if token.kind is Kind.IDENT:
            if self.peek("("):
                return self.function(token.text)
            return self.name(token.text)
        raise Unsupported(token.text)

    def list_literal(self) -> _Node:
        items: list[object] = []
        while not self.peek("]"):
            node = self.expression()
            if not node.const:
                raise Unsupported("list of non-literals")
            items.append(node.fn(_NO_ENV, {}))  # type: ignore[arg-type]
            if not self.peek("]"):
                self.take(",")
        self.take("]")
        return _constant(items)

    def name(self, text: str) -> _Node:
        if text in self.bound:

            def bound(env: Env, scope: dict[str, object]) -> object:
                return scope[text]

            v = _fresh("B")
            src = f"scope[{v}]"
            return _Node(bound, path=(text,), variable=True, src=src, names={v: text})
        if text not in _ROOTS:
            raise Unsupported(text)

        def variable(env: Env, scope: dict[str, object]) -> object:
            return env.variable(text)

        return _Node(variable, path=(text,))

    def function(self, name: str) -> _Node:
        self.take("(")
        if name == "has":
            node = self.expression()
            self.take(")")
            return _has_node(node)
        if name == "size":
            node = self.expression()
            self.take(")")
            return _size_node(node)
        raise Unsupported(name)

    def method(self, receiver: _Node, name: str) -> _Node:
        self.take("(")
        if name in ("exists", "all"):
            variable = self.next()
            if variable.kind is not Kind.IDENT or variable.text in _ROOTS:
                raise Unsupported(name)
            self.take(",")
            self.bound.append(variable.text)
            body = self.expression()
            self.bound.pop()
            self.take(")")
            return _comprehension(name, receiver, variable.text, body)
        if name == "size":
            self.take(")")
            return _size_node(receiver)
        if name in _NOW_METHODS:
            self.take(")")
            if receiver.path != ("now",) or receiver.variable:
                raise Unsupported(name)
            return _now_method(receiver, _NOW_METHODS[name])
        if name in _STRING_METHODS:
            argument = self.expression()
            self.take(")")
            return _string_method(receiver, argument, _STRING_METHODS[name])
        raise Unsupported(name)


_NO_ENV = object()


def _number_literal(text: str, *, negative: bool) -> int | float:
    lower = text.lower()
    if lower.endswith("u"):
        raise Unsupported("uint")
    if lower.startswith("0x"):
        value: int | float = int(text, 16)
    elif "." in text or "e" in lower:
        value = float(text)
    else:
        if len(text) > 1 and text.startswith("0"):
            raise Unsupported(text)
        value = int(text)
    if negative:
        value = -value
    if type(value) is int and not _INT_MIN <= value <= _INT_MAX:
        raise Unsupported(text)
    return value


def _string_literal(text: str) -> str:
    quote = text[0]
    if quote not in "'\"" or text[:3] in ('"""', "'''") or "\\" in text:
        raise Unsupported(text)
    return text[1:-1]


def _constant(value: object) -> _Node:
    def constant(env: Env, scope: dict[str, object]) -> object:
        return value

    name = _fresh("C")
    return _Node(constant, const=True, src=name, names={name: value})


def _field(node: _Node, name: str) -> _Node:
    path = (*node.path, name) if node.path else ()
    if path and not node.variable and len(path) == 2 and path[0] in _MAP_ROOTS:
        root = path[0]
        if name not in _GETTERS[root]:
            raise Unsupported(name)

        key = (root, name)

        def field(env: Env, scope: dict[str, object]) -> object:
            value = env.values.get(key, _MISSING)
            return env.field(root, name) if value is _MISSING else value

        k = _fresh("K")
        src = f"(V[{k}] if {k} in V else env.field(*{k}))"
        return _Node(field, path=path, parent=node.fn, src=src, names={k: key})
    inner = node.fn

    def select(env: Env, scope: dict[str, object]) -> object:
        return _select(inner(env, scope), name)

    code: str | None = None
    names: dict[str, object] = {}
    if node.src is not None:  # ``_select``, inline
        d, n = _fresh("_d"), _fresh("N")
        code = f"({d}[{n}] if ({d} := {node.src}).__class__ is dict and {n} in {d} else BAIL())"
        names = {**node.names, n: name}
    return _Node(
        select,
        path=path,
        variable=node.variable,
        parent=inner,
        src=code,
        names=names,
        parent_src=node.src,
        parent_names=node.names,
    )


def _has_node(node: _Node) -> _Node:
    if len(node.path) < 2 or node.parent is None:
        raise Unsupported("has() needs a field")
    name = node.path[-1]
    if not node.variable and len(node.path) == 2 and node.path[0] in _MAP_ROOTS:
        root = node.path[0]
        # The activation holds every field a condition names, so a declared one is present.

        def has_field(env: Env, scope: dict[str, object]) -> object:
            if root == "order" and env.facts.order is None:
                raise _BAIL
            return True

        return _Node(has_field)
    parent = node.parent

    def has(env: Env, scope: dict[str, object]) -> object:
        return _has(parent(env, scope), name)

    if node.parent_src is None:
        return _Node(has)
    d, n = _fresh("_d"), _fresh("N")  # ``_has``, inline
    src = f"({n} in {d} if ({d} := {node.parent_src}).__class__ is dict else BAIL())"
    return _Node(has, src=src, names={**node.parent_names, n: name})


def _size_node(node: _Node) -> _Node:
    inner = node.fn

    def size(env: Env, scope: dict[str, object]) -> object:
        return _size(inner(env, scope))

    return _Node(size)


def _now_method(receiver: _Node, method: Callable[[datetime], int]) -> _Node:
    def accessor(env: Env, scope: dict[str, object]) -> object:
        value = env.variable("now")
        assert isinstance(value, datetime)
        return method(value)

    return _Node(accessor)


def _string_method(receiver: _Node, argument: _Node, method: Callable[[str, str], bool]) -> _Node:
    left, right = receiver.fn, argument.fn

    def call(env: Env, scope: dict[str, object]) -> object:
        text, other = left(env, scope), right(env, scope)
        if type(text) is str and type(other) is str:
            return method(text, other)
        raise _BAIL

    return _Node(call)


def _comprehension(kind: str, receiver: _Node, variable: str, body: _Node) -> _Node:
    items_of, test = receiver.fn, body.fn
    want = kind == "exists"  # exists stops at the first true, all at the first false

    def comprehension(env: Env, scope: dict[str, object]) -> object:
        items = items_of(env, scope)
        if type(items) is not list:
            raise _BAIL
        inner = dict(scope)
        for item in items:
            inner[variable] = item
            result = test(env, inner)
            if result is want:
                return want
            if result is not (not want):
                raise _BAIL
        return not want

    if receiver.src is None or body.src is None:
        return _Node(comprehension)
    return _Node(_generated_comprehension(receiver, variable, body, want))


def _generated_comprehension(receiver: _Node, variable: str, body: _Node, want: bool) -> Fn:
    """``_comprehension``'s closure as one generated function, the body inline (see
    ``_generated``): the same loop, the same stops, the same bails."""
    v = _fresh("B")
    source = (
        "def comprehension(env, scope):\n"
        "    V = env.values\n"
        f"    items = {receiver.src}\n"
        "    if items.__class__ is not list:\n"
        "        BAIL()\n"
        "    scope = dict(scope)\n"
        "    for item in items:\n"
        f"        scope[{v}] = item\n"
        f"        result = {body.src}\n"
        "        if result is WANT:\n"
        "            return WANT\n"
        "        if result is not OTHER:\n"
        "            BAIL()\n"
        "    return OTHER\n"
    )
    namespace: dict[str, Any] = {
        "BAIL": _bail,
        "WANT": want,
        "OTHER": not want,
        v: variable,
        **receiver.names,
        **body.names,
    }
    exec(compile(source, "<comprehension>", "exec"), namespace)
    function: Fn = namespace["comprehension"]
    return function


def _and(left: _Node, right: _Node) -> _Node:
    a, b = left.fn, right.fn

    def conjunction(env: Env, scope: dict[str, object]) -> object:
        first = a(env, scope)
        if first is False:
            return False
        if first is not True:
            raise _BAIL
        second = b(env, scope)
        if second is True or second is False:
            return second
        raise _BAIL

    (x, x_names), (y, y_names) = _code(left), _code(right)
    a1, b1 = _fresh("_a"), _fresh("_b")
    second = f"({b1} if ({b1} := {y}) is True or {b1} is False else BAIL())"
    src = f"(False if ({a1} := {x}) is False else ({second} if {a1} is True else BAIL()))"
    return _Node(conjunction, src=src, names=x_names | y_names)


def _or(left: _Node, right: _Node) -> _Node:
    a, b = left.fn, right.fn

    def disjunction(env: Env, scope: dict[str, object]) -> object:
        first = a(env, scope)
        if first is True:
            return True
        if first is not False:
            raise _BAIL
        second = b(env, scope)
        if second is True or second is False:
            return second
        raise _BAIL

    (x, x_names), (y, y_names) = _code(left), _code(right)
    a1, b1 = _fresh("_a"), _fresh("_b")
    second = f"({b1} if ({b1} := {y}) is True or {b1} is False else BAIL())"
    src = f"(True if ({a1} := {x}) is True else ({second} if {a1} is False else BAIL()))"
    return _Node(disjunction, src=src, names=x_names | y_names)


def _not(node: _Node) -> _Node:
    inner = node.fn

    def negation(env: Env, scope: dict[str, object]) -> object:
        value = inner(env, scope)
        if value is True:
            return False
        if value is False:
            return True
        raise _BAIL

    x, x_names = _code(node)
    a1 = _fresh("_a")
    src = f"(False if ({a1} := {x}) is True else (True if {a1} is False else BAIL()))"
    return _Node(negation, src=src, names=x_names)


def _in(left: _Node, right: _Node) -> _Node:
    a, b = left.fn, right.fn
    if left.const and _is_root_field(right):
        needle = a(None, {})  # type: ignore[arg-type]
        root, name = right.path
        if type(needle) is str:
            key = (root, name + "[]")

            def in_field(env: Env, scope: dict[str, object]) -> object:
                strings = env.values.get(key, _MISSING)
                if strings is _MISSING:
                    strings = env.strings(root, name)
                if strings is not None:
                    return needle in strings  # type: ignore[operator]
                return _contains(needle, b(env, scope))

            y, y_names = _code(right)
            n, k, s1, c = _fresh("N"), _fresh("K"), _fresh("_s"), _fresh("CONTAINS")
            r = _fresh("R")
            found = f"({s1} := (V[{k}] if {k} in V else env.strings(*{r})))"
            src = f"({n} in {s1} if {found} is not None else {c}({n}, {y}))"
            names = {n: needle, k: key, r: (root, name), c: _contains, **y_names}
            return _Node(in_field, src=src, names=names)
    if right.const:
        items = b(None, {})  # type: ignore[arg-type]
        if type(items) is list and items and all(type(item) is str for item in items):
            strings = frozenset(items)

            def among(env: Env, scope: dict[str, object]) -> object:
                value = a(env, scope)
                if type(value) is str:
                    return value in strings
                return _contains(value, items)

            return _Node(among)

    def membership(env: Env, scope: dict[str, object]) -> object:
        return _contains(a(env, scope), b(env, scope))

    return _Node(membership)


def _is_root_field(node: _Node) -> bool:
    return not node.variable and len(node.path) == 2 and node.path[0] in _MAP_ROOTS


def _relation(op: str, left: _Node, right: _Node) -> _Node:
    a, b = left.fn, right.fn
    if right.const:
        constant = b(None, {})  # type: ignore[arg-type]
        if type(constant) is str:
            return _string_relation(op, left, constant)
        if type(constant) in (int, float):
            return _number_relation(op, left, constant)  # type: ignore[arg-type]
    if op == "==":

        def eq(env: Env, scope: dict[str, object]) -> object:
            return equal(a(env, scope), b(env, scope))

        return _Node(eq)
    if op == "!=":

        def ne(env: Env, scope: dict[str, object]) -> object:
            return not equal(a(env, scope), b(env, scope))

        return _Node(ne)
    compare = _COMPARE[op]

    def relation(env: Env, scope: dict[str, object]) -> object:
        x, y = _ordered(a(env, scope), b(env, scope))
        return compare(x, y)

    return _Node(relation)


_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _field_key(node: _Node) -> tuple[str, str] | None:
    """``(root, field)`` when the node reads a variable's field (read inline, from the cache)."""
    return (node.path[0], node.path[1]) if _is_root_field(node) else None


def _string_relation(op: str, left: _Node, constant: str) -> _Node:
    """``x op "text"``: two strings compare as Python compares them (code points)."""
    compare = _COMPARE[op]
    a, key = left.fn, _field_key(left)

    def relation(env: Env, scope: dict[str, object]) -> object:
        if key is None:
            value = a(env, scope)
        else:
            value = env.values.get(key, _MISSING)
            if value is _MISSING:
                value = env.field(*key)
        if type(value) is str:
            return compare(value, constant)
        if op == "==":
            return equal(value, constant)
        if op == "!=":
            return not equal(value, constant)
        raise _BAIL  # ordering a string against anything else: the library errors

    def slow(value: object) -> object:  # the closure's tail, for a value that is not a string
        if op == "==":
            return equal(value, constant)
        if op == "!=":
            return not equal(value, constant)
        raise _BAIL

    x, x_names = _code(left)
    t, c, f = _fresh("_t"), _fresh("C"), _fresh("SLOW")
    src = f"({t} {op} {c} if ({t} := {x}).__class__ is str else {f}({t}))"
    return _Node(relation, src=src, names={**x_names, c: constant, f: slow})


def _number_relation(op: str, left: _Node, constant: float) -> _Node:
    """``x op 100``: numbers compare exactly unless an int is beyond what a double holds."""
    compare = _COMPARE[op]
    exact = type(constant) is float or abs(constant) <= _EXACT
    constant_is_int = type(constant) is int
    a, key = left.fn, _field_key(left)

    def relation(env: Env, scope: dict[str, object]) -> object:
        if key is None:
            value = a(env, scope)
        else:
            value = env.values.get(key, _MISSING)
            if value is _MISSING:
                value = env.field(*key)
        kind = type(value)
        if kind is float:
            if exact and value == value:  # NaN: the library refuses to order it
                return compare(value, constant)
        elif kind is int and (constant_is_int or abs(value) <= _EXACT):  # type: ignore[arg-type]
            return compare(value, constant)
        if op == "==":
            return equal(value, constant)
        if op == "!=":
            return not equal(value, constant)
        x, y = _ordered(value, constant)
        return compare(x, y)

    def slow(value: object) -> object:  # the closure's tail, for the values it does not order
        if op == "==":
            return equal(value, constant)
        if op == "!=":
            return not equal(value, constant)
        x, y = _ordered(value, constant)
        return compare(x, y)

    x, x_names = _code(left)
    t, k, c, f = _fresh("_t"), _fresh("_k"), _fresh("C"), _fresh("SLOW")
    float_ok = f"{t} == {t}" if exact else "False"
    int_ok = "True" if constant_is_int else f"-{_EXACT} <= {t} <= {_EXACT}"
    src = (
        f"({t} {op} {c} if ({k} := ({t} := {x}).__class__) is float and {float_ok}"
        f" else {t} {op} {c} if {k} is int and {int_ok} else {f}({t}))"
    )
    return _Node(relation, src=src, names={**x_names, c: constant, f: slow})


__all__ = ["Bail", "Env", "Fn", "compile_fast", "equal"]
