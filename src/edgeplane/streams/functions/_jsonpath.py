"""A JSONPath (Goessner) evaluator with the behaviour of the Go library eKuiper uses (PaesslerAG/jsonpath).

Supported: ``$`` and ``@`` roots, ``.name``, ``['name']`` / ``["name"]``, ``[index]`` (negative counts from
the end), ``[start:end:step]``, ``[*]`` / ``.*``, unions ``[0,2]`` / ``['a','b']``, recursive descent
``..name``, and filters ``[? @.age > 30]`` / ``[?(@.age > 30)]`` with ``== != < <= > >= && || !``,
arithmetic, ``=~`` (regular expression), string, number, true/false/null literals.

A path made only of names and single indexes yields one value and fails on a missing key or index, like
the Go library; a path with a wildcard, slice, union, filter or ``..`` yields the list of matches.
Paths are compiled once and kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

Step = Callable[[Any, Any], Iterator[Any]]  # (node, root) -> matched nodes


class JsonPathError(ValueError):
    """A path that does not parse, or a plain path that does not resolve."""


_MISSING = object()


# --- tokenizer for paths and filter expressions ---------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?) |
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*') |
    (?P<op>\.\.|==|!=|<=|>=|&&|\|\||=~|[$@.\[\]():,*?!<>+\-/%]) |
    (?P<name>[^\s.\[\]()'",:=!<>&|?*+\-/%@$]+)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise JsonPathError(f"unexpected character {text[pos]!r} at position {pos} in {text!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.plain = True

    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise JsonPathError(f"unexpected end of path {self.text!r}")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, tok, pos = self.take()
        if tok != value or kind not in ("op",):
            raise JsonPathError(f"expected {value!r} at position {pos} in {self.text!r}, got {tok!r}")

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "op" and tok[1] == value

    # path := ('$' | '@') segment*
    def path(self) -> list[Step]:
        _, tok, pos = self.take()
        if tok not in ("$", "@"):
            raise JsonPathError(f"a path must start with $ or @, got {tok!r} at position {pos}")
        steps: list[Step] = []
        while True:
            if self.at(".."):
                self.take()
                self.plain = False
                steps.append(_descend)
                if self.at("["):
                    steps.append(self.bracket())
                else:
                    steps.append(self.member())
            elif self.at("."):
                self.take()
                steps.append(self.member())
            elif self.at("["):
                steps.append(self.bracket())
            else:
                return steps

    def member(self) -> Step:
        kind, tok, pos = self.take()
        if kind == "op" and tok == "*":
            self.plain = False
            return _wildcard
        if kind in ("name", "num"):
            return _key(tok)
        raise JsonPathError(f"expected a member name at position {pos} in {self.text!r}, got {tok!r}")

    def bracket(self) -> Step:
        self.expect("[")
        if self.at("?"):
            self.take()
            self.plain = False
            predicate = self.expression()
            self.expect("]")
            return _filter(predicate)
        if self.at("*"):
            self.take()
            self.expect("]")
            self.plain = False
            return _wildcard
        selectors: list[Step] = []
        while True:
            selectors.append(self.selector())
            if self.at(","):
                self.take()
                continue
            break
        self.expect("]")
        if len(selectors) > 1:
            self.plain = False
            return _union(selectors)
        return selectors[0]

    def selector(self) -> Step:
        tok = self.peek()
        if tok is not None and tok[0] == "str":
            self.take()
            return _key(_unquote(tok[1]))
        parts: list[int | None] = [None]
        colons = 0
        while not (self.at("]") or self.at(",")):
            kind, value, pos = self.take()
            if kind == "op" and value == ":":
                colons += 1
                parts.append(None)
            elif kind == "num" and parts[-1] is None and "." not in value:
                parts[-1] = int(value)
            elif kind == "op" and value == "-" and self.peek() and self.peek()[0] == "num":
                parts[-1] = -int(self.take()[1])
            elif kind == "name":
                return _key(value)
            else:
                raise JsonPathError(f"unexpected {value!r} at position {pos} in {self.text!r}")
        if colons == 0:
            if parts[0] is None:
                raise JsonPathError(f"empty brackets in {self.text!r}")
            return _index(parts[0])
        if colons > 2:
            raise JsonPathError(f"a slice takes at most start:end:step in {self.text!r}")
        self.plain = False
        while len(parts) < 3:
            parts.append(None)
        return _slice(parts[0], parts[1], parts[2])

    # filter expressions, lowest precedence first
    def expression(self) -> Callable[[Any, Any], Any]:
        return self.disjunction()

    def disjunction(self) -> Callable[[Any, Any], Any]:
        left = self.conjunction()
        while self.at("||"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda n, r: _truthy(a(n, r)) or _truthy(b(n, r)))(left, right)
        return left

    def conjunction(self) -> Callable[[Any, Any], Any]:
        left = self.comparison()
        while self.at("&&"):
            self.take()
            right = self.comparison()
            left = (lambda a, b: lambda n, r: _truthy(a(n, r)) and _truthy(b(n, r)))(left, right)
        return left

    def comparison(self) -> Callable[[Any, Any], Any]:
        left = self.additive()
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in _COMPARE:
            self.take()
            right = self.additive()
            compare = _COMPARE[tok[1]]
            return lambda n, r: compare(left(n, r), right(n, r))
        return left

    def additive(self) -> Callable[[Any, Any], Any]:
        left = self.multiplicative()
        while (tok := self.peek()) and tok[0] == "op" and tok[1] in ("+", "-"):
            self.take()
            right = self.multiplicative()
            left = (lambda a, b, op: lambda n, r: _arith(op, a(n, r), b(n, r)))(left, right, tok[1])
        return left

    def multiplicative(self) -> Callable[[Any, Any], Any]:
        left = self.unary()
        while (tok := self.peek()) and tok[0] == "op" and tok[1] in ("*", "/", "%"):
            self.take()
            right = self.unary()
            left = (lambda a, b, op: lambda n, r: _arith(op, a(n, r), b(n, r)))(left, right, tok[1])
        return left

    def unary(self) -> Callable[[Any, Any], Any]:
        if self.at("!"):
            self.take()
            inner = self.unary()
            return lambda n, r: not _truthy(inner(n, r))
        if self.at("-"):
            self.take()
            inner = self.unary()
            return lambda n, r: _arith("-", 0, inner(n, r))
        return self.primary()

    def primary(self) -> Callable[[Any, Any], Any]:
        tok = self.peek()
        if tok is None:
            raise JsonPathError(f"unexpected end of filter in {self.text!r}")
        kind, value, pos = tok
        if kind == "op" and value == "(":
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        if kind == "op" and value in ("@", "$"):
            was_plain = self.plain
            steps = self.path()
            self.plain = was_plain
            start_at_root = value == "$"
            return lambda n, r: _first(steps, r if start_at_root else n, r)
        self.take()
        if kind == "num":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            return lambda n, r: number
        if kind == "str":
            text = _unquote(value)
            return lambda n, r: text
        if kind == "name" and value in _LITERALS:
            literal = _LITERALS[value]
            return lambda n, r: literal
        raise JsonPathError(f"unexpected {value!r} at position {pos} in filter of {self.text!r}")


_LITERALS = {"true": True, "false": False, "null": None, "nil": None}


def _truthy(value: Any) -> bool:
    return value is not _MISSING and value is not None and value is not False


def _comparable(a: Any, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return False
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num):
        return not (isinstance(a, bool) or isinstance(b, bool))
    return type(a) is type(b)


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda a, b: _comparable(a, b) and a is not None and op(a, b)


def _regex_match(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and re.search(b, a) is not None


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: _comparable(a, b) and a == b,
    "!=": lambda a, b: not (_comparable(a, b) and a == b),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "=~": _regex_match,
}


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if (
        not (isinstance(a, (int, float)) and isinstance(b, (int, float)))
        or isinstance(a, bool)
        or isinstance(b, bool)
    ):
        return _MISSING
    try:
        return {"+": a + b, "-": a - b, "*": a * b}[op] if op in "+-*" else (a / b if op == "/" else a % b)
    except ZeroDivisionError:
        return _MISSING


# --- steps ------------------------------------------------------------------------------------------


def _key(name: str) -> Step:
    def step(node: Any, root: Any) -> Iterator[Any]:
        if type(node) is dict and name in node:
            yield node[name]

    step.strict = lambda node: _strict_key(node, name)  # type: ignore[attr-defined]
    return step


def _strict_key(node: Any, name: str) -> Any:
    if type(node) is not dict:
        raise JsonPathError(f"unknown key {name}: not an object")
    if name not in node:
        raise JsonPathError(f"unknown key {name}")
    return node[name]


def _index(i: int) -> Step:
    def step(node: Any, root: Any) -> Iterator[Any]:
        if type(node) is list and -len(node) <= i < len(node):
            yield node[i]

    step.strict = lambda node: _strict_index(node, i)  # type: ignore[attr-defined]
    return step


def _strict_index(node: Any, i: int) -> Any:
    if type(node) is not list:
        raise JsonPathError(f"index {i}: not an array")
    if not -len(node) <= i < len(node):
        raise JsonPathError(f"index {i} out of bounds for array of length {len(node)}")
    return node[i]


def _slice(start: int | None, end: int | None, step_by: int | None) -> Step:
    if step_by == 0:
        raise JsonPathError("slice step must not be 0")

    def step(node: Any, root: Any) -> Iterator[Any]:
        if type(node) is list:
            yield from node[start:end:step_by]

    return step


def _wildcard(node: Any, root: Any) -> Iterator[Any]:
    if type(node) is dict:
        yield from node.values()
    elif type(node) is list:
        yield from node


def _descend(node: Any, root: Any) -> Iterator[Any]:
    yield node
    if type(node) is dict:
        for child in node.values():
            yield from _descend(child, root)
    elif type(node) is list:
        for child in node:
            yield from _descend(child, root)


def _union(selectors: list[Step]) -> Step:
    def step(node: Any, root: Any) -> Iterator[Any]:
        for selector in selectors:
            yield from selector(node, root)

    return step


def _filter(predicate: Callable[[Any, Any], Any]) -> Step:
    def step(node: Any, root: Any) -> Iterator[Any]:
        children = node.values() if type(node) is dict else node if type(node) is list else ()
        for child in children:
            if _truthy(predicate(child, root)):
                yield child

    return step


def _first(steps: list[Step], node: Any, root: Any) -> Any:
    nodes = [node]
    for step in steps:
        nodes = [out for n in nodes for out in step(n, root)]
        if not nodes:
            return _MISSING
    return nodes[0]


# --- compiled paths ---------------------------------------------------------------------------------


class JsonPath:
    """A compiled path: ``evaluate(data)`` gives one value (plain path) or the list of matches."""

    __slots__ = ("plain", "steps", "text")

    def __init__(self, text: str) -> None:
        parser = _Parser(text)
        self.steps = parser.path()
        if parser.peek() is not None:
            _, tok, pos = parser.peek()  # type: ignore[misc]
            raise JsonPathError(f"unexpected {tok!r} at position {pos} in {text!r}")
        self.plain = parser.plain
        self.text = text

    def evaluate(self, data: Any) -> Any:
        if self.plain:
            node = data
            for step in self.steps:
                node = step.strict(node)  # type: ignore[attr-defined]
            return node
        nodes = [data]
        for step in self.steps:
            nodes = [out for n in nodes for out in step(n, data)]
        return nodes


_COMPILED: dict[str, JsonPath] = {}


def compile_path(text: str) -> JsonPath:
    path = _COMPILED.get(text)
    if path is None:
        path = JsonPath(text)
        if len(_COMPILED) > 1024:
            _COMPILED.clear()
        _COMPILED[text] = path
    return path
