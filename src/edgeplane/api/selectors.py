"""Label and field selectors: parsed as Kubernetes parses them, compiled once, matched on list/watch hot paths.

Label selector syntax (``kubectl -l``, ``?labelSelector=``)::

    a=b  a==b  a!=b  a in (x,y)  a notin (x)  a  !a  a>1  a<5     joined by commas

Field selector syntax (``?fieldSelector=``): ``path=value``, ``path==value``, ``path!=value`` joined by commas,
with ``\\,``, ``\\=`` and ``\\\\`` escaping those characters in values.

Messages follow k8s.io/apimachinery's labels and fields packages; ``SelectorError.position`` is the offset in
the text of the part that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edgeplane.api import errors, names

# Operators, spelled as Kubernetes' selection.Operator values.
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_INT64 = re.compile(r"[+-]?[0-9]+")
_MAX_INT64 = 2**63 - 1


class SelectorError(ValueError):
    """A selector that cannot be parsed; ``position`` is where in the text the problem is, when known."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Requirement:
    """One condition on one label: ``key operator values``."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{values}"

    def matches(self, labels: Mapping[str, Any]) -> bool:
        return _check(self)(labels)


def _int64(text: Any) -> int | None:
    if not isinstance(text, str) or not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if -_MAX_INT64 - 1 <= value <= _MAX_INT64 else None


def _check(req: Requirement) -> Callable[[Mapping[str, Any]], bool]:
    """A closure testing one requirement against a label map (never None)."""
    key, op, values = req.key, req.operator, req.values
    if op in (EQUALS, DOUBLE_EQUALS, IN) and len(values) == 1:
        value = values[0]
        return lambda labels: key in labels and labels[key] == value
    if op == IN:
        allowed = frozenset(values)
        return lambda labels: key in labels and labels[key] in allowed
    if op in (NOT_EQUALS, NOT_IN):
        refused = frozenset(values)
        return lambda labels: key not in labels or labels[key] not in refused
    if op == EXISTS:
        return lambda labels: key in labels
    if op == DOES_NOT_EXIST:
        return lambda labels: key not in labels
    bound = _int64(values[0]) if len(values) == 1 else None
    if bound is None:
        return lambda labels: False

    def compare(labels: Mapping[str, Any]) -> bool:
        number = _int64(labels.get(key))
        if number is None:
            return False
        return number > bound if op == GREATER_THAN else number < bound

    return compare


def _validate(key: str, op: str, values: tuple[str, ...], path: str) -> list[str]:
    """Kubernetes' NewRequirement checks, as ``field: Invalid value: ...`` messages."""
    problems = [_invalid(f"{path}key", key, m) for m in names.qualified_name(key)]
    where = f"{path}values"
    if op in (IN, NOT_IN) and not values:
        problems.append(
            _invalid(where, list(values), "for 'in', 'notin' operators, values set can't be empty")
        )
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(values) != 1:
        problems.append(_invalid(where, list(values), "exact-match compatibility requires one single value"))
    elif op in (EXISTS, DOES_NOT_EXIST) and values:
        problems.append(
            _invalid(where, list(values), "values set must be empty for exists and does not exist")
        )
    elif op in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            problems.append(
                _invalid(where, list(values), "for 'Gt', 'Lt' operators, exactly one value is required")
            )
        for i, value in enumerate(values):
            if _int64(value) is None:
                problems.append(
                    _invalid(f"{where}[{i}]", value, "for 'Gt', 'Lt' operators, the value must be an integer")
                )
    for i, value in enumerate(values):
        problems += [_invalid(f"{where}[{i}]", value, m) for m in names.label_value(value)]
    return problems


def _invalid(path: str, value: Any, detail: str) -> str:
    cause = errors.invalid(path, value, detail)
    return f"{cause.field}: {cause.message}"


def _aggregate(problems: list[str]) -> str:
    """How Kubernetes prints an error list: the one message, or ``[a, b]``."""
    unique = list(dict.fromkeys(problems))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# ---------------------------------------------------------------------------------------------------------
# Label selector lexer and parser, after k8s.io/apimachinery/pkg/labels/selector.go.

_ID, _END = "identifier", "end of string"
_SPECIAL = frozenset("=!(),<>")
_WHITESPACE = frozenset(" \t\r\n")
_SYMBOLS = ("!=", "==", "=", "!", "(", ")", ",", ">", "<")
_KEYWORDS = {"in": IN, "notin": NOT_IN}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # _ID, _END, a symbol, or a keyword (in, notin)
    text: str
    position: int


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            tokens.append(_Token(_END, "", n))
            return tokens
        if text[i] in _SPECIAL:
            symbol = next(s for s in _SYMBOLS if text.startswith(s, i))
            tokens.append(_Token(symbol, symbol, i))
            i += len(symbol)
            continue
        start = i
        while i < n and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
            i += 1
        word = text[start:i]
        tokens.append(_Token(_KEYWORDS.get(word, _ID), word, start))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.at = 0

    def peek(self, values: bool = True) -> _Token:
        return self._as_value(self.tokens[self.at]) if values else self.tokens[self.at]

    def take(self, values: bool = True) -> _Token:
        token = self.peek(values)
        self.at += 1
        return token

    @staticmethod
    def _as_value(token: _Token) -> _Token:
        # In a value position "in" and "notin" are ordinary words ("x in (in)").
        return _Token(_ID, token.text, token.position) if token.kind in (IN, NOT_IN) else token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token = self.peek()
            if token.kind == _END:
                return requirements
            if token.kind not in (_ID, "!"):
                raise SelectorError(
                    f"found '{token.text}', expected: !, identifier, or 'end of string'", token.position
                )
            requirements.append(self.requirement())
            after = self.take()
            if after.kind == _END:
                return requirements
            if after.kind != ",":
                raise SelectorError(f"found '{after.text}', expected: ',' or 'end of string'", after.position)
            following = self.peek()
            if following.kind not in (_ID, "!"):
                raise SelectorError(
                    f"found '{following.text}', expected: identifier after ','", following.position
                )

    def requirement(self) -> Requirement:
        try:
            return self._requirement()
        except SelectorError as exc:
            raise SelectorError(f"unable to parse requirement: {exc.message}", exc.position) from None

    def _requirement(self) -> Requirement:
        token = self.take()
        negated = token.kind == "!"
        if negated:
            token = self.take()
        if token.kind != _ID:
            raise SelectorError(f"found '{token.text}', expected: identifier", token.position)
        key = token.text
        key_problems = names.qualified_name(key)
        if key_problems:
            raise SelectorError(_invalid("key", key, "; ".join(key_problems)), token.position)
        if negated or self.peek().kind in (_END, ","):
            return self._build(key, DOES_NOT_EXIST if negated else EXISTS, (), token.position)
        op_token = self.take(values=False)
        op = {"=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS, ">": GREATER_THAN, "<": LESS_THAN}.get(
            op_token.kind, op_token.kind if op_token.kind in (IN, NOT_IN) else ""
        )
        if not op:
            raise SelectorError(
                f"found '{op_token.text}', expected: {', '.join(_BINARY_OPERATORS)}", op_token.position
            )
        values, position = self.set_values() if op in (IN, NOT_IN) else self.exact_value()
        return self._build(key, op, tuple(sorted(set(values))), position)

    @staticmethod
    def _build(key: str, op: str, values: tuple[str, ...], position: int) -> Requirement:
        problems = _validate(key, op, values, "")
        if problems:
            raise SelectorError(_aggregate(problems), position)
        return Requirement(key, op, values)

    def exact_value(self) -> tuple[list[str], int]:
        token = self.peek()
        if token.kind in (_END, ","):
            return [""], token.position
        self.take()
        if token.kind != _ID:
            raise SelectorError(f"found '{token.text}', expected: identifier", token.position)
        return [token.text], token.position

    def set_values(self) -> tuple[list[str], int]:
        opening = self.take()
        if opening.kind != "(":
            raise SelectorError(f"found '{opening.text}' expected: '('", opening.position)
        first = self.peek()
        if first.kind == ")":
            self.take()
            return [""], opening.position  # "()" holds just the empty value
        if first.kind not in (_ID, ","):
            raise SelectorError(f"found '{first.text}', expected: ',', ')' or identifier", first.position)
        values = self.identifiers()
        self.take()  # the ")" identifiers() stopped at
        return values, opening.position

    def identifiers(self) -> list[str]:
        """A comma-separated list of possibly empty values, up to (not including) the closing parenthesis."""
        values: list[str] = []
        while True:
            token = self.take()
            if token.kind == _ID:
                values.append(token.text)
                following = self.peek()
                if following.kind == ")":
                    return values
                if following.kind != ",":
                    raise SelectorError(f"found '{following.text}', expected: ',' or ')'", following.position)
            elif token.kind == ",":
                if not values:
                    values.append("")  # "(,a)"
                following = self.peek()
                if following.kind == ")":
                    values.append("")  # "(a,)"
                    return values
                if following.kind == ",":
                    self.take()
                    values.append("")  # "(a,,b)"
            else:
                raise SelectorError(f"found '{token.text}', expected: ',', or identifier", token.position)


class LabelSelector:
    """A parsed label selector: requirements ANDed together, compiled for matching."""

    def __init__(
        self, requirements: list[Requirement] | tuple[Requirement, ...] = (), *, nothing: bool = False
    ):
        self._requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self._nothing = nothing
        # An instance attribute shadows the method: callers get the compiled closure with no extra call.
        self.matches = self._compile()

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse ``kubectl -l`` syntax; an empty string selects everything."""
        if not isinstance(text, str):
            raise SelectorError(f"a label selector must be a string, got {type(text).__name__}")
        return cls(_Parser(text).parse())

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any] | None) -> LabelSelector:
        """A metav1.LabelSelector (matchLabels, matchExpressions). None selects nothing, {} everything."""
        if selector is None:
            return cls(nothing=True)
        if not isinstance(selector, Mapping):
            raise SelectorError(f"a label selector must be an object, got {type(selector).__name__}")
        match_labels = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
        if not isinstance(match_labels, Mapping):
            raise SelectorError(
                _invalid("matchLabels", match_labels, "must be an object of label keys to values")
            )
        if not isinstance(expressions, list):
            raise SelectorError(_invalid("matchExpressions", expressions, "must be a list of requirements"))
        requirements: list[Requirement] = []
        problems: list[str] = []
        for key, value in match_labels.items():
            if not isinstance(value, str):
                problems.append(_invalid(f"matchLabels[{key}]", value, "must be a string"))
                continue
            problems += [_invalid("matchLabels", key, m) for m in names.qualified_name(str(key))]
            problems += [_invalid(f"matchLabels[{key}]", value, m) for m in names.label_value(value)]
            requirements.append(Requirement(str(key), EQUALS, (value,)))
        for i, expression in enumerate(expressions):
            requirement, found = _expression(expression, f"matchExpressions[{i}].")
            problems += found
            if requirement is not None:
                requirements.append(requirement)
        if problems:
            raise SelectorError(_aggregate(problems))
        return cls(requirements)

    def requirements(self) -> list[Requirement]:
        """The requirements, sorted by key (for index lookups and equality fast paths)."""
        return list(self._requirements)

    def empty(self) -> bool:
        """True when the selector matches every object."""
        return not self._requirements and not self._nothing

    def requires_exact_match(self, key: str) -> str | None:
        """The one value the selector requires label ``key`` to have, if it requires one."""
        for req in self._requirements:
            if req.key == key:
                if req.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(req.values) == 1:
                    return req.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})" if not self._nothing else "LabelSelector(<nothing>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return (self._requirements, self._nothing) == (other._requirements, other._nothing)

    def __hash__(self) -> int:
        return hash((self._requirements, self._nothing))

    def matches(self, labels: Mapping[str, Any] | None) -> bool:  # replaced per instance in __init__
        """Whether an object with these labels is selected."""
        return self._compile()(labels)

    def _compile(self) -> Callable[[Mapping[str, Any] | None], bool]:
        if self._nothing:
            return lambda labels: False
        if not self._requirements:
            return lambda labels: True
        exact = frozenset(
            (r.key, r.values[0])
            for r in self._requirements
            if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1
        )
        checks = tuple(
            _check(r)
            for r in self._requirements
            if not (r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1)
        )
        if not checks:
            if len(exact) == 1:
                ((key, value),) = exact
                return lambda labels: labels is not None and key in labels and labels[key] == value
            # dict_items compares as a set without hashing the label values: one C-level subset test.
            return lambda labels: labels is not None and labels.items() >= exact

        empty: Mapping[str, Any] = {}

        def match(labels: Mapping[str, Any] | None) -> bool:
            if labels is None:
                labels = empty
            if exact and not labels.items() >= exact:
                return False
            for check in checks:  # noqa: SIM110 - a plain loop beats all() over a generator here
                if not check(labels):
                    return False
            return True

        return match


_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def _expression(expression: Any, path: str) -> tuple[Requirement | None, list[str]]:
    """One matchExpressions entry as a requirement, or the problems with it."""
    if not isinstance(expression, Mapping):
        return None, [_invalid(path.rstrip("."), expression, "must be an object")]
    key, operator = expression.get("key", ""), expression.get("operator")
    values = expression.get("values") or []
    if operator not in _EXPRESSION_OPERATORS:
        cause = errors.not_supported(f"{path}operator", operator, list(_EXPRESSION_OPERATORS))
        return None, [f"{cause.field}: {cause.message}"]
    if not isinstance(key, str):
        return None, [_invalid(f"{path}key", key, "must be a string")]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None, [_invalid(f"{path}values", values, "must be a list of strings")]
    op = _EXPRESSION_OPERATORS[operator]
    problems = _validate(key, op, tuple(values), path)
    return (None if problems else Requirement(key, op, tuple(values))), problems


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """The selector matching exactly these labels (nodeSelector, matchLabels); empty selects everything.

    Like Kubernetes' SelectorFromSet it does not validate: the objects holding the map were validated.
    """
    return LabelSelector([Requirement(k, EQUALS, (v,)) for k, v in (labels or {}).items()])


# ---------------------------------------------------------------------------------------------------------
# Field selectors, after k8s.io/apimachinery/pkg/fields/selector.go.


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    operator: str  # =, == or !=
    value: str

    def __str__(self) -> str:
        symbol = NOT_EQUALS if self.operator == NOT_EQUALS else EQUALS
        return f"{self.field}{symbol}{escape_field_value(self.value)}"


def escape_field_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


class FieldSelector:
    """A parsed field selector: ``path=value`` terms ANDed together."""

    def __init__(self, requirements: list[FieldRequirement] | tuple[FieldRequirement, ...] = ()) -> None:
        self._requirements = tuple(requirements)
        self._checks = tuple((r.field, r.operator == NOT_EQUALS, r.value) for r in self._requirements)

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        if not isinstance(text, str):
            raise SelectorError(f"a field selector must be a string, got {type(text).__name__}")
        terms = sorted(_split_terms(text), key=lambda term: term[0])
        return cls([_field_term(text, term, start) for term, start in terms if term])

    def fields(self) -> list[str]:
        """The field paths the selector reads, each once, so the server can reject unsupported ones."""
        return list(dict.fromkeys(r.field for r in self._requirements))

    def requirements(self) -> list[FieldRequirement]:
        return list(self._requirements)

    def empty(self) -> bool:
        return not self._requirements

    def requires_exact_match(self, field: str) -> str | None:
        for req in self._requirements:
            if req.field == field and req.operator != NOT_EQUALS:
                return req.value
        return None

    def matches(self, get: Callable[[str], str | None]) -> bool:
        """``get(path)`` gives the object's value at a field path (None when absent, compared as "")."""
        for path, negated, value in self._checks:
            actual = get(path)
            if ((actual if actual is not None else "") == value) == negated:
                return False
        return True

    def __str__(self) -> str:
        return ",".join(str(r) for r in self._requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def _split_terms(text: str) -> list[tuple[str, int]]:
    """Comma-separated terms with their offsets; a backslash-escaped comma stays inside its term."""
    if not text:
        return []
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append((text[start:i], start))
            start = i + 1
    terms.append((text[start:], start))
    return terms


def _field_term(text: str, term: str, start: int) -> FieldRequirement:
    # The field path cannot be escaped, so the first operator splits the term; "!=" and "==" before "=".
    match = re.search(r"!=|==|=", term)
    if match is None:
        raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'", start)
    value = _unescape(term[match.end() :], start + match.end())
    return FieldRequirement(term[: match.start()], match.group(), value)


def _unescape(raw: str, offset: int) -> str:
    if not any(c in raw for c in "\\,="):
        return raw
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(raw):
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(
                    f"invalid field selector: invalid escape sequence: \\{ch}", offset + i - 1
                )
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped character in value: {ch}", offset + i)
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\", offset + len(raw) - 1)
    return "".join(out)
