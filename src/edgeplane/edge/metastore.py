"""The edge's metastore: one SQLite file with everything the node received and everything waiting to go up.

Every decision the edge makes reads this store, so the node keeps working while the cloud is unreachable
and comes back from a restart (or a reboot) without it. Reads are served from an in-memory mirror loaded
at open; writes commit to SQLite (WAL, synchronous=NORMAL: a commit survives the agent being killed, and
the WAL is fsynced at checkpoints) before the in-memory mirror and the subscribers see them.

Downstream objects are keyed ``resource/namespace/name`` (namespace empty for cluster-scoped objects) and
versioned by their cloud resourceVersion; ``apply`` never replaces a newer version with an older one.
Upstream reports wait in the outbox, latest per object, each under a sequence number: the hub client sends
them and drops an entry only when the cloud acknowledged that very sequence number.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

Subscriber = Callable[[str, str, dict[str, Any]], None]

MAX_OUTBOX = 10_000  # entries of any kind; statuses are one per object, so events are what can pile up
MAX_EVENTS = 1_000
APPLIED_LOG_SIZE = 10_000  # rows of the applied-versions log kept for diagnosis

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    okey TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, kind TEXT NOT NULL, body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS applied_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, resource TEXT NOT NULL, namespace TEXT NOT NULL,
    name TEXT NOT NULL, rv INTEGER NOT NULL, deleted INTEGER NOT NULL, at REAL NOT NULL
);
"""


class MetaStoreError(ValueError):
    """A request the metastore cannot carry out (bad key, unknown outbox kind)."""


def object_key(resource: str, namespace: str, name: str) -> str:
    return f"{resource}/{namespace}/{name}"


def split_key(key: str) -> tuple[str, str, str]:
    parts = key.split("/")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise MetaStoreError(f"object key {key!r} is not resource/namespace/name")
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True, slots=True)
class Change:
    """One downstream change: an object at a version, or (obj None) its deletion at a version."""

    resource: str
    namespace: str
    name: str
    rv: int
    obj: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return object_key(self.resource, self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    key: str
    kind: str  # status | event | lease | register | podDeleted
    body: dict[str, Any]


class MetaStore:
    def __init__(self, path: Path, *, max_outbox: int = MAX_OUTBOX, max_events: int = MAX_EVENTS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_outbox = max_outbox
        self.max_events = max_events
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._versions: dict[tuple[str, str, str], int] = {}
        for resource, namespace, name, rv, body in self._db.execute("SELECT * FROM objects"):
            self._objects[(resource, namespace, name)] = orjson.loads(body)
            self._versions[(resource, namespace, name)] = rv
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()
        self._seq: int = row[0]
        self._subscribers: list[Subscriber] = []
        self._outbox_waiters: list[asyncio.Event] = []

    def close(self) -> None:
        self._db.close()

    # -- reads (C's interface) ---------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get((resource, namespace, name))

    def list(self, resource: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            obj for (res, ns, _), obj in self._objects.items()
            if res == resource and (namespace is None or ns == namespace)
        ]

    def version(self, resource: str, namespace: str, name: str) -> int | None:
        return self._versions.get((resource, namespace, name))

    def inventory(self) -> dict[str, int]:
        """Every object held, as ``resource/namespace/name`` -> resourceVersion (the hub's hello)."""
        return {object_key(*k): rv for k, rv in self._versions.items()}

    def subscribe(self, callback: Subscriber) -> None:
        """``callback(resource, "ADDED"|"MODIFIED"|"DELETED", obj)`` after each committed change."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        self._subscribers.remove(callback)

    # -- downstream -----------------------------------------------------------------------------------

    def apply(self, changes: Iterable[Change]) -> list[Change]:
        """Commits a batch of downstream changes in one transaction; returns the ones that took effect.

        A change older than the version held is skipped (never an older version after a newer one);
        a deletion removes the object only if it is not newer than the deletion. Skipped changes are still
        safe to acknowledge: the edge holds that version or a newer one.
        """
        effective: list[tuple[Change, str, dict[str, Any] | None]] = []
        db = self._db
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            for ch in changes:
                k = (ch.resource, ch.namespace, ch.name)
                held = self._versions.get(k)
                if ch.obj is None:
                    if held is None or held > ch.rv:
                        continue
                    db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?", k)
                    effective.append((ch, "DELETED", self._objects.get(k)))
                else:
                    if held is not None and held >= ch.rv:
                        continue
                    obj = self._with_pending_status(ch.resource, ch.namespace, ch.name, ch.obj)
                    db.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?)", (*k, ch.rv, orjson.dumps(obj)))
                    effective.append((ch, "MODIFIED" if held is not None else "ADDED", obj))
                db.execute(
                    "INSERT INTO applied_log (resource, namespace, name, rv, deleted, at) VALUES (?,?,?,?,?,?)",
                    (*k, ch.rv, int(ch.obj is None), now),
                )
            if effective:
                db.execute(
                    "DELETE FROM applied_log WHERE id <= (SELECT MAX(id) FROM applied_log) - ?", (APPLIED_LOG_SIZE,)
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        for ch, kind, obj in effective:
            k = (ch.resource, ch.namespace, ch.name)
            if kind == "DELETED":
                self._objects.pop(k, None)
                self._versions.pop(k, None)
            else:
                assert obj is not None
                self._objects[k] = obj
                self._versions[k] = ch.rv
        for ch, kind, obj in effective:
            if obj is not None:
                self._notify(ch.resource, kind, obj)
        return [ch for ch, _, _ in effective]

    def remove(self, resource: str, namespace: str, name: str, uid: str = "") -> bool:
        """Drops a local object (after the cloud confirmed its deletion); ``uid`` guards against a newer one."""
        k = (resource, namespace, name)
        obj = self._objects.get(k)
        if obj is None or (uid and obj.get("metadata", {}).get("uid") != uid):
            return False
        self._db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?", k)
        del self._objects[k]
        del self._versions[k]
        self._notify(resource, "DELETED", obj)
        return True

    def applied_versions(self, resource: str, namespace: str, name: str) -> list[tuple[int, bool]]:
        """(resourceVersion, deleted) of every change applied to one object, oldest first (bounded log)."""
        rows = self._db.execute(
            "SELECT rv, deleted FROM applied_log WHERE resource=? AND namespace=? AND name=? ORDER BY id",
            (resource, namespace, name),
        )
        return [(rv, bool(deleted)) for rv, deleted in rows]

    def _with_pending_status(self, resource: str, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        """The edge's own status report, not yet confirmed by the cloud, stays the local truth."""
        if resource not in ("pods", "nodes"):
            return obj
        row = self._db.execute(
            "SELECT body FROM outbox WHERE okey=?", (f"status/{object_key(resource, namespace, name)}",)
        ).fetchone()
        if row is None:
            return obj
        body = orjson.loads(row[0])
        if body.get("uid") and body["uid"] != obj.get("metadata", {}).get("uid"):
            return obj
        return {**obj, "status": body["status"]}

    def _notify(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        for callback in list(self._subscribers):
            try:
                callback(resource, kind, obj)
            except Exception:
                log.exception("metastore subscriber %r failed on %s %s", callback, kind, resource)

    # -- upstream (the outbox) ---------------------------------------------------------------------------

    def report_status(self, resource: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Queues the object's full status for the cloud (latest wins) and makes it the local status."""
        if resource not in ("pods", "nodes"):
            raise MetaStoreError(f"report_status: resource must be pods or nodes, not {resource!r}")
        k = (resource, namespace, name)
        obj = self._objects.get(k)
        uid = (obj or {}).get("metadata", {}).get("uid", "")
        body = {"resource": resource, "namespace": namespace, "name": name, "uid": uid, "status": status}
        updated = None
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._put_outbox(f"status/{object_key(*k)}", "status", body)
            if obj is not None and obj.get("status") != status:
                updated = {**obj, "status": status}
                self._db.execute(
                    "UPDATE objects SET body=? WHERE resource=? AND namespace=? AND name=?",
                    (orjson.dumps(updated), *k),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if updated is not None:
            self._objects[k] = updated
            self._notify(resource, "MODIFIED", updated)
        self._wake_outbox()

    def report_event(self, event: dict[str, Any]) -> None:
        """Queues a core/v1 Event for the cloud; the oldest events go first when the queue is full."""
        if not isinstance(event, dict) or not isinstance(event.get("metadata"), dict):
            raise MetaStoreError("report_event: an Event needs a metadata object")
        self._enqueue(None, "event", event)

    def report_lease(self) -> None:
        """Asks for a renewal of the node's Lease (the cloud stamps the time when it writes it)."""
        self._enqueue("lease", "lease", {})

    def report_registration(self, registration: dict[str, Any]) -> None:
        """Queues the node's registration (labels, annotations) for the cloud."""
        self._enqueue("register", "register", registration)

    def confirm_pod_deleted(self, namespace: str, name: str, uid: str) -> None:
        """The pod's containers have stopped: ask the cloud to finish its deletion (grace 0, this uid)."""
        body = {"namespace": namespace, "name": name, "uid": uid}
        self._enqueue(f"podDeleted/{namespace}/{name}/{uid}", "podDeleted", body)

    def outbox(self, after_seq: int = 0, limit: int = 1000) -> list[OutboxEntry]:
        rows = self._db.execute(
            "SELECT seq, okey, kind, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        )
        return [OutboxEntry(seq, okey, kind, orjson.loads(body)) for seq, okey, kind, body in rows]

    def outbox_size(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def ack_outbox(self, seqs: Iterable[int]) -> None:
        """Drops entries the cloud confirmed; an entry replaced meanwhile has a new seq and stays."""
        self._db.executemany("DELETE FROM outbox WHERE seq=?", ((s,) for s in seqs))

    def outbox_waiter(self) -> asyncio.Event:
        """An event set whenever something is queued upstream (the hub client waits on it)."""
        event = asyncio.Event()
        self._outbox_waiters.append(event)
        return event

    def _enqueue(self, okey: str | None, kind: str, body: dict[str, Any]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._put_outbox(okey, kind, body)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._wake_outbox()

    def _put_outbox(self, okey: str | None, kind: str, body: dict[str, Any]) -> None:
        self._seq += 1
        seq = self._seq
        db = self._db
        db.execute(
            "INSERT OR REPLACE INTO outbox (okey, seq, kind, body) VALUES (?,?,?,?)",
            (okey or f"{kind}/{seq}", seq, kind, orjson.dumps(body)),
        )
        if kind == "event":
            db.execute(
                "DELETE FROM outbox WHERE kind='event' AND seq <= "
                "(SELECT seq FROM outbox WHERE kind='event' ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (self.max_events,),
            )
        # Beyond the overall bound the oldest entries go (statuses are re-reported by their owners on change).
        db.execute(
            "DELETE FROM outbox WHERE seq <= (SELECT seq FROM outbox ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            (self.max_outbox,),
        )

    def _wake_outbox(self) -> None:
        for event in self._outbox_waiters:
            event.set()
