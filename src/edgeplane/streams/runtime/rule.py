"""A running rule: one SELECT over declared streams and tables, compiled once, fed messages and time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import edgeplane.streams.functions
import edgeplane.streams.runtime.context_functions  # noqa: F401
from edgeplane.streams.compiler.codegen import CodeEnv
from edgeplane.streams.compiler.expressions import ExprCompiler, Scope
from edgeplane.streams.compiler.query import CompiledQuery, QueryCompiler, calls_function, is_aggregate
from edgeplane.streams.joins.plan import JoinPlan, JoinStep
from edgeplane.streams.runtime.catalog import Catalog, StreamDef, Table
from edgeplane.streams.runtime.context import ARRIVAL_TIME_KEY, RuleContext
from edgeplane.streams.runtime.event_time import EventTimeBuffer
from edgeplane.streams.runtime.panes import QueryPaneSink
from edgeplane.streams.sql import ast
from edgeplane.streams.sql.errors import SQLError
from edgeplane.streams.sql.parser import parse_one
from edgeplane.streams.windows import make_window

Emission = list[dict[str, Any]]
_MAX_KEPT_ERRORS = 1000


class Rule:
    """``ingest`` messages of a source at a time; ``advance`` the time so windows fire.

    Options (eKuiper's rule options): ``isEventTime`` (windows follow the streams' TIMESTAMP column)
    and ``lateTolerance`` (ms the watermark trails the newest event).
    """

    def __init__(self, sql: str, catalog: Catalog, rule_id: str = "rule", options: dict[str, Any] | None = None,
                 on_emit: Callable[[Emission], None] | None = None) -> None:
        stmt = parse_one(sql)
        if not isinstance(stmt, ast.Select):
            raise SQLError("a rule must be a SELECT statement", sql, 0)
        options = options or {}
        _check_options(options)
        self.sql, self.stmt, self.rule_id = sql, stmt, rule_id
        self.emissions: list[Emission] = []
        self._emit = on_emit or self.emissions.append
        self.errors: list[str] = []
        self.error_count = 0
        self.ctx = RuleContext(rule_id)
        self.event_time = bool(options.get("isEventTime", False))

        self._bind_sources(catalog)
        streams = {d.name for d in self.defs.values() if not d.is_table}
        self.buffer = EventTimeBuffer(int(options.get("lateTolerance", 0)), streams)
        self.env = CodeEnv()
        self.env.ns["_ctx"] = self.ctx
        self.env.ns["_on_error"] = self._on_error
        # Aggregates without a window aggregate each message on its own, through the same add/finish.
        self.windowed = stmt.window is not None or bool(stmt.joins) or is_aggregate(stmt)
        # event_time() of a window row is its arrival time, carried in a hidden column.
        self._stamp = self.windowed and not self.event_time and calls_function(stmt, "event_time")
        # Processing-time tumbling, hopping and session windows take WHERE before the window, as
        # eKuiper pushes it down; elsewhere it filters the window's rows.
        where_first = not self.event_time and stmt.window is not None and \
            stmt.window.kind in ("TUMBLINGWINDOW", "HOPPINGWINDOW", "SESSIONWINDOW")
        self.query: CompiledQuery = QueryCompiler(sql, stmt, self.scope, self.env, self.windowed,
                                                  hidden_columns=self._stamp,
                                                  where_after_window=not where_first).build()
        self._process = self.query.process
        self._prepare = self.query.prepare
        self._pre_filter = self._predicate(stmt.window.filter, tagged=False) \
            if stmt.window is not None and stmt.window.filter is not None else None
        self.join = self._join_plan() if stmt.joins else None
        self.sink = QueryPaneSink(self.query, self.join, self.ctx, self._emit) if self.windowed else None
        self.window = make_window(stmt.window, self.sink, lambda e: self._predicate(e, tagged=bool(self.join)),
                                  event_time=self.event_time, on_trigger=self._trigger_hit) \
            if stmt.window is not None and self.sink is not None else None
        self._clock_window = self.window if not self.event_time else None  # windows the clock drives
        self.started = False

    # ---- setup -----------------------------------------------------------------------------------

    def _bind_sources(self, catalog: Catalog) -> None:
        stmt, sql = self.stmt, self.sql
        if len(stmt.sources) > 1:
            raise SQLError("several sources after FROM: combine them with JOIN", sql, stmt.sources[1].pos)
        sources = [stmt.sources[0], *(j.source for j in stmt.joins)]
        self.defs: dict[str, StreamDef] = {}  # ref -> definition
        self.catalog_defs: dict[str, StreamDef] = {}  # stream name -> definition
        self.refs_by_name: dict[str, list[str]] = {}
        refs: dict[str, str] = {}
        for src in sources:
            d = catalog.get(src.name)
            if d is None:
                raise SQLError(f"unknown stream or table {src.name}", sql, src.pos)
            if src.ref in self.defs:
                raise SQLError(f"source {src.ref} appears twice: give one an alias with AS", sql, src.pos)
            self.defs[src.ref] = d
            self.catalog_defs[d.name] = d
            self.refs_by_name.setdefault(d.name, []).append(src.ref)
            refs[src.ref] = src.ref
            refs.setdefault(src.name, src.ref)
        first = self.defs[stmt.sources[0].ref]
        if first.is_table:
            raise SQLError(f"{first.name} is a table: a rule reads FROM a stream and JOINs tables",
                           sql, stmt.sources[0].pos)
        self.tables = {ref: Table(d) for ref, d in self.defs.items() if d.is_table}
        self.table_names = frozenset(d.name for d in self.defs.values() if d.is_table)
        if stmt.window is None:
            for j in stmt.joins:
                if not self.defs[j.source.ref].is_table:
                    raise SQLError(f"joining stream {j.source.name} needs a window in GROUP BY "
                                   "(only tables join without one)", sql, j.pos)
        if self.event_time:
            for d in self.defs.values():
                if not d.is_table and d.timestamp_field is None:
                    raise SQLError(f"isEventTime needs a TIMESTAMP option on stream {d.name}", sql, None)
        self.scope = Scope(refs, {ref: d.columns for ref, d in self.defs.items()}, joined=bool(stmt.joins))
        if not stmt.joins:
            self.ctx.timestamp_field = first.timestamp_field if self.event_time else None

    def _predicate(self, cond: ast.Expr, tagged: bool) -> Callable[[Any], bool]:
        """A condition over one source's row (window conditions): errors count and read as false."""
        single = Scope(self.scope.refs, self.scope.columns, joined=False)
        code = ExprCompiler(self.sql, self.env, single, where="a window condition").condition(cond)
        name = f"_cond{id(cond)}"
        row = "item[1]" if tagged else "item"
        src = (f"def {name}(item):\n    m = {row}\n    try:\n        return bool({code})\n"
               f"    except Exception as exc:\n        _on_error(exc, m)\n        return False")
        return self.env.build(src, name)

    def _join_plan(self) -> JoinPlan:
        steps = []
        for j in self.stmt.joins:
            on = None
            if j.on is not None:
                on_compiler = ExprCompiler(self.sql, self.env, self.scope, where="ON")
                on_compiler.alias_exprs = {f.alias: f.expr for f in self.stmt.fields if f.alias}  # ON ts1 = ts2
                code = on_compiler.condition(j.on)
                name = f"_on{id(j)}"
                src = (f"def {name}(m):\n    try:\n        return bool({code})\n"
                       f"    except Exception as exc:\n        _on_error(exc, m)\n        return False")
                on = self.env.build(src, name)
            steps.append(JoinStep(j.kind, j.source.ref, on))
        tables = {ref: table.rows for ref, table in self.tables.items()}
        return JoinPlan(self.stmt.sources[0].ref, steps, tables)

    # ---- running ---------------------------------------------------------------------------------

    def start(self, now: int) -> None:
        """Processing-time windows align to the clock from here on."""
        self.started = True
        self.ctx.now = now
        if self._clock_window is not None:
            self._clock_window.start(now)

    def advance(self, now: int) -> None:
        """Time is now ``now``: processing-time windows that ended by then fire, in order."""
        if not self.started:
            self.start(now)
        self.ctx.now = now
        if self._clock_window is not None:
            self._clock_window.advance(now)

    def ingest(self, source: str, rows: list[dict[str, Any]], now: int | None = None,
               meta: dict[str, Any] | None = None) -> None:
        """Messages (already decoded) of stream or table ``source`` arriving at ``now``; several rows
        in one call are cheaper than one call each."""
        if now is not None:
            self.advance(now)
        refs = self.refs_by_name.get(source)
        if refs is None:
            return  # a source this rule does not read
        if source in self.table_names:
            for ref in refs:
                self.tables[ref].update(rows)
            return
        if self.event_time:
            self._buffer(source, rows, meta or {})
            return
        self.ctx.message_meta = meta or {}
        self._deliver(refs, rows, self.ctx.now)

    def _deliver(self, refs: list[str], rows: list[dict[str, Any]], ts: int) -> None:
        """Messages of one stream, in order, at (event or arrival) time ``ts``."""
        process = self._process
        if process is not None:  # the per-message shape: one emission per passing message
            out = process(rows)
            if out:
                emit = self._emit
                for emission in out:
                    emit(emission)
            return
        rows = self._arrive(rows)
        if not rows:
            return
        for ref in refs:
            tagged: list[Any] = [(ref, r) for r in rows] if self.join is not None else rows
            if self.window is None:
                assert self.sink is not None
                for item in tagged:  # a table join or an aggregate: each message is its own emission
                    self.sink.close_rows([item], None, None, emit_empty=False)
            else:
                self.window.insert(ts, tagged)

    def _buffer(self, source: str, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
        """Event time: hold messages until the watermark passes them, then deliver them oldest first."""
        field = self.catalog_defs[source].timestamp_field
        for row in rows:
            ts = row.get(field) if field else None
            if not isinstance(ts, int) or isinstance(ts, bool):
                self._on_error(ValueError(f"timestamp column {field} is {ts!r}, expected epoch milliseconds"),
                               row)
                continue
            self.buffer.push(source, ts, (source, row, meta))
        moved = self.buffer.advance()
        if moved is None:
            return
        mark, released = moved
        for ts, (name, row, row_meta) in released:
            self.ctx.message_meta = row_meta
            self._deliver(self.refs_by_name[name], [row], ts)
        if self.window is not None:
            self.window.advance(mark)

    def _trigger_hit(self, ts: int) -> None:
        """A sliding window's trigger held: last_hit_count()/last_hit_time() in OVER (WHEN ...) see it."""
        self.ctx.hit_count += 1
        self.ctx.hit_time = ts

    def _arrive(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Before the window: analytic functions see every message, then FILTER (WHERE ...) applies."""
        if self._prepare is not None:
            prepared = []
            for m in rows:
                try:
                    prepared.append(self._prepare(m))
                except Exception as exc:
                    self._on_error(exc, m)
            rows = prepared
        if self._pre_filter is not None:
            rows = [m for m in rows if self._pre_filter(m)]
        if self._stamp:
            now = self.ctx.now
            rows = [{**m, ARRIVAL_TIME_KEY: now} for m in rows]
        return rows

    def _on_error(self, exc: BaseException, row: Any) -> None:
        self.error_count += 1
        if len(self.errors) < _MAX_KEPT_ERRORS:
            self.errors.append(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))

    @property
    def late_count(self) -> int:
        return self.buffer.late


def _check_options(options: dict[str, Any]) -> None:
    if "lateTolerance" in options:
        value = options["lateTolerance"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"option lateTolerance must be a non-negative integer (ms), found {value!r}")
    if "isEventTime" in options and not isinstance(options["isEventTime"], bool):
        raise ValueError(f"option isEventTime must be true or false, found {options['isEventTime']!r}")
