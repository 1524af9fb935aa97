"""The two benchmark rules written idiomatically with streamz."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from streamz import Stream

WINDOW_MS = 10_000


def run_filter(messages: Iterable[tuple[int, dict[str, Any]]]) -> int:
    out = [0]
    source = Stream()
    source.filter(lambda m: m["temperature"] > 50).sink(lambda _m: out.__setitem__(0, out[0] + 1))
    emit = source.emit
    for _ts, message in messages:
        emit(message)
    return out[0]


def _close(groups: dict[str, list[float]]) -> list[dict[str, Any]]:
    return [{"deviceId": k, "avg": g[0] / g[3], "max": g[1], "count": g[3]} for k, g in groups.items()]


def _fold(state: dict[str, Any], item: tuple[int, dict[str, Any]]) -> tuple[dict[str, Any], list | None]:
    ts, m = item
    window = ts // WINDOW_MS
    closed = None
    if window != state["window"]:
        if state["groups"]:
            closed = _close(state["groups"])
        state = {"window": window, "groups": {}}
    g = state["groups"].get(m["deviceId"])
    if g is None:
        state["groups"][m["deviceId"]] = [m["temperature"], m["humidity"], 0, 1]
    else:
        g[0] += m["temperature"]
        g[1] = max(g[1], m["humidity"])
        g[3] += 1
    return state, closed


def run_window(messages: Iterable[tuple[int, dict[str, Any]]]) -> int:
    """Tumbling 10 s windows per device: avg(temperature), max(humidity), count(*). Returns rows out."""
    rows = [0]
    source = Stream()
    acc = source.accumulate(_fold, returns_state=True, start={"window": None, "groups": {}})
    acc.filter(lambda x: x is not None).sink(lambda batch: rows.__setitem__(0, rows[0] + len(batch)))
    emit = source.emit
    last = None
    for item in messages:
        emit(item)
        last = item
    if last is not None:  # the end of time closes the last window
        emit((last[0] + WINDOW_MS, {"deviceId": "", "temperature": 0.0, "humidity": 0}))
    return rows[0]
