"""Stream rules: edgeplane's engine against bytewax and streamz on the same two rules, one core each.

    .venv/bin/python bench/streams/bench_rules.py [--messages 10000000] [--cpu 0]

Messages are pre-decoded dicts from 1,000 device ids (see streams_workload). Prints messages/s for
every engine and rule, edgeplane's ratio to each peer, and the peak RSS growth of edgeplane's window
rule. edgeplane runs through ``run_recorded`` (the replay entry point): the window rule in one call
over all messages; the filter rule in chunks of one million, because run_recorded returns every
emission and keeping millions of them would measure the list, not the engine (a stateless filter
gives the same result chunked).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import peer_bytewax
import peer_streamz
from streams_workload import PER_MS, START, RecordedLines, build_pool, timed_messages

FILTER_SQL = "SELECT * FROM demo WHERE temperature > 50"
WINDOW_SQL = ("SELECT deviceId, avg(temperature), max(humidity), count(*) FROM demo "
              "GROUP BY deviceId, TUMBLINGWINDOW(ss, 10)")
CREATE = ('CREATE STREAM demo (deviceId STRING, temperature FLOAT, humidity BIGINT, ts BIGINT) '
          'WITH (DATASOURCE="demo", FORMAT="json")')
FILTER_CHUNK = 1_000_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def edgeplane_filter(pool: list[dict], n: int) -> int:
    from edgeplane.streams.testing import run_recorded

    rows = 0
    for offset in range(0, n, FILTER_CHUNK):
        emissions = run_recorded(FILTER_SQL, [CREATE], RecordedLines(pool, offset, min(FILTER_CHUNK, n - offset)))
        rows += sum(len(e) for e in emissions)
    return rows


def edgeplane_window(pool: list[dict], n: int) -> int:
    from edgeplane.streams.testing import run_recorded

    end = START + (n - 1) // PER_MS
    until = (end // 10_000 + 1) * 10_000  # the end of the last window, so it fires
    emissions = run_recorded(WINDOW_SQL, [CREATE], RecordedLines(pool, 0, n), until=until)
    return sum(len(e) for e in emissions)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000_000, help="messages per run (default 10,000,000)")
    parser.add_argument("--cpu", type=int, default=0, help="the one core every engine runs on")
    parser.add_argument("--skip-peers", action="store_true", help="measure edgeplane only")
    args = parser.parse_args()
    if args.messages <= 0:
        parser.error(f"--messages must be positive, got {args.messages}")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    n = args.messages
    pool = build_pool()
    print(f"{n:,} messages, 1,000 devices, one core (cpu {args.cpu}), Python {sys.version.split()[0]}")

    seconds, _ = timed(lambda: sum(1 for _ in RecordedLines(pool, 0, n)))
    print(f"  input generation alone (RecordedLines)        {n / seconds:>14,.0f} msg/s")
    seconds, _ = timed(lambda: sum(1 for _ in timed_messages(pool, n)))
    print(f"  input generation alone (timed_messages)       {n / seconds:>14,.0f} msg/s")

    results: dict[tuple[str, str], float] = {}

    def record(engine: str, rule: str, fn: Callable[[], Any]) -> None:
        try:
            seconds, rows = timed(fn)
        except Exception as exc:  # report and go on: one engine failing must not hide the others
            print(f"  {engine:<9} {rule:<7} FAILED: {type(exc).__name__}: {exc}")
            return
        results[(engine, rule)] = n / seconds
        print(f"  {engine:<9} {rule:<7} {n / seconds:>14,.0f} msg/s  {seconds:7.2f} s  rows out {rows:,}")

    # edgeplane's window rule first, so the process peak it reaches is its own.
    before = peak_rss_mb()
    record("edgeplane", "window", lambda: edgeplane_window(pool, n))
    print(f"  edgeplane window rule peak RSS growth: {peak_rss_mb() - before:.1f} MB (baseline {before:.1f} MB)")
    record("edgeplane", "filter", lambda: edgeplane_filter(pool, n))
    if not args.skip_peers:
        record("streamz", "filter", lambda: peer_streamz.run_filter(timed_messages(pool, n)))
        record("streamz", "window", lambda: peer_streamz.run_window(timed_messages(pool, n)))
        record("bytewax", "filter", lambda: peer_bytewax.run_filter(timed_messages(pool, n)))
        record("bytewax", "window", lambda: peer_bytewax.run_window(timed_messages(pool, n), START))

    for rule in ("filter", "window"):
        ours = results.get(("edgeplane", rule))
        for peer in ("bytewax", "streamz"):
            theirs = results.get((peer, rule))
            if ours and theirs:
                print(f"  {rule}: edgeplane / {peer} = {ours / theirs:.1f}x")
    goals = {"filter": 1_000_000, "window": 500_000}
    for rule, goal in goals.items():
        ours = results.get(("edgeplane", rule))
        verdict = "n/a" if ours is None else ("met" if ours >= goal else "NOT met")
        print(f"  goal {rule} >= {goal:,} msg/s: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
