"""Runs an edge node (`edgeplane join` / `edgeplane edge`) as a real OS process for tests, and reads its state."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.integration.cloudproc import Cloud, free_port


def create_token(cloud: Cloud) -> str:
    out = subprocess.run([sys.executable, "-m", "edgeplane.cli", "token", "create", "--data-dir",
                          str(cloud.data_dir)], capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip().splitlines()[-1]


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the condition may not be readable yet (e.g. no file)
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc})"
                                                                            if last_exc else ""))


@dataclass
class EdgeNode:
    """An edge agent process. Use it as a context manager (``with EdgeNode(...) as node:``) so that its end,
    however the test ends, is :meth:`reset`: its pods outlive the agent by design."""

    data_dir: Path
    server: str
    node_name: str
    heartbeat: float = 1.0
    lease_interval: float = 2.0
    metaserver_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", "EDGEPLANE_HUB_HEARTBEAT": str(self.heartbeat),
                "EDGEPLANE_LEASE_INTERVAL": str(self.lease_interval),
                "EDGEPLANE_METASERVER_PORT": str(self.metaserver_port)}

    def _spawn(self, args: list[str]) -> EdgeNode:
        self.log_path = self.data_dir.parent / f"{self.node_name}-edge.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen([sys.executable, "-m", "edgeplane.cli", *args], stdout=log,
                                     stderr=subprocess.STDOUT, env=self._env())
        return self

    def join(self, token: str, *extra: str) -> EdgeNode:
        return self._spawn(["join", "--server", self.server, "--token", token, "--node-name", self.node_name,
                            "--data-dir", str(self.data_dir), *extra])

    def restart(self) -> EdgeNode:
        return self._spawn(["edge", "--data-dir", str(self.data_dir)])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path and self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def reset(self, grace_period: float = 1.0) -> None:
        """Ends the node for good, as an operator does: stops the agent, then `edgeplane reset` stops its pods
        (process supervisors and podman containers) and removes its data directory."""
        self.stop()
        if not self.data_dir.is_dir() or not any(self.data_dir.iterdir()):
            return  # it never got as far as joining: nothing of it runs
        done = subprocess.run([sys.executable, "-m", "edgeplane.cli", "reset", "--data-dir", str(self.data_dir),
                               "--yes", "--grace-period", str(grace_period)],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"edgeplane reset of node {self.node_name} failed ({done.returncode}):\n"
                                 f"{done.stdout}{done.stderr}")

    def __enter__(self) -> EdgeNode:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.reset()

    def kill9(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    # -- reading the edge's metastore from outside (read-only, beside the running agent) --------------

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"file:{self.data_dir / 'metastore.db'}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def held(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        with contextlib.suppress(sqlite3.OperationalError):
            rows = self._query("SELECT body FROM objects WHERE resource=? AND namespace=? AND name=?",
                               (resource, namespace, name))
            return orjson.loads(rows[0][0]) if rows else None
        return None

    def applied_versions(self, resource: str, namespace: str, name: str) -> list[int]:
        rows = self._query("SELECT rv FROM applied_log WHERE resource=? AND namespace=? AND name=? AND deleted=0 "
                           "ORDER BY id", (resource, namespace, name))
        return [rv for (rv,) in rows]
