"""Expressions to Python source.

Each expression becomes one Python expression over the current row ``m`` (a message dict, or for joins
a dict of stream name to message dict). Null handling follows eKuiper: arithmetic on null is null, a
comparison with null is false. Walrus temporaries keep every operand evaluated once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeplane.streams.compiler import helpers
from edgeplane.streams.compiler.codegen import CodeEnv
from edgeplane.streams.functions import registry
from edgeplane.streams.sql import ast
from edgeplane.streams.sql.errors import SQLError

_COMPARE = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = {"+": "+", "-": "-", "*": "*", "&": "&", "|": "|", "^": "^"}
_BOOLEAN_NODES = (ast.InList, ast.Between, ast.Like)
# Functions whose argument names a key rather than a column: meta(topic) reads the "topic" metadata.
_NAME_ARGUMENT_FUNCTIONS = frozenset({"meta"})


@dataclass
class Scope:
    """Where column names resolve: one stream, or several joined ones."""

    refs: dict[str, str]  # every name a source may be called by (alias or name) -> its key in joined rows
    columns: dict[str, frozenset[str] | None]  # key -> declared columns; None when schemaless
    joined: bool = False

    def field(self, name: str, stream: str | None) -> str:
        if not self.joined:
            return f"m.get({name!r})"
        if stream is not None:
            return f"m[{self.refs[stream]!r}].get({name!r})"
        owners = [key for key, cols in self.columns.items() if cols is not None and name in cols]
        if len(owners) == 1 and all(cols is not None for cols in self.columns.values()):
            return f"m[{owners[0]!r}].get({name!r})"
        return f"_join_get(m, {name!r})"


@dataclass
class ExprCompiler:
    sql: str
    env: CodeEnv
    scope: Scope
    # Hooks the query compiler provides; None where that kind of call is not allowed.
    aggregate: Callable[[ast.Call, registry.FunctionDef], str] | None = None
    analytic: Callable[[ast.Call, registry.FunctionDef], str] | None = None
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> code for its value
    alias_exprs: dict[str, ast.Expr] = field(default_factory=dict)  # alias -> expression, inlined on use
    where: str = "this clause"

    def compile(self, e: ast.Expr) -> str:
        method = getattr(self, "_" + type(e).__name__.lower())
        return method(e)

    def condition(self, e: ast.Expr) -> str:
        """Code that is truthy exactly when ``e`` holds (null counts as false)."""
        code = self.compile(e)
        return code if _is_boolean(e) else f"(({code}) is True)"

    def error(self, message: str, e: ast.Expr) -> SQLError:
        return SQLError(message, self.sql, e.pos)

    # ---- leaves ----------------------------------------------------------------------------------

    def _literal(self, e: ast.Literal) -> str:
        return repr(e.value)

    def _fieldref(self, e: ast.FieldRef) -> str:
        if e.stream is None:
            if e.name in self.aliases:
                return self.aliases[e.name]
            if e.name in self.alias_exprs:
                expr = self.alias_exprs.pop(e.name)  # popped while compiling: no self-reference loop
                try:
                    return self.compile(expr)
                finally:
                    self.alias_exprs[e.name] = expr
            return self.scope.field(e.name, None)
        if e.stream in self.scope.refs:
            return self.scope.field(e.name, e.stream)
        # a.b where a is no stream: key b of column a
        return self._member(ast.Member(e.pos, ast.FieldRef(e.pos, e.stream), e.name))

    def _wildcard(self, e: ast.Wildcard) -> str:
        if self.scope.joined:
            return f"m[{self.scope.refs[e.stream]!r}]" if e.stream else "_merge(m)"
        return "m"

    # ---- structure -------------------------------------------------------------------------------

    def _member(self, e: ast.Member) -> str:
        t = self.env.temp()
        return f"({t}.get({e.key!r}) if type({t} := {self.compile(e.base)}) is dict else None)"

    def _index(self, e: ast.Index) -> str:
        return f"_index({self.compile(e.base)}, {self.compile(e.index)})"

    def _slice(self, e: ast.Slice) -> str:
        start = "None" if e.start is None else self.compile(e.start)
        end = "None" if e.end is None else self.compile(e.end)
        return f"_slice({self.compile(e.base)}, {start}, {end})"

    # ---- operators -------------------------------------------------------------------------------

    def _unary(self, e: ast.Unary) -> str:
        inner = self.compile(e.operand)
        t = self.env.temp()
        if e.op == "NOT":
            if _is_boolean(e.operand):
                return f"(not {inner})"
            return f"(None if ({t} := {inner}) is None else not {t})"
        return f"(None if ({t} := {inner}) is None else -{t})"

    def _binary(self, e: ast.Binary) -> str:
        if e.op in ("AND", "OR"):
            return f"({self.condition(e.left)} {e.op.lower()} {self.condition(e.right)})"
        folded = self._fold(e)
        if folded is not None:
            return folded
        left, right = self.compile(e.left), self.compile(e.right)
        if e.op == "/":
            return f"_div({left}, {right})"
        if e.op == "%":
            return f"_mod({left}, {right})"
        a, b = self._operand(e.left, left), self._operand(e.right, right)
        guards = " and ".join(g for g in (a[1], b[1]) if g)
        if e.op in _COMPARE:
            expr = f"{a[0]} {_COMPARE[e.op]} {b[0]}"
            return f"({guards} and {expr})" if guards else f"({expr})"
        # Numbers only (no string repetition or list concatenation); null gives null via _arith.
        checks = " and ".join(f"{v[0]}.__class__ in _NUM" for v in (a, b) if v[1])
        expr = f"{a[0]} {_ARITH[e.op]} {b[0]}"
        if not checks:
            return f"({expr})"
        walrus = " and ".join(f"(({g}) or True)" for g in (a[1], b[1]) if g)
        return f"({expr} if {walrus} and {checks} else _arith({e.op!r}, {a[0]}, {b[0]}))"

    def _operand(self, e: ast.Expr, code: str) -> tuple[str, str]:
        """(value code, non-null guard code); literals need no guard."""
        if isinstance(e, ast.Literal) and e.value is not None and not isinstance(e.value, bool | str):
            return code, ""
        t = self.env.temp()
        return t, f"({t} := {code}) is not None"

    def _fold(self, e: ast.Binary) -> str | None:
        if not (isinstance(e.left, ast.Literal) and isinstance(e.right, ast.Literal)):
            return None
        a, b = e.left.value, e.right.value
        try:
            if e.op == "/":
                return repr(helpers.div(a, b))
            if e.op == "%":
                return repr(helpers.mod(a, b))
            if e.op in _ARITH:
                return repr(eval(f"a {_ARITH[e.op]} b", {"a": a, "b": b}))
            return repr(eval(f"a {_COMPARE[e.op]} b", {"a": a, "b": b}))
        except (helpers.EvalError, TypeError, ArithmeticError) as exc:
            raise self.error(f"invalid constant expression: {exc}", e) from None

    def _inlist(self, e: ast.InList) -> str:
        value = self.compile(e.operand)
        op = "not in" if e.negated else "in"
        if all(isinstance(i, ast.Literal) for i in e.items):
            values = [i.value for i in e.items]
            try:
                options = self.env.bind(frozenset(values), "_set")
            except TypeError:
                options = self.env.bind(tuple(values), "_tuple")
            return f"({value} {op} {options})"
        return f"({value} {op} ({', '.join(self.compile(i) for i in e.items)},))"

    def _between(self, e: ast.Between) -> str:
        t = self.env.temp()
        low, high = self.compile(e.low), self.compile(e.high)
        test = f"(({t} := {self.compile(e.operand)}) is not None and {low} <= {t} <= {high})"
        return f"(not {test})" if e.negated else test

    def _like(self, e: ast.Like) -> str:
        value = self.compile(e.operand)
        if isinstance(e.pattern, ast.Literal) and isinstance(e.pattern.value, str):
            regex = self.env.bind(helpers.like_regex(e.pattern.value), "_re")
            t = self.env.temp()
            test = f"(type({t} := {value}) is str and {regex}.fullmatch({t}) is not None)"
        else:
            test = f"_like({value}, {self.compile(e.pattern)})"
        return f"(not {test})" if e.negated else test

    def _case(self, e: ast.Case) -> str:
        default = "None" if e.default is None else self.compile(e.default)
        parts: list[str] = []
        if e.operand is None:
            for cond, result in e.whens:
                parts.append(f"{self.compile(result)} if {self.condition(cond)} else")
        else:
            t = self.env.temp()
            first = True
            for value, result in e.whens:
                subject = f"({t} := {self.compile(e.operand)})" if first else t
                first = False
                parts.append(f"{self.compile(result)} if {subject} == {self.compile(value)} else")
        return "(" + " ".join(parts) + f" {default})"

    # ---- function calls --------------------------------------------------------------------------

    def _call(self, e: ast.Call) -> str:
        fn = self.function(e)
        if fn.kind == "aggregate":
            if self.aggregate is None:
                raise self.error(f"aggregate function {e.name} is not allowed in {self.where}", e)
            return self.aggregate(e, fn)
        if fn.kind == "analytic" or e.over is not None:
            if self.analytic is None:
                raise self.error(f"analytic function {e.name} is not allowed in {self.where}", e)
            return self.analytic(e, fn)
        if fn.kind == "srf":
            raise self.error(f"{e.name} returns several rows and may only be a whole SELECT field", e)
        if e.filter is not None:
            raise self.error(f"FILTER (WHERE ...) only applies to aggregate functions, not {e.name}", e)
        return self.scalar_call(e, fn)

    def function(self, e: ast.Call) -> registry.FunctionDef:
        """Look ``e`` up in the catalogue and check its arguments."""
        fn = registry.lookup(e.name)
        if fn is None:
            raise self.error(f"unknown function {e.name}", e)
        n = len(e.args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            if fn.max_args == fn.min_args:
                want = f"{fn.min_args}"
            elif fn.max_args is None:
                want = f"at least {fn.min_args}"
            else:
                want = f"{fn.min_args} to {fn.max_args}"
            raise self.error(f"function {e.name} expects {want} argument(s), found {n}", e)
        for i in fn.constant_args:
            if i < n and not isinstance(e.args[i], ast.Literal):
                raise self.error(f"argument {i + 1} of {e.name} must be a constant", e.args[i])
        if fn.validate_args is not None:
            values = tuple(a.value if isinstance(a, ast.Literal) else registry.NOT_CONSTANT for a in e.args)
            try:
                fn.validate_args(values)
            except registry.FunctionError as exc:
                raise self.error(str(exc), e) from None
        return fn

    def args(self, e: ast.Call) -> list[str]:
        out = []
        if e.name.lower() in _NAME_ARGUMENT_FUNCTIONS and len(e.args) == 1:
            arg = e.args[0]
            if isinstance(arg, ast.FieldRef) and arg.stream is None:
                return [repr(arg.name)]
            if isinstance(arg, ast.Wildcard):
                return [repr("*")]
        named_from = fn.named_args_from if (fn := registry.lookup(e.name)) is not None else None
        for i, arg in enumerate(e.args):
            if isinstance(arg, ast.Wildcard) and not arg.except_ and not arg.replace:
                code = self._wildcard(arg) if e.name.lower() != "count" else "1"
                if named_from is not None and i >= named_from:
                    code = f"_visible({code})"  # the row's columns, without engine-internal ones
                out.append(code)
            elif named_from is not None and i >= named_from:
                out.append(f"({default_name(arg) or ''!r}, {self.compile(arg)})")
            else:
                out.append(self.compile(arg))
        return out

    def scalar_call(self, e: ast.Call, fn: registry.FunctionDef) -> str:
        impl = self.env.bind(fn.impl, "_fn")
        args = self.args(e)
        lead = ["_ctx"] if fn.needs_context else []
        if fn.needs_context:
            self.env.uses_context = True
        if not fn.null_in_null_out or not args:
            return f"{impl}({', '.join(lead + args)})"
        temps = [self.env.temp() for _ in args]
        guards = " and ".join(f"({t} := {a}) is not None" for t, a in zip(temps, args, strict=True))
        return f"({impl}({', '.join(lead + temps)}) if {guards} else None)"


def _is_boolean(e: ast.Expr) -> bool:
    if isinstance(e, _BOOLEAN_NODES):
        return True
    if isinstance(e, ast.Binary):
        return e.op in _COMPARE or e.op in ("AND", "OR")
    if isinstance(e, ast.Unary):
        return e.op == "NOT" and _is_boolean(e.operand)
    return isinstance(e, ast.Literal) and isinstance(e.value, bool)


def default_name(e: ast.Expr) -> str | None:
    """eKuiper's column name for an unaliased field; None means kuiper_field_N."""
    if isinstance(e, ast.FieldRef):
        return e.name
    if isinstance(e, ast.Member):
        return e.key
    if isinstance(e, ast.Call):
        return e.name.lower()
    return None


def literal_value(e: ast.Expr) -> Any:
    return e.value if isinstance(e, ast.Literal) else None
