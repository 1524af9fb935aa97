"""The on-disk layout of the SQLite store and how its connections are opened.

Tables:
  kv       the current value of every live key (fast current reads, ranges and counts);
  history  one row per revision: every put and every delete (tombstone, carrying the last value),
           with the revision of the key's previous version so watch events can name their ``prev``;
  meta     small integers: schema version, compacted revision, compaction progress.
The current revision is ``max(history.rev)``: compaction never removes the newest row, so it survives
restarts without a separate counter to keep in step.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edgeplane.store.interface import StoreError

SCHEMA_VERSION = 1
DB_FILE = "state.db"

_DDL = """
CREATE TABLE IF NOT EXISTS kv (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    rev        INTEGER PRIMARY KEY,
    key        TEXT NOT NULL,
    value      BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    prev_rev   INTEGER NOT NULL,
    deleted    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_key_rev ON history (key, rev);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""

SYNCHRONOUS_MODES = ("FULL", "NORMAL")


def open_writer(path: Path, synchronous: str) -> sqlite3.Connection:
    """The one read-write connection. Creates the schema on first use.

    Durability: in WAL mode every commit appends to the WAL with write() before COMMIT returns, so an
    acknowledged write survives kill -9 of the process with either mode. synchronous=FULL (the
    default) also fsyncs the WAL on every commit, so it survives power loss too; group commit
    amortises that fsync over every request in a batch. NORMAL skips the per-commit fsync (a power
    cut may lose the last commits, never corrupt the file) for disks where fsync is slow.
    """
    if synchronous not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, got {synchronous!r}")
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"{path}: cannot switch the database to WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        # Checkpoints give the WAL's space back to the database; cap what the WAL file keeps after one.
        conn.execute("PRAGMA journal_size_limit=67108864")
        conn.executescript(_DDL)
        version = read_meta(conn, "schema_version")
        if version == 0:
            conn.execute("INSERT INTO meta(name, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif version != SCHEMA_VERSION:
            raise StoreError(f"{path}: schema version {version} is not supported (expected {SCHEMA_VERSION})")
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection; in WAL mode it reads a consistent snapshot beside the writer."""
    conn = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def read_meta(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return row[0] if row else 0


def current_revision(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT coalesce(max(rev), 0) FROM history").fetchone()[0]
