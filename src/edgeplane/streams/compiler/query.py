"""A SELECT compiled to Python functions, generated as source and compiled once per rule.

Two shapes:
- per message (no window, no join): ``process(batch)`` filters and projects in one tight loop and
  returns one emission per passing message;
- per window (or per joined message): ``add(state, rows)`` folds rows into a state - a list of rows, or
  for aggregates a dict of group key to [first row, accumulator...] - and ``finish(state)`` turns
  it into the emitted rows (HAVING, projection, ORDER BY, LIMIT). Windows whose rows never overlap
  call ``add`` as messages arrive, so their memory stays flat for incremental aggregates.

Analytic functions run first on every message (before WHERE), as eKuiper does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeplane.streams.compiler.aggregation import AnalyticSite, columns_factory
from edgeplane.streams.compiler.codegen import CodeEnv, indent
from edgeplane.streams.compiler.expressions import ExprCompiler, Scope, default_name
from edgeplane.streams.compiler.helpers import HIDDEN_PREFIX
from edgeplane.streams.functions import registry
from edgeplane.streams.sql import ast
from edgeplane.streams.sql.errors import SQLError


@dataclass
class CompiledQuery:
    aggregate: bool  # one row per group rather than per input row
    analytic: bool
    process: Callable[[list[dict]], list[list[dict]]] | None = None  # per-message shape
    prepare: Callable[[dict], dict | None] | None = None  # window shape: on arrival
    new_state: Callable[[], Any] = list
    add: Callable[[Any, list], None] | None = None
    finish: Callable[[Any], list[dict]] | None = None
    incremental: bool = False  # add() keeps only per-group accumulators, not rows
    source: str = ""  # the generated code, for debugging and tests


@dataclass
class _Agg:
    fn: registry.FunctionDef
    call: ast.Call
    var: str


@dataclass
class QueryCompiler:
    sql: str
    stmt: ast.Select
    scope: Scope
    env: CodeEnv
    windowed: bool  # a window, a join or an aggregate: the add/finish shape
    hidden_columns: bool = False  # rows carry hidden columns (arrival time) that SELECT * leaves out
    # WHERE runs on the window's rows rather than before them (event time, sliding, count and state
    # windows, no window): when it leaves nothing, nothing is sent, as eKuiper's filter passes nothing on.
    where_after_window: bool = True
    aggs: list[_Agg] = field(default_factory=list)
    analytics: list[tuple[ast.Call, str]] = field(default_factory=list)

    # ---- hooks for the expression compiler -------------------------------------------------------

    def _aggregate_slot(self, call: ast.Call, fn: registry.FunctionDef) -> str:
        for agg in self.aggs:
            if agg.call == call:
                return agg.var
        var = f"_a{len(self.aggs)}"
        self.aggs.append(_Agg(fn, call, var))
        return var

    def _analytic_slot(self, call: ast.Call, fn: registry.FunctionDef) -> str:
        for seen, code in self.analytics:
            if seen == call:
                return code
        i = len(self.analytics)
        code = f"m.get({HIDDEN_PREFIX + 'an' + str(i)!r})" if self.windowed else f"_an{i}"
        self.analytics.append((call, code))
        return code

    def _compiler(self, where: str, *, group: bool, analytic: bool = True) -> ExprCompiler:
        c = ExprCompiler(self.sql, self.env, self.scope, where=where)
        if group:
            c.aggregate = self._aggregate_slot
        if analytic:
            c.analytic = self._analytic_slot
        c.alias_exprs = {f.alias: f.expr for f in self.stmt.fields if f.alias}
        return c

    # ---- entry point -----------------------------------------------------------------------------

    def build(self) -> CompiledQuery:
        stmt = self.stmt
        aggregate = is_aggregate(stmt)
        # Projection first: it discovers the aggregate and analytic calls the other parts use.
        proj = self._projection(group=aggregate)
        having = None
        if stmt.having is not None:
            if not aggregate and not self.windowed:
                raise SQLError("HAVING needs a window, GROUP BY or an aggregate function", self.sql,
                               stmt.having.pos)
            having = self._compiler("HAVING", group=True).condition(stmt.having)
        order_keys = [self._compiler("ORDER BY", group=aggregate, analytic=True) for _ in stmt.order_by]
        for c in order_keys:
            c.aliases = dict(self._order_aliases)  # ORDER BY sees the SELECT list's computed values
        order_keys_code = [c.compile(o.expr) for c, o in zip(order_keys, stmt.order_by, strict=True)]
        where = None
        if stmt.where is not None:
            where = self._compiler("WHERE", group=False).condition(stmt.where)
        if self.windowed:
            return self._window_shape(aggregate, proj, where, having, order_keys_code)
        return self._message_shape(proj, where)

    # ---- SELECT list -----------------------------------------------------------------------------

    def _projection(self, group: bool) -> list[str]:
        """Lines that build the output row ``r`` (and ``_srf``, a several-rows function, if any)."""
        # An alias defined earlier reads its computed value (c.aliases); one defined later is computed
        # in place from its expression (c.alias_exprs), as eKuiper resolves aliases in any order.
        c = self._compiler("SELECT", group=group)
        lines: list[str] = []
        names: set[str] = set()
        after_wildcard = False
        anonymous = 0
        fields = self.stmt.fields
        srf_seen = False
        for i, f in enumerate(fields):
            if isinstance(f.expr, ast.Wildcard):
                lines += self._wildcard_lines(c, f.expr, first=not lines, only=len(fields) == 1)
                after_wildcard = True
                continue
            if isinstance(f.expr, ast.Call) and _kind(f.expr) == "srf":
                if srf_seen:
                    raise SQLError("only one function returning several rows is allowed", self.sql, f.pos)
                srf_seen = True
                fn = c.function(f.expr)
                impl = self.env.bind(fn.impl, "_fn")
                args = ", ".join(c.args(f.expr))
                lines.append(f"_srf = ({impl}({args}), {f.alias or f.expr.name.lower()!r})")
                continue
            if not lines:
                lines.append("r = {}")
            if isinstance(f.expr, ast.Call) and _multi_column(f.expr):
                # changed_cols(...): its columns join the row (nulls left out, like every column)
                value = f"_v{i}"
                lines.append(f"{value} = {c.compile(f.expr)}")
                lines.append(f"if {value}: r.update({{k: v for k, v in {value}.items() if v is not None}})")
                continue
            name = f.alias or default_name(f.expr)
            if name is None:
                name = f"kuiper_field_{anonymous}"
                anonymous += 1
            value = f"_v{i}"
            if f.alias:
                c.alias_exprs.pop(f.alias, None)  # `size + 1 AS size` reads the column
            lines.append(f"{value} = {c.compile(f.expr)}")
            if f.alias:
                c.aliases[f.alias] = value
            if name in names:
                continue  # eKuiper keeps the first value for a repeated name
            names.add(name)
            guard = f" and {name!r} not in r" if after_wildcard else ""
            lines.append(f"if {value} is not None{guard}: r[{name!r}] = {value}")
        if not lines or lines[0].startswith("_srf"):
            lines.insert(0, "r = {}")
        self._order_aliases = dict(c.aliases)
        return lines

    def _wildcard_lines(self, c: ExprCompiler, w: ast.Wildcard, first: bool, only: bool) -> list[str]:
        source = c.compile(w)
        lines: list[str] = []
        hidden = self.hidden_columns or any(_kind(x) == "analytic" for x in _calls(self.stmt))
        if hidden and self.windowed and not self.scope.joined:
            source = f"_visible({source})"
        if only and not w.except_ and not w.replace:
            # The whole message is the row: shared, not copied (nothing downstream mutates it),
            # unless it holds nulls, which eKuiper leaves out of results.
            return [f"r = {source}", "if None in r.values(): r = {k: v for k, v in r.items() if v is not None}"]
        target = "r = " if first else "_w = "
        excluded = self.env.bind(frozenset(w.except_), "_set")
        lines.append(f"{target}{{k: v for k, v in {source}.items() if v is not None and k not in {excluded}}}")
        for rep in w.replace:
            t = self.env.temp()
            holder = "r" if first else "_w"
            lines.append(f"if ({t} := {c.compile(rep.expr)}) is not None: {holder}[{rep.alias!r}] = {t}")
            lines.append(f"else: {holder}.pop({rep.alias!r}, None)")
        if not first:
            lines.append("for _k, _x in _w.items():")
            lines.append("    if _k not in r: r[_k] = _x")
        return lines

    # ---- analytic functions ----------------------------------------------------------------------

    def _analytic_lines(self) -> list[str]:
        """Evaluate every analytic call on the arriving message ``m``; calls nested in another's
        arguments or WHEN come first."""
        lines: list[str] = []
        done: set[int] = set()
        row = ExprCompiler(self.sql, self.env, self.scope, where="an analytic function's arguments")
        aliases = {f.alias: f.expr for f in self.stmt.fields if f.alias}  # lag(b) where b is an alias

        def nested(call: ast.Call, fn: registry.FunctionDef) -> str:
            code = self._analytic_slot(call, fn)
            i = next(k for k, (seen, _) in enumerate(self.analytics) if seen == call)
            if i not in done:
                emit(i)
            return code

        def emit(i: int) -> None:
            done.add(i)
            call, code = self.analytics[i]
            fn = row.function(call)
            if fn.kind != "analytic":
                raise SQLError(f"OVER (...) only applies to analytic functions, not {call.name}",
                               self.sql, call.pos)
            site = self.env.bind(AnalyticSite(fn.impl), "_site")
            over = call.over or ast.Over()
            key = "None"
            if over.partition_by:
                parts = [row.compile(p) for p in over.partition_by]
                key = parts[0] if len(parts) == 1 else f"({', '.join(parts)},)"
            # In `lag(size) AS size` the argument is the column: an alias never reads its own value.
            row.alias_exprs = {name: e for name, e in aliases.items() if not _contains(e, call)}
            valid = "True" if over.when is None else row.condition(over.when)
            args = ", ".join(row.args(call))
            value = f"{site}.call({key}, {valid}{', ' if args else ''}{args})"
            hidden_key = HIDDEN_PREFIX + "an" + str(i)
            lines.append(f"m[{hidden_key!r}] = {value}" if self.windowed else f"{code} = {value}")

        row.analytic = nested
        i = 0
        while i < len(self.analytics):
            if i not in done:
                emit(i)
            i += 1
        return lines

    # ---- per-message shape -----------------------------------------------------------------------

    def _message_shape(self, proj: list[str], where: str | None) -> CompiledQuery:
        analytic = self._analytic_lines()
        body = [*(["_ctx.message = m"] if self.env.uses_context else []), *analytic]
        if where:
            body.append(f"if not {where}: continue")
        body += proj
        srf = any(line.startswith("_srf") for line in proj)
        if srf:
            body += _srf_expand("_rows")
            body.append("for _r in _rows: append([_r])")
        else:
            body.append("append([r])")
        if self.env.uses_context:
            body += ["_ctx.hit_count += 1", "_ctx.hit_time = _ctx.event_time()"]
        src = [
            "def process(batch):",
            "    out = []",
            "    append = out.append",
            "    _ctx.row_index = 1",
            "    for m in batch:",
            "        try:",
            *indent(body, 3),
            "        except Exception as exc:",
            "            _on_error(exc, m)",
            "    return out",
        ]
        source = "\n".join(src)
        return CompiledQuery(False, bool(self.analytics), process=self.env.build(source, "process"),
                             source=source)

    # ---- per-window shape ------------------------------------------------------------------------

    def _window_shape(self, aggregate: bool, proj: list[str], where: str | None, having: str | None,
                      order_keys: list[str]) -> CompiledQuery:
        sources: list[str] = []
        prepare = None
        analytic_lines = self._analytic_lines()
        if analytic_lines:
            src = ["def prepare(m):", "    m = dict(m)", "    _ctx.message = m",
                   *indent(analytic_lines, 1), "    return m"]
            sources.append("\n".join(src))
            prepare = self.env.build(sources[-1], "prepare")
        if aggregate:
            add_src, finish_src, new_state = self._aggregate_functions(proj, where, having, order_keys)
        else:
            add_src, finish_src, new_state = self._row_functions(proj, where, having, order_keys)
        sources += [add_src, finish_src]
        add = self.env.build(add_src, "add")
        finish = self.env.build(finish_src, "finish")
        incremental = aggregate and all(a.fn.accumulator is not None for a in self.aggs)
        return CompiledQuery(aggregate, bool(self.analytics), prepare=prepare, new_state=new_state, add=add,
                             finish=finish, incremental=incremental, source="\n\n".join(sources))

    def _row_functions(self, proj: list[str], where: str | None, having: str | None,
                       order_keys: list[str]) -> tuple[str, str, Callable[[], Any]]:
        add = ["def add(state, rows):"]
        if where is None:
            add.append("    state.extend(rows)")
        else:
            add += ["    append = state.append", "    for m in rows:", "        try:",
                    f"            if {where}: append(m)",
                    "        except Exception as exc:", "            _on_error(exc, m)"]
        body = ["_ctx.row_index = _i", "_ctx.message = m", *proj]
        finish = ["def finish(state):", *indent(self._nothing_left(where), 1)]
        if having:
            # Without aggregates HAVING judges the window as a whole: all its rows or nothing.
            finish += ["    m = _ctx.message = state[0] if state else {}", "    _ctx.row_index = 1", "    try:",
                       f"        if not {having}: return None", "    except Exception as exc:",
                       "        _on_error(exc, m)", "        return None"]
        finish += ["    out = []", "    for _i, m in enumerate(state, 1):", "        try:", *indent(body, 3)]
        finish += indent(self._collect(order_keys), 3)
        finish += ["        except Exception as exc:", "            _on_error(exc, m)"]
        finish += indent(self._order_and_limit(order_keys), 1)
        finish += indent(_count_window_hit(), 1)
        finish.append("    return out")
        return "\n".join(add), "\n".join(finish), list

    def _aggregate_functions(self, proj: list[str], where: str | None, having: str | None,
                             order_keys: list[str]) -> tuple[str, str, Callable[[], Any]]:
        row = self._compiler("GROUP BY", group=False)
        keys = [row.compile(g) for g in self.stmt.group_by]
        key = "None" if not keys else keys[0] if len(keys) == 1 else f"({', '.join(keys)},)"
        factories = []
        adds: list[str] = []
        arg_compiler = self._compiler("an aggregate function's arguments", group=False)
        for i, agg in enumerate(self.aggs):
            fn, call = agg.fn, agg.call
            factory = fn.accumulator or columns_factory(fn.impl, len(call.args))
            factories.append(self.env.bind(factory, "_acc"))
            args = arg_compiler.args(call)
            wants_row = getattr(fn.accumulator or fn.impl, "wants_row", False)
            temps = [self.env.temp() for _ in args]
            row_arg = [("_merge(m)" if self.scope.joined else "m")] if wants_row else []
            checks = []
            for j, (t, a) in enumerate(zip(temps, args, strict=True)):
                if a == "1":  # count(*)
                    temps[j] = a
                elif fn.null_in_null_out:
                    checks.append(f"({t} := {a}) is not None")
                else:
                    temps[j] = a
            adder = f"g[{i + 1}].add({', '.join(temps + row_arg)})"
            if call.filter is not None:
                checks.insert(0, arg_compiler.condition(call.filter))
            adds.append(f"if {' and '.join(checks)}: {adder}" if checks else adder)
        new_group = f"[m{''.join(', ' + f + '()' for f in factories)}]"
        add = ["def add(state, rows):", "    for m in rows:", "        try:"]
        if where:
            add.append(f"            if not {where}: continue")
        add += [f"            k = {key}", "            g = state.get(k)", "            if g is None:",
                f"                g = state[k] = {new_group}"]
        add += indent(adds, 3)
        add += ["        except Exception as exc:", "            _on_error(exc, m)"]

        results = [f"{a.var} = g[{i + 1}].result()" for i, a in enumerate(self.aggs)]
        body = ["m = g[0]", "_ctx.message = m", "_ctx.row_index = _i", *results]
        if having:
            body.append(f"if not {having}: continue")
        body += proj
        finish = ["def finish(state):", *indent(self._nothing_left(where), 1), "    out = []"]
        if not keys:
            # eKuiper emits a row for an empty window when nothing is grouped: count(*) is 0.
            finish += ["    if not state:", f"        state = {{None: [{{}}{''.join(', ' + f + '()' for f in factories)}]}}"]
        finish += ["    for _i, g in enumerate(state.values(), 1):", "        try:", *indent(body, 3)]
        finish += indent(self._collect(order_keys), 3)
        finish += ["        except Exception as exc:", "            _on_error(exc, g[0])"]
        finish += indent(self._order_and_limit(order_keys), 1)
        finish += indent(_count_window_hit(), 1)
        finish.append("    return out")
        return "\n".join(add), "\n".join(finish), dict

    def _collect(self, order_keys: list[str]) -> list[str]:
        srf = _srf_expand("_rows")
        if not order_keys:
            return ["out.append(r)"] if not self._has_srf() else [*srf, "out.extend(_rows)"]
        keys = ", ".join(f"_sort_key({k})" for k in order_keys)
        return [f"out.append((({keys},), r))"]

    def _order_and_limit(self, order_keys: list[str]) -> list[str]:
        lines: list[str] = []
        if order_keys:
            # Stable sorts from the last key to the first give the combined order.
            for i in range(len(order_keys) - 1, -1, -1):
                desc = self.stmt.order_by[i].descending
                lines.append(f"out.sort(key=lambda x: x[0][{i}], reverse={desc})")
            lines.append("out = [x[1] for x in out]")
        if self.stmt.limit is not None:
            lines.append(f"del out[{self.stmt.limit}:]")
        return lines

    def _nothing_left(self, where: str | None) -> list[str]:
        """finish() of a window whose rows WHERE all filtered out returns None: nothing is sent."""
        return ["if not state:", "    return None"] if where and self.where_after_window else []

    def _has_srf(self) -> bool:
        return any(isinstance(f.expr, ast.Call) and _kind(f.expr) == "srf" for f in self.stmt.fields)


def is_aggregate(stmt: ast.Select) -> bool:
    """One row per group (GROUP BY or an aggregate call) rather than one per input row."""
    return bool(stmt.group_by) or any(_kind(c) == "aggregate" for c in _calls(stmt))


def calls_function(stmt: ast.Select, name: str) -> bool:
    nodes = ast.walk([stmt.fields, stmt.where, stmt.having, [o.expr for o in stmt.order_by]])
    return any(isinstance(n, ast.Call) and n.name.lower() == name for n in nodes)


def _count_window_hit() -> list[str]:
    """last_agg_hit_count()/last_agg_hit_time(): windows that emitted, and the (window end) time."""
    return ["if out:", "    _ctx.agg_hit_count += 1",
            "    _ctx.agg_hit_time = _ctx.now if _ctx.wend is None else _ctx.wend"]


def _srf_expand(var: str) -> list[str]:
    """Rows from a several-rows function: dict results merge into the row, others take its name."""
    return [
        f"{var} = []",
        "_vals, _name = _srf",
        "for _x in (_vals or ()):",
        "    _r = dict(r)",
        "    if type(_x) is dict: _r.update(_x)",
        "    elif _x is not None: _r[_name] = _x",
        f"    {var}.append(_r)",
    ]


def _calls(stmt: ast.Select) -> list[ast.Call]:
    nodes = ast.walk([f for f in stmt.fields]) if stmt.having is None else ast.walk([stmt.fields, stmt.having])
    out = [n for n in nodes if isinstance(n, ast.Call)]
    out += [n for n in ast.walk([o.expr for o in stmt.order_by]) if isinstance(n, ast.Call)]
    return out


def _contains(expr: ast.Expr, node: ast.Expr) -> bool:
    return any(n is node for n in ast.walk([expr]))


def _multi_column(call: ast.Call) -> bool:
    fn = registry.lookup(call.name)
    return fn is not None and fn.named_args_from is not None


def _kind(call: ast.Call) -> str | None:
    fn = registry.lookup(call.name)
    return fn.kind if fn else None
