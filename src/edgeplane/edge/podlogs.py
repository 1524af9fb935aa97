"""Reads a container's CRI-format log file as ``kubectl logs`` shows it: tail, since, timestamps, limit, follow.

Both runtimes write the CRI log format (``<RFC3339Nano> stdout|stderr F|P <text>``; podman's k8s-file driver
writes a numeric offset instead of ``Z``). Lines tagged ``P`` are partial: their text continues in the next
line, as the kubelet joins them. Following survives the supervisor's size-based rotation (the old file is
read to its end before the new one) and ends once the container instance has exited and its file is drained.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

READ_SIZE = 64 * 1024
POLL = 0.1  # seconds between looks at a followed file that has not grown
LIVENESS_EVERY = 0.5  # seconds between asking the runtime whether a followed container still runs


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None  # None: all
    since: float | None = None  # Unix time; lines before it are skipped
    timestamps: bool = False
    limit_bytes: int | None = None
    streams: frozenset[bytes] = frozenset({b"stdout", b"stderr"})  # which streams to show (attach splits them)


def parse_time(text: bytes) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp with nanoseconds (``Z`` or a numeric offset)."""
    s = text.decode()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    head, _, frac_zone = s.partition(".")
    if not frac_zone:
        return datetime.fromisoformat(s).timestamp()
    digits = len(frac_zone) - len(frac_zone.lstrip("0123456789"))
    whole = datetime.fromisoformat(head + frac_zone[digits:]).timestamp()
    return whole + float("0." + frac_zone[:digits]) if digits else whole


def utc_stamp(text: bytes) -> bytes:
    """The timestamp as Kubernetes prints it: RFC 3339 in UTC with a ``Z``."""
    if text.endswith(b"Z"):
        return text
    ts = parse_time(text)
    nanos = min(round((ts % 1) * 1e9), 999_999_999)
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%S").encode() + b".%09dZ" % nanos


class LogFormatter:
    """Turns CRI lines into what the client sees; counts bytes against ``limit_bytes``."""

    def __init__(self, options: LogOptions) -> None:
        self.options = options
        self.at_line_start = True
        self.sent = 0

    @property
    def exhausted(self) -> bool:
        return self.options.limit_bytes is not None and self.sent >= self.options.limit_bytes

    def format(self, lines: list[bytes]) -> list[tuple[bytes, bytes]]:
        """(stream, text) pieces for complete CRI lines, in order; malformed lines are skipped."""
        opts = self.options
        out: list[tuple[bytes, bytes]] = []
        for line in lines:
            parts = line.split(b" ", 3)
            if len(parts) < 3:
                continue
            stamp, stream, tag = parts[0], parts[1], parts[2]
            if stream not in opts.streams:
                continue
            if opts.since is not None:
                try:
                    if parse_time(stamp) < opts.since:
                        continue
                except ValueError:
                    continue
            text = parts[3] if len(parts) == 4 else b""
            if tag != b"P":
                text += b"\n"
            if opts.timestamps and self.at_line_start:
                text = utc_stamp(stamp) + b" " + text
            self.at_line_start = tag != b"P"
            out.append((stream, text))
        if opts.limit_bytes is not None:
            kept: list[tuple[bytes, bytes]] = []
            for stream, text in out:
                room = opts.limit_bytes - self.sent
                if room <= 0:
                    break
                kept.append((stream, text[:room]))
                self.sent += min(room, len(text))
            return kept
        return out


def tail_offset(f: os.PathLike[str] | int, lines: int) -> int:
    """The offset of the start of the file's last ``lines`` lines (reads backwards from the end)."""
    fd = f if isinstance(f, int) else os.open(f, os.O_RDONLY)
    try:
        end = os.fstat(fd).st_size
        if lines <= 0:
            return end
        pos, found = end, 0
        # A final newline ends the last line; it does not start another.
        skip_last = end > 0 and os.pread(fd, 1, end - 1) == b"\n"
        while pos > 0:
            size = min(READ_SIZE, pos)
            pos -= size
            block = os.pread(fd, size, pos)
            stop = len(block) - 1 if skip_last and pos + size == end else len(block)
            i = stop
            while True:
                i = block.rfind(b"\n", 0, i)
                if i < 0:
                    break
                found += 1
                if found == lines:
                    return pos + i + 1
        return 0
    finally:
        if not isinstance(f, int):
            os.close(fd)


Emit = Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]
StillRunning = Callable[[], Awaitable[bool]]
Cancelled = Callable[[], bool]


async def stream_log(path: Path, options: LogOptions, emit: Emit, still_running: StillRunning,
                     cancelled: Cancelled, *, from_end: bool = False) -> None:
    """Emits the log's lines as the options ask; with ``follow``, keeps going until the container exits.

    ``from_end`` starts at the current end of the file (attach shows output from now on).
    """
    formatter = LogFormatter(options)
    fd = os.open(path, os.O_RDONLY)
    try:
        if from_end:
            offset = os.fstat(fd).st_size
        elif options.tail_lines is not None:
            offset = tail_offset(fd, options.tail_lines)
        else:
            offset = 0
        partial = b""
        next_liveness = 0.0
        exited = False
        loop = asyncio.get_running_loop()
        while not cancelled():
            block = os.pread(fd, READ_SIZE, offset)
            if block:
                offset += len(block)
                lines = (partial + block).split(b"\n")
                partial = lines.pop()
                pieces = formatter.format(lines)
                if pieces:
                    await emit(pieces)
                if formatter.exhausted:
                    return
                continue
            if not options.follow or exited:
                return
            # At the end: the supervisor may have rotated the file (continue in the new one).
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and current.st_ino != os.fstat(fd).st_ino:
                os.close(fd)
                fd = os.open(path, os.O_RDONLY)
                offset, partial = 0, b""
                continue
            now = loop.time()
            if now >= next_liveness:
                next_liveness = now + LIVENESS_EVERY
                if not await still_running():
                    exited = True  # one last read: the final lines may have landed after the previous one
                    continue
            await asyncio.sleep(POLL)
    finally:
        os.close(fd)
