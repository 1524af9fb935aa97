"""History compaction: which rows may go, done in small chunks, and the automatic retention policy.

After ``compact(R)`` reads at revisions >= R and watches after revisions >= R must still work. They
need every history row at or after R, plus for each key its newest row before R (the key's value as
of R, and the ``prev`` of the key's next event), unless that row is a deletion. Everything else older
than R goes: a row is superseded exactly when a later row of its key names it as ``prev_rev``, so
walking the rows below R once, in revision order, finds every removable row (deletions are removed
directly; the row after a deletion has no ``prev``). Walking in chunks keeps each transaction short,
so the writer keeps serving writes while a large compaction is under way, and a persisted cursor lets
a compaction cut short by a restart resume where it stopped.
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque

# The IN subquery is not correlated, so SQLite materialises it before deleting anything.
_DELETE_SUPERSEDED = """
DELETE FROM history WHERE rev IN (
    SELECT prev_rev FROM history WHERE rev >= :lo AND rev < :hi AND prev_rev > 0)
"""
_DELETE_TOMBSTONES = "DELETE FROM history WHERE rev >= :lo AND rev < :hi AND deleted = 1"


def compact_chunk(cur: sqlite3.Cursor, cursor: int, target: int, chunk: int) -> int:
    """Remove the rows that revisions [cursor, cursor + chunk) below ``target`` make obsolete;
    returns the next cursor (== target when done)."""
    hi = min(cursor + chunk, target)
    bounds = {"lo": cursor, "hi": hi}
    cur.execute(_DELETE_SUPERSEDED, bounds)
    cur.execute(_DELETE_TOMBSTONES, bounds)
    return hi


class RetentionPolicy:
    """Decides how far the automatic compactor may compact.

    History is kept for at least ``retain_seconds`` and at least ``retain_revisions`` revisions
    (either may be None to not bound by it; both None disables automatic compaction). Time is tracked
    by sampling the revision at every tick, so after a restart the time bound starts counting afresh.
    """

    def __init__(self, retain_seconds: float | None, retain_revisions: int | None) -> None:
        if retain_seconds is not None and retain_seconds <= 0:
            raise ValueError(f"retain_seconds must be > 0 or None, got {retain_seconds}")
        if retain_revisions is not None and retain_revisions < 1:
            raise ValueError(f"retain_revisions must be >= 1 or None, got {retain_revisions}")
        self.retain_seconds = retain_seconds
        self.retain_revisions = retain_revisions
        self._samples: deque[tuple[float, int]] = deque()

    @property
    def enabled(self) -> bool:
        return self.retain_seconds is not None or self.retain_revisions is not None

    def target(self, revision: int, now: float | None = None) -> int:
        """The revision to compact to now (0: nothing may be compacted yet)."""
        now = time.monotonic() if now is None else now
        targets: list[int] = []
        if self.retain_revisions is not None:
            targets.append(revision - self.retain_revisions)
        if self.retain_seconds is not None:
            self._samples.append((now, revision))
            horizon = now - self.retain_seconds
            # The newest sample taken before the horizon is the compaction point; older ones go.
            point: tuple[float, int] | None = None
            while self._samples and self._samples[0][0] <= horizon:
                point = self._samples.popleft()
            if point is not None:
                self._samples.appendleft(point)
            targets.append(point[1] if point else 0)
        return max(0, min(targets)) if targets else 0
