"""Functions that read the engine's state rather than their arguments: meta, event_time, rule_id,
window_start, window_end, row_number and the last_hit family. Registered in the shared catalogue with ``needs_context``."""

from __future__ import annotations

from typing import Any

from edgeplane.streams.functions.registry import FunctionDef, register
from edgeplane.streams.runtime.context import RuleContext


def _meta(ctx: RuleContext, key: Any) -> Any:
    return ctx.meta(str(key))


def _event_time(ctx: RuleContext) -> int:
    return ctx.event_time()


def _rule_id(ctx: RuleContext) -> str:
    return ctx.rule_id


def _window_start(ctx: RuleContext) -> int | None:
    return ctx.window_start()


def _window_end(ctx: RuleContext) -> int | None:
    return ctx.window_end()


def _row_number(ctx: RuleContext) -> int:
    return ctx.row_index


def _last_hit_count(ctx: RuleContext) -> int:
    return ctx.hit_count


def _last_hit_time(ctx: RuleContext) -> int:
    return ctx.hit_time


def _last_agg_hit_count(ctx: RuleContext) -> int:
    return ctx.agg_hit_count


def _last_agg_hit_time(ctx: RuleContext) -> int:
    return ctx.agg_hit_time


for _name, _impl, _doc, _n in (
    ("meta", _meta, "meta(key): a metadata value of the current message, such as meta(topic)", 1),
    ("event_time", _event_time, "event_time(): the current message's time in ms", 0),
    ("rule_id", _rule_id, "rule_id(): the id of the running rule", 0),
    ("window_start", _window_start, "window_start(): start of the current window in ms", 0),
    ("window_end", _window_end, "window_end(): end of the current window in ms", 0),
    ("row_number", _row_number, "row_number(): 1-based position of the row in the emission", 0),
    ("last_hit_count", _last_hit_count, "last_hit_count(): how many messages the rule emitted before", 0),
    ("last_hit_time", _last_hit_time, "last_hit_time(): when the rule last emitted a message", 0),
    ("last_agg_hit_count", _last_agg_hit_count, "last_agg_hit_count(): how many windows emitted before", 0),
    ("last_agg_hit_time", _last_agg_hit_time, "last_agg_hit_time(): when a window last emitted", 0),
):
    register(FunctionDef(_name, "scalar", _n, _n, _impl, needs_context=True, doc=_doc))
