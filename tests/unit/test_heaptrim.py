"""Free heap goes back to the OS: a process that freed most of a fragmented heap shrinks once trimmed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from edgeplane import heaptrim

pytestmark = pytest.mark.skipif(not heaptrim.available(), reason="the C library has no malloc_trim (not glibc)")

# Fills the heap with 1 KiB blocks (too big for Python's small-object allocator, too small for mmap), keeps
# every 64th so free() cannot shrink the heap from its top, frees the rest, then lets heaptrim act: by a
# direct call or by the periodic task.
_CHILD = textwrap.dedent("""
    import asyncio, sys
    from edgeplane import heaptrim

    def anon_kb():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

    blocks = [bytes(1024) for _ in range(200_000)]
    kept = blocks[::64]
    del blocks
    before = anon_kb()
    if sys.argv[1] == "call":
        heaptrim.release_free_heap()
    else:
        async def main():
            task = asyncio.create_task(heaptrim.trim_periodically(0.05))
            await asyncio.sleep(0.5)
            task.cancel()
        asyncio.run(main())
    print(before, anon_kb(), len(kept))
""")


def _freed_kb(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True).stdout
    before, after, _ = (int(x) for x in out.split())
    return before, after


@pytest.mark.parametrize("mode", ["call", "periodic"])
def test_freed_heap_is_returned_to_the_os(mode: str) -> None:
    before, after = _freed_kb(mode)
    # ~200 MiB were allocated and ~197 MiB freed; without a trim nearly all of it stays resident.
    assert before - after > 100_000, f"RssAnon {before} KiB -> {after} KiB"


async def test_periodic_trim_does_nothing_when_disabled() -> None:
    # An interval of 0 turns trimming off: the task ends at once instead of looping forever.
    assert await asyncio.wait_for(heaptrim.trim_periodically(0), 1.0) is None
