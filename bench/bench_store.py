"""Benchmarks of the SQLite store: write throughput and latency with concurrent writers, range reads,
and watch fan-out. Prints its figures; run with the project's Python.

    python bench/bench_store.py [--writes 20000] [--writers 8] [--watchers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from edgeplane.store import SQLiteStore


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def bench_writes(data_dir: Path, writes: int, writers: int, synchronous: str) -> None:
    store = SQLiteStore(data_dir, synchronous=synchronous, retain_seconds=None)
    latencies: list[float] = []
    value = b"x" * 512  # about the size of a small Kubernetes object

    async def writer(n: int) -> None:
        clock = time.perf_counter
        kv = None
        for i in range(writes // writers):
            started = clock()
            if i % 2:  # half creates, half compare-and-swap updates of the key just created
                await store.update(kv.key, value, kv.mod_revision)
            else:
                kv = await store.create(f"/bench/{n}/{i}", value)
            latencies.append(clock() - started)

    commits = store.commit_count
    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(writers)))
    elapsed = time.perf_counter() - started
    done = store.revision
    print(
        f"writes ({synchronous:6}, {writers} writers): {done / elapsed:,.0f} writes/s, "
        f"{done / (store.commit_count - commits):.1f} writes/commit, "
        f"latency p50 {ms(percentile(latencies, 50))}, p99 {ms(percentile(latencies, 99))}"
    )
    await store.close()


async def bench_range(data_dir: Path, keys: int) -> None:
    store = SQLiteStore(data_dir, retain_seconds=None)
    await asyncio.gather(*(store.create(f"/range/{i:06d}", b"v" * 100) for i in range(keys)))
    past = store.revision
    await asyncio.gather(*(store.update(f"/range/{i:06d}", b"w" * 100, 0) for i in range(0, keys, 10)))
    for label, revision in (("current", 0), ("historical", past)):
        timings = []
        for _ in range(7):
            started = time.perf_counter()
            result = await store.range("/range/", revision=revision)
            timings.append(time.perf_counter() - started)
            assert len(result.kvs) == keys
        print(
            f"range of {keys:,} keys ({label}): median {ms(statistics.median(timings))}, best {ms(min(timings))}"
        )
    timings = []
    for i in range(2000):
        started = time.perf_counter()
        await store.get(f"/range/{i:06d}")
        timings.append(time.perf_counter() - started)
    print(f"get: p50 {ms(percentile(timings, 50))}, p99 {ms(percentile(timings, 99))}")
    await store.close()


async def bench_fanout(data_dir: Path, watchers: int, rate: int, seconds: float) -> None:
    store = SQLiteStore(data_dir, retain_seconds=None)
    total = int(rate * seconds)
    written_at: dict[str, float] = {}  # by key: an event may arrive before its writer resumes
    delays: list[float] = []
    received = [0] * watchers

    async def consume(n: int) -> None:
        clock = time.perf_counter
        async for batch in store.watch("/fan/", 0):
            received[n] += len(batch)
            if n < 20:  # a sample of watchers records delivery delays
                now = clock()
                delays.extend(now - written_at[e.kv.key] for e in batch)
            if batch[-1].revision >= total:
                return

    consumers = [asyncio.ensure_future(consume(n)) for n in range(watchers)]
    await asyncio.sleep(0.1)
    cpu, wall = time.process_time(), time.perf_counter()

    async def writer(n: int, writers: int) -> None:
        # Several paced writers, so one request's latency does not cap the rate; each is paced
        # against the start, so a late write is followed by quicker ones.
        for i in range(n, total, writers):
            await asyncio.sleep(max(0.0, wall + i / rate - time.perf_counter()))
            key = f"/fan/{i}"
            written_at[key] = time.perf_counter()
            await store.create(key, b"x" * 256)

    await asyncio.gather(*(writer(n, 8) for n in range(8)))
    await asyncio.wait_for(asyncio.gather(*consumers), 60)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    assert all(count == total for count in received), "a watcher missed events"
    print(
        f"watch fan-out: {watchers} watchers x {total} writes at {total / wall:,.0f} writes/s "
        f"({watchers * total / wall:,.0f} deliveries/s): delay p50 {ms(percentile(delays, 50))}, "
        f"p99 {ms(percentile(delays, 99))}, CPU {cpu / wall:.0%} of one core"
    )
    await store.close()


async def bench_fanout_max(data_dir: Path, watchers: int, writes: int) -> None:
    store = SQLiteStore(data_dir, retain_seconds=None)
    done = asyncio.Event()
    remaining = [watchers]

    async def consume() -> None:
        async for batch in store.watch("/max/", 0):
            if batch[-1].revision >= writes:
                remaining[0] -= 1
                if not remaining[0]:
                    done.set()
                return

    consumers = [asyncio.ensure_future(consume()) for _ in range(watchers)]
    await asyncio.sleep(0.1)
    started = time.perf_counter()

    async def writer(n: int) -> None:
        for i in range(writes // 8):
            await store.create(f"/max/{n}/{i}", b"x" * 256)

    await asyncio.gather(*(writer(n) for n in range(8)))
    await asyncio.wait_for(done.wait(), 60)
    elapsed = time.perf_counter() - started
    await asyncio.gather(*consumers)
    print(f"watch fan-out, unthrottled: {watchers} watchers, 8 writers: {writes / elapsed:,.0f} writes/s")
    await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        root = Path(tmp)
        await bench_writes(root / "w-full", args.writes, args.writers, "FULL")
        await bench_writes(root / "w-normal", args.writes, args.writers, "NORMAL")
        await bench_writes(root / "w-64", args.writes, 64, "FULL")
        await bench_range(root / "r", args.keys)
        await bench_fanout(root / "f", args.watchers, args.rate, args.seconds)
        await bench_fanout_max(root / "m", args.watchers, 10_000)


if __name__ == "__main__":
    asyncio.run(main())
