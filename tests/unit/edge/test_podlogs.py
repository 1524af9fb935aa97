"""The edge's log reader: CRI lines as kubectl logs shows them, tail, since, limit, partial lines, rotation."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from edgeplane.edge.podlogs import LogOptions, parse_time, stream_log, tail_offset, utc_stamp

LINES = [
    b"2026-01-02T03:04:05.000000001Z stdout F one",
    b"2026-01-02T03:04:06.500000000Z stderr F two",
    b"2026-01-02T03:04:07.000000000+00:00 stdout P thr",
    b"2026-01-02T03:04:07.100000000+00:00 stdout F ee",
    b"2026-01-02T03:04:08.000000000Z stdout F four",
]


async def read(path: Path, options: LogOptions, **kw: object) -> bytes:
    out: list[bytes] = []

    async def emit(pieces: list[tuple[bytes, bytes]]) -> None:
        out.extend(text for _, text in pieces)

    async def still_running() -> bool:
        return bool(kw.get("running", False))

    await stream_log(path, options, emit, still_running, lambda: False)
    return b"".join(out)


def write_log(tmp_path: Path, lines: list[bytes] = LINES) -> Path:
    path = tmp_path / "container.log"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


async def test_plain_output_joins_partial_lines(tmp_path: Path) -> None:
    assert await read(write_log(tmp_path), LogOptions()) == b"one\ntwo\nthree\nfour\n"


async def test_timestamps_in_utc_once_per_line(tmp_path: Path) -> None:
    out = await read(write_log(tmp_path), LogOptions(timestamps=True))
    assert out.splitlines() == [b"2026-01-02T03:04:05.000000001Z one", b"2026-01-02T03:04:06.500000000Z two",
                                b"2026-01-02T03:04:07.000000000Z three", b"2026-01-02T03:04:08.000000000Z four"]


async def test_tail_since_and_limit(tmp_path: Path) -> None:
    path = write_log(tmp_path)
    assert await read(path, LogOptions(tail_lines=1)) == b"four\n"
    assert await read(path, LogOptions(tail_lines=2)) == b"ee\nfour\n"  # file lines, as the kubelet counts
    assert await read(path, LogOptions(tail_lines=0)) == b""
    assert await read(path, LogOptions(tail_lines=99)) == b"one\ntwo\nthree\nfour\n"
    assert await read(path, LogOptions(since=parse_time(b"2026-01-02T03:04:06.5Z"))) == b"two\nthree\nfour\n"
    assert await read(path, LogOptions(limit_bytes=6)) == b"one\ntw"


def test_tail_offset_across_read_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(b"%06d\n" % i for i in range(50_000)))  # 350 kB: several backwards reads
    with open(path, "rb") as f:
        f.seek(tail_offset(path, 3))
        assert f.read() == b"049997\n049998\n049999\n"


def test_timestamps_with_offsets_become_utc() -> None:
    assert utc_stamp(b"2026-01-02T05:04:05.250000000+02:00") == b"2026-01-02T03:04:05.250000000Z"


async def test_follow_continues_across_rotation_and_ends_when_the_container_exits(tmp_path: Path) -> None:
    path = tmp_path / "container.log"
    path.write_bytes(LINES[0] + b"\n")
    running = True
    out: list[bytes] = []

    async def emit(pieces: list[tuple[bytes, bytes]]) -> None:
        out.extend(text for _, text in pieces)

    async def still_running() -> bool:
        return running

    follower = asyncio.create_task(stream_log(path, LogOptions(follow=True), emit, still_running, lambda: False))
    await asyncio.sleep(0.15)
    with open(path, "ab") as f:
        f.write(LINES[1] + b"\n")
    os.replace(path, tmp_path / "container.log.1")  # the supervisor rotates
    path.write_bytes(LINES[4] + b"\n")
    await asyncio.sleep(0.3)
    assert not follower.done()
    running = False
    await asyncio.wait_for(follower, 2)
    assert b"".join(out) == b"one\ntwo\nfour\n"
