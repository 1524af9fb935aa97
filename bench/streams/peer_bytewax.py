"""The two benchmark rules written idiomatically with bytewax (single worker, run_main)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators.windowing import EventClock, TumblingWindower, fold_window
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSource, run_main

BATCH = 1_000


class _CountingPartition(StatelessSinkPartition):
    def __init__(self, box: list[int]) -> None:
        self.box = box

    def write_batch(self, items: list[Any]) -> None:
        self.box[0] += len(items)


class CountingSink(DynamicSink):
    """Counts what reaches the end of the flow, so output costs the same for every engine."""

    def __init__(self) -> None:
        self.box = [0]

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CountingPartition:
        return _CountingPartition(self.box)


def run_filter(messages: Iterable[tuple[int, dict[str, Any]]]) -> int:
    flow = Dataflow("filter")
    sink = CountingSink()
    inp = op.input("in", flow, TestingSource((m for _ts, m in messages), batch_size=BATCH))
    op.output("out", op.filter("hot", inp, lambda m: m["temperature"] > 50), sink)
    run_main(flow)
    return sink.box[0]


def _fold(acc: list[float], item: tuple[int, dict[str, Any]]) -> list[float]:
    m = item[1]
    acc[0] += m["temperature"]
    acc[1] = max(acc[1], m["humidity"])
    acc[2] += 1
    return acc


def _merge(a: list[float], b: list[float]) -> list[float]:
    return [a[0] + b[0], max(a[1], b[1]), a[2] + b[2]]


def run_window(messages: Iterable[tuple[int, dict[str, Any]]], start_ms: int) -> int:
    flow = Dataflow("window")
    sink = CountingSink()
    inp = op.input("in", flow, TestingSource(messages, batch_size=BATCH))
    keyed = op.key_on("device", inp, lambda item: item[1]["deviceId"])
    clock = EventClock(lambda item: datetime.fromtimestamp(item[0] / 1000, tz=UTC), wait_for_system_duration=timedelta(0))
    windower = TumblingWindower(length=timedelta(seconds=10), align_to=datetime.fromtimestamp(start_ms / 1000, tz=UTC))
    out = fold_window("agg", keyed, clock, windower, lambda: [0.0, float("-inf"), 0], _fold, _merge)
    rows = op.map("row", out.down, lambda kv: {"deviceId": kv[0], "avg": kv[1][1][0] / kv[1][1][2],
                                                 "max": kv[1][1][1], "count": kv[1][1][2]})
    op.output("out", rows, sink)
    run_main(flow)
    return sink.box[0]
