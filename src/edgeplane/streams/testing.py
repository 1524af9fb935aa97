"""Replays recorded input through a rule with a driven clock: what ``edgeplane streams test`` runs.

``lines`` are ``{"stream": name, "timestamp": ms, "data": {...}}`` (optionally ``"meta": {...}``) in
arrival order. The rule starts at the first line's timestamp; before each line time advances to its
timestamp, so windows that ended earlier fire first; after the last line time stops, or advances to
``until``. Lines are checked as they are replayed: a malformed one stops the replay there with a
RecordingError naming it.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from edgeplane.streams.functions import clock as function_clock
from edgeplane.streams.runtime.catalog import Catalog
from edgeplane.streams.runtime.clock import ManualClock
from edgeplane.streams.runtime.rule import Rule


class RecordingError(ValueError):
    """A recorded input line is malformed."""


def build_rule(sql: str, streams: Iterable[str], tables: Iterable[str] = (), options: dict | None = None,
               on_emit: Callable[[list[dict]], None] | None = None) -> tuple[Rule, Catalog]:
    catalog = Catalog()
    for statement in streams:
        catalog.create(statement, "STREAM")
    for statement in tables:
        catalog.create(statement, "TABLE")
    return Rule(sql, catalog, options=options, on_emit=on_emit), catalog


def run_recorded(sql: str, streams: list[str], lines: list[dict], tables: list[str] | tuple[str, ...] = (),
                 options: dict | None = None, until: int | None = None) -> list[list[dict]]:
    """The emissions of ``sql`` over ``lines``, each a list of rows as eKuiper's memory sink gets them.

    Raises SQLError for a statement that does not parse or validate (before any line is read),
    RecordingError for a bad line."""
    rule, catalog = build_rule(sql, streams, tables, options)
    replay(rule, catalog, lines, until)
    return rule.emissions


def replay(rule: Rule, catalog: Catalog, lines: Iterable[dict], until: int | None = None) -> None:
    # A long replay builds millions of long-lived objects (emissions, window state) without any
    # reference cycle; the cyclic collector would only rescan them again and again (it halves the
    # throughput of a long replay), so it pauses until the replay ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _replay(rule, catalog, lines, until)
    finally:
        if collecting:
            gc.enable()


def _replay(rule: Rule, catalog: Catalog, lines: Iterable[dict], until: int | None) -> None:
    batches = _batches(lines, catalog)
    first = next(batches, None)
    clock = ManualClock(first[1] if first is not None else (until or 0))
    function_clock.set_clock(clock.now)
    try:
        rule.start(clock.now())
        if first is not None:
            for stream, ts, rows, meta in itertools.chain((first,), batches):
                clock.set(ts)
                rule.ingest(stream, rows, ts, meta)
        if until is not None:
            if until < clock.now():
                raise RecordingError(f"--until {until} is before the last line's timestamp {clock.now()}")
            clock.set(until)
            rule.advance(until)
    finally:
        function_clock.set_clock(None)


Batch = tuple[str, int, list[dict], dict | None]  # stream, time, rows, meta


def _batches(lines: Iterable[dict], catalog: Catalog) -> Iterator[Batch]:
    """The lines, checked as they are read (the input is never held whole, so a long replay runs
    in flat memory), and grouped: consecutive lines of one stream at one time without meta go to
    the rule together, in one ``ingest`` call."""
    known = frozenset(catalog.defs)
    pending: Batch | None = None
    rows: list[dict] | None = None  # the pending batch's rows while more lines may join it
    last_stream, last_ts = None, None
    for i, line in enumerate(lines, 1):
        # Fast path for well-formed lines; anything unusual gets the full check and its message.
        try:
            stream, ts, data = line["stream"], line["timestamp"], line["data"]
            meta = line.get("meta")
        except (TypeError, KeyError, AttributeError):
            stream, ts, data, meta = _check_line(i, line, catalog)
        else:
            if type(ts) is not int or type(data) is not dict or stream not in known or \
                    (meta is not None and type(meta) is not dict):
                stream, ts, data, meta = _check_line(i, line, catalog)
        if last_ts is not None and ts < last_ts:
            raise RecordingError(f"line {i}: timestamp {ts} is before the previous line's {last_ts}; "
                                 "lines must be in arrival order")
        if rows is not None and ts == last_ts and stream == last_stream and meta is None:
            rows.append(data)
            continue
        if pending is not None:
            yield pending
        pending = (stream, ts, [data], meta)
        rows = pending[2] if meta is None else None  # a line with meta stays on its own
        last_stream, last_ts = stream, ts
    if pending is not None:
        yield pending


def _check_line(i: int, line: Any, catalog: Catalog) -> tuple[str, int, dict, dict | None]:
    """A line in full, or a RecordingError saying what is wrong with it."""
    if not isinstance(line, dict):
        raise RecordingError(f"line {i}: expected an object with stream, timestamp and data")
    missing = [k for k in ("stream", "timestamp", "data") if k not in line]
    if missing:
        raise RecordingError(f"line {i}: missing {', '.join(missing)}")
    stream, ts, data, meta = line["stream"], line["timestamp"], line["data"], line.get("meta")
    if catalog.get(stream) is None:
        raise RecordingError(f"line {i}: unknown stream or table {stream!r}")
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise RecordingError(f"line {i}: timestamp must be epoch milliseconds, found {ts!r}")
    if not isinstance(data, dict):
        raise RecordingError(f"line {i}: data must be an object, found {type(data).__name__}")
    if meta is not None and not isinstance(meta, dict):
        raise RecordingError(f"line {i}: meta must be an object, found {type(meta).__name__}")
    return stream, ts, data, meta
