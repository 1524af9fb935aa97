"""The edge agent: identity, metastore, hub client, pod manager, node status and metaserver, wired together.

Everything the node does reads the metastore, so the agent works the same whether or not the hub is
connected. Stopping the agent stops the agent alone: pods keep running and are adopted again by the next
agent (after a restart, an upgrade or a reboot).

Tunables beyond the data directory come from the environment, so `edgeplane join` and `edgeplane edge`
need no extra flags: EDGEPLANE_METASERVER_PORT (default 10550; 0 picks a free port),
EDGEPLANE_HUB_HEARTBEAT (seconds between WebSocket pings, default 15), EDGEPLANE_LEASE_INTERVAL
(seconds between Lease renewals, default 10).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeplane.edge.hubclient import HubClient
from edgeplane.edge.identity import EdgeIdentity
from edgeplane.edge.metastore import MetaStore

log = logging.getLogger(__name__)

DEFAULT_METASERVER_PORT = 10550
METASTORE_FILE = "metastore.db"


class AgentConfigError(ValueError):
    """A setting of the agent that cannot be used."""


def _env_number(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise AgentConfigError(f"${name}={raw!r} is not a number") from None
    if value < minimum:
        raise AgentConfigError(f"${name}={raw!r} must be at least {minimum}")
    return value


@dataclass
class AgentConfig:
    data_dir: Path
    metaserver_port: int = DEFAULT_METASERVER_PORT
    hub_heartbeat: float = 15.0
    lease_interval: float = 10.0

    @classmethod
    def from_env(cls, data_dir: Path) -> AgentConfig:
        return cls(
            data_dir=Path(data_dir),
            metaserver_port=int(_env_number("EDGEPLANE_METASERVER_PORT", DEFAULT_METASERVER_PORT, 0)),
            hub_heartbeat=_env_number("EDGEPLANE_HUB_HEARTBEAT", 15.0, 0.5),
            lease_interval=_env_number("EDGEPLANE_LEASE_INTERVAL", 10.0, 0.5),
        )


def _optional(module: str) -> Any | None:
    """A module of the pod side, or None while this build does not have it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def make_runtime(name: str, data_dir: Path) -> Any:
    if name == "process":
        from edgeplane.edge.runtimes.process import ProcessRuntime

        return ProcessRuntime(data_dir)
    if name == "podman":
        from edgeplane.edge.runtimes.podman import PodmanRuntime

        return PodmanRuntime(data_dir)
    raise AgentConfigError(f'runtime {name!r} in {data_dir / "node.json"} is not one of: process, podman')


class EdgeAgent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.identity: EdgeIdentity | None = None
        self.metastore: MetaStore | None = None
        self.hub: HubClient | None = None
        self.pods: Any = None
        self.node_status: Any = None
        self.metaserver: Any = None
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def node_name(self) -> str:
        assert self.identity is not None
        return self.identity.node_name

    async def start(self) -> None:
        cfg = self.config
        self.identity = identity = EdgeIdentity.load(cfg.data_dir)
        self.metastore = ms = MetaStore(cfg.data_dir / METASTORE_FILE)
        node_config = identity.config
        ms.report_registration({"labels": node_config.get("labels") or {},
                                "nodepool": node_config.get("nodepool") or ""})
        runtime_name = str(node_config.get("runtime") or "process")
        await self._start_pod_side(runtime_name)
        streams = None
        if self.pods is not None:
            from edgeplane.edge.streamserver import StreamServer

            streams = StreamServer(ms, self.pods.runtime).serve
        self.hub = HubClient(ms, identity.server, identity.ssl_context, heartbeat=cfg.hub_heartbeat,
                             lease_interval=cfg.lease_interval, streams=streams)
        self._spawn(self.hub.run(), "hub client")
        self._spawn(identity.keep_fresh(), "certificate rotation")
        log.info("edge node %s started (runtime %s, cloud %s)", identity.node_name, runtime_name, identity.server)

    async def _start_pod_side(self, runtime_name: str) -> None:
        """The pod manager, node status and metaserver, as far as this build has them."""
        cfg, ms = self.config, self.metastore
        podmanager = _optional("edgeplane.edge.podmanager")
        if podmanager is not None:
            runtime = make_runtime(runtime_name, cfg.data_dir)
            self.pods = podmanager.PodManager(ms, self.node_name, runtime, cfg.data_dir)
            await self.pods.start()
        else:
            log.warning("this build has no pod manager: pods are received but not run")
        nodestatus = _optional("edgeplane.edge.nodestatus")
        if nodestatus is not None:
            self.node_status = nodestatus.NodeStatusReporter(ms, self.node_name, runtime_name,
                                                             data_dir=cfg.data_dir)
            self._spawn(self.node_status.run(), "node status")
        metaserver = _optional("edgeplane.edge.metaserver")
        if metaserver is not None:
            self.metaserver = metaserver.MetaServer(ms, host="127.0.0.1", port=cfg.metaserver_port)
            await self.metaserver.start()

    def _spawn(self, coro: Any, what: str) -> None:
        task = asyncio.create_task(coro, name=what)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)

    @staticmethod
    def _task_done(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("edge agent: %s stopped", task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        """Stops the agent; pods keep running (the next agent adopts them)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.metaserver is not None:
            await self.metaserver.stop()
        if self.pods is not None:
            await self.pods.stop()
        if self.metastore is not None:
            self.metastore.close()
        log.info("edge agent stopped; pods keep running")


async def run_agent(config: AgentConfig | Path | str) -> None:
    """Runs an edge agent until SIGTERM or SIGINT, then stops it cleanly without stopping its pods."""
    if not isinstance(config, AgentConfig):
        config = AgentConfig.from_env(Path(config))
    agent = EdgeAgent(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.start()
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await agent.stop()
