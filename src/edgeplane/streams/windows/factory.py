"""Builds the window operator a GROUP BY window clause asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeplane.streams.sql import ast
from edgeplane.streams.windows.base import PaneSink, Window, unit_ms
from edgeplane.streams.windows.count_windows import CountWindow, StateWindow
from edgeplane.streams.windows.time_windows import HoppingWindow, SessionWindow, SlidingWindow, TumblingWindow

Predicate = Callable[[Any], bool]


def make_window(spec: ast.WindowSpec, sink: PaneSink, predicate: Callable[[ast.Expr], Predicate],
                event_time: bool = False, on_trigger: Callable[[int], None] | None = None) -> Window:
    """``predicate`` compiles a condition over one (tagged) window row; ``event_time``: rows arrive in
    event-time order and ``advance`` gets the watermark; ``on_trigger(ts)``: a sliding window's
    OVER (WHEN ...) held for the row at ``ts``."""
    args = spec.args
    if spec.kind == "TUMBLINGWINDOW":
        return TumblingWindow(unit_ms(spec.unit, args[0]), sink)
    if spec.kind == "HOPPINGWINDOW":
        return HoppingWindow(unit_ms(spec.unit, args[0]), unit_ms(spec.unit, args[1]), sink)
    if spec.kind == "SLIDINGWINDOW":
        delay = unit_ms(spec.unit, args[1]) if len(args) > 1 else 0
        trigger = predicate(spec.when) if spec.when is not None else None
        return SlidingWindow(unit_ms(spec.unit, args[0]), delay, sink, trigger, on_trigger, event_time)
    if spec.kind == "SESSIONWINDOW":
        return SessionWindow(unit_ms(spec.unit, args[0]), unit_ms(spec.unit, args[1]), sink, event_time)
    if spec.kind == "COUNTWINDOW":
        return CountWindow(args[0], args[1] if len(args) > 1 else None, sink)
    if spec.kind == "STATEWINDOW":
        return StateWindow(predicate(args[0]), predicate(args[1]), sink)
    raise ValueError(f"unknown window {spec.kind}")
