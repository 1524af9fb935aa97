"""The pod manager: keeps the runtime matching the pods of this node that the metastore holds.

A level-triggered reconciler in the kubelet's shape: one worker task per pod, woken by metastore changes
and every ``sync_period``; each sync reads the pod from the metastore (never the cloud), starts what should
run, restarts what exited by the pod's restartPolicy with crash-loop backoff, runs the probes, stops pods
that are deleted, and reports the pod's status when it changed. ``stop()`` leaves the containers running:
they outlive the agent and are adopted by the next one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeplane.edge import hostnet
from edgeplane.edge.metastore import MetaStore
from edgeplane.edge.podstatus import ContainerView, pod_status, rfc3339
from edgeplane.edge.probes import LIVENESS, READINESS, STARTUP, ProbeWorker
from edgeplane.edge.runtimes.env import expand, resolve_env
from edgeplane.edge.runtimes.interface import (
    ContainerConfig,
    ContainerConfigError,
    ContainerState,
    Mount,
    PortMapping,
    Runtime,
)
from edgeplane.edge.runtimes.volumes import materialise

log = logging.getLogger(__name__)

DEFAULT_GRACE = 30.0


@dataclass(slots=True)
class Backoff:
    """Crash-loop backoff of one container: first restart at once, then base, doubling up to max."""

    delay: float = 0.0
    restarted_at: float = 0.0


@dataclass(slots=True)
class Probes:
    instance: str
    workers: dict[str, ProbeWorker] = field(default_factory=dict)

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()


class PodManager:
    def __init__(
        self, metastore: MetaStore, node_name: str, runtime: Runtime, data_dir: Path, *,
        sync_period: float = 1.0, backoff_base: float = 10.0, backoff_max: float = 300.0, host_ip: str = "",
    ) -> None:
        self.store = metastore
        self.node_name = node_name
        self.runtime = runtime
        self.pods_dir = Path(data_dir) / "pods"
        self.sync_period = sync_period
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.host_ip = host_ip or hostnet.primary_ip()
        self.workers: dict[tuple[str, str], PodWorker] = {}
        self._resync: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Adopts what runs, stops what no pod owns any more, then follows the metastore."""
        pods = [p for p in self.store.list("pods") if self._mine(p)]
        owned = {p["metadata"]["uid"] for p in pods}
        for state in await self.runtime.list():
            if state.pod_uid not in owned:
                log.info("stopping orphaned container %s of pod uid %s", state.name, state.pod_uid)
                await self.runtime.remove_pod(state.pod_uid)
        self.store.subscribe(self._on_change)
        for pod in pods:
            self._worker(pod["metadata"]["namespace"], pod["metadata"]["name"]).wake()
        self._resync = asyncio.get_running_loop().create_task(self._resync_loop(), name="podmanager-resync")

    async def stop(self) -> None:
        """Stops reconciling; the pods keep running."""
        self.store.unsubscribe(self._on_change)
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        if self._resync is not None:
            tasks.append(self._resync)
        for worker in self.workers.values():
            worker.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.workers.clear()

    def _mine(self, pod: dict[str, Any]) -> bool:
        return (pod.get("spec") or {}).get("nodeName") == self.node_name

    def _worker(self, namespace: str, name: str) -> PodWorker:
        key = (namespace, name)
        worker = self.workers.get(key)
        if worker is None:
            worker = self.workers[key] = PodWorker(self, namespace, name)
            worker.task = asyncio.get_running_loop().create_task(worker.run(), name=f"pod-{namespace}/{name}")
        return worker

    def _on_change(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        if resource == "pods":
            key = (meta.get("namespace", ""), meta.get("name", ""))
            if key in self.workers:
                self.workers[key].wake()
            elif kind != "DELETED" and self._mine(obj):
                self._worker(*key).wake()
        elif resource in ("configmaps", "secrets"):
            for (namespace, _), worker in self.workers.items():
                if namespace == meta.get("namespace"):
                    worker.wake()

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sync_period)
            for worker in list(self.workers.values()):
                worker.wake()

    def event(self, pod: dict[str, Any], kind: str, reason: str, message: str, container: str = "") -> None:
        """A core/v1 Event about the pod, queued for the cloud."""
        meta = pod["metadata"]
        now = rfc3339(time.time())
        involved = {"kind": "Pod", "apiVersion": "v1", "namespace": meta["namespace"], "name": meta["name"],
                    "uid": meta.get("uid", "")}
        if container:
            involved["fieldPath"] = f"spec.containers{{{container}}}"
        self.store.report_event({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
            "involvedObject": involved, "reason": reason, "message": message, "type": kind,
            "source": {"component": "kubelet", "host": self.node_name},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": "kubelet", "reportingInstance": self.node_name,
        })


class PodWorker:
    """Reconciles one pod (namespace/name) until it is gone from the node."""

    def __init__(self, manager: PodManager, namespace: str, name: str) -> None:
        self.m = manager
        self.namespace = namespace
        self.name = name
        self.task: asyncio.Task[None] | None = None
        self.uid = ""
        self.grace = DEFAULT_GRACE
        self.containers: list[str] = []
        self.waiting: dict[str, tuple[str, str]] = {}
        self.backoff: dict[str, Backoff] = {}
        self.probes: dict[str, Probes] = {}
        self.confirmed = ""  # the uid whose deletion was confirmed
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        for probes in self.probes.values():
            probes.stop()
        self.probes.clear()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if await self.sync():
                    break
            except Exception:
                log.exception("sync of pod %s/%s failed", self.namespace, self.name)
        self.close()
        if self.m.workers.get((self.namespace, self.name)) is self:
            del self.m.workers[(self.namespace, self.name)]
            # The pod may have come back (same name, new uid) while this worker was finishing.
            pod = self.m.store.get("pods", self.namespace, self.name)
            if pod is not None and self.m._mine(pod):
                self.m._worker(self.namespace, self.name).wake()

    async def sync(self) -> bool:
        """One reconcile; True when the pod is gone and the worker should end."""
        pod = self.m.store.get("pods", self.namespace, self.name)
        if pod is None or not self.m._mine(pod):
            if self.uid:
                await self.terminate(self.uid)
                await self.m.runtime.remove_pod(self.uid)
            return True
        meta = pod["metadata"]
        if self.uid and meta["uid"] != self.uid:  # deleted and recreated under the same name
            await self.terminate(self.uid)
            await self.m.runtime.remove_pod(self.uid)
            self.reset()
        self.uid = meta["uid"]
        spec = pod.get("spec") or {}
        self.grace = float(spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE))
        self.containers = [c["name"] for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]
        if meta.get("deletionTimestamp"):
            grace = meta.get("deletionGracePeriodSeconds")
            await self.terminate(self.uid, float(grace) if grace is not None else self.grace)
            await self.report(pod)
            if self.confirmed != self.uid:
                self.m.store.confirm_pod_deleted(self.namespace, self.name, self.uid)
                self.confirmed = self.uid
            return False
        await self.converge(pod)
        await self.report(pod)
        return False

    def reset(self) -> None:
        self.close()
        self.waiting.clear()
        self.backoff.clear()
        self.confirmed = ""

    async def terminate(self, uid: str, grace: float | None = None) -> None:
        self.close()
        grace = self.grace if grace is None else grace
        await asyncio.gather(*(self.m.runtime.stop(uid, name, grace) for name in self.containers))

    # -- converging ----------------------------------------------------------------------------------

    async def converge(self, pod: dict[str, Any]) -> None:
        spec = pod.get("spec") or {}
        policy = spec.get("restartPolicy") or "Always"
        try:
            volumes = materialise(pod, self.m.store, self.m.pods_dir)
        except ContainerConfigError as exc:
            await self._blocked(pod, exc)
            return
        for i, container in enumerate(spec.get("initContainers") or ()):
            state = await self.m.runtime.inspect(self.uid, container["name"])
            if state is not None and state.exited and state.exit_code == 0:
                continue
            # Init containers run to completion one at a time; a failed one is retried unless Never.
            init_policy = "Never" if policy == "Never" else "OnFailure"
            await self._converge_container(pod, container, f"spec.initContainers[{i}]", state, init_policy, volumes)
            return
        for i, container in enumerate(spec.get("containers") or ()):
            state = await self.m.runtime.inspect(self.uid, container["name"])
            await self._converge_container(pod, container, f"spec.containers[{i}]", state, policy, volumes)

    async def _blocked(self, pod: dict[str, Any], exc: ContainerConfigError) -> None:
        """Nothing new can start; every container that is not running says why."""
        for name in self.containers:
            state = await self.m.runtime.inspect(self.uid, name)
            if state is None or state.exited:
                self._wait(pod, name, exc.reason, exc.message)

    def _wait(self, pod: dict[str, Any], name: str, reason: str, message: str) -> None:
        if self.waiting.get(name) != (reason, message):
            self.waiting[name] = (reason, message)
            if reason != "CrashLoopBackOff":
                self.m.event(pod, "Warning", "Failed", f"Error: {message}", name)

    async def _converge_container(
        self, pod: dict[str, Any], container: dict[str, Any], where: str, state: ContainerState | None,
        policy: str, volumes: dict[str, str],
    ) -> None:
        name = container["name"]
        if state is not None and state.running:
            self.waiting.pop(name, None)
            probes = self._probes(pod, container, state)
            liveness = probes.workers.get(LIVENESS)
            if liveness is not None and not liveness.result:
                message = f"Container {name} failed liveness probe, will be restarted"
                self.m.event(pod, "Warning", "Unhealthy", f"Liveness probe failed: {liveness.message}", name)
                self.m.event(pod, "Normal", "Killing", message, name)
                probes.stop()
                del self.probes[name]
                await self.m.runtime.stop(self.uid, name, self.grace)
            return
        if name in self.probes:
            self.probes.pop(name).stop()
        if state is not None:
            if not _restarts(policy, state.exit_code):
                self.waiting.pop(name, None)
                return
            wait = self._backoff_left(name, state)
            if wait > 0:
                self._wait(pod, name, "CrashLoopBackOff",
                           f"back-off {self.backoff[name].delay:g}s restarting failed container={name} "
                           f"pod={self.name}_{self.namespace}({self.uid})")
                return
        attempt = state.attempt + 1 if state is not None else 0
        try:
            config = self._config(pod, container, where, attempt, volumes)
            started = await self.m.runtime.start(config)
        except ContainerConfigError as exc:
            self._wait(pod, name, exc.reason, exc.message)
            return
        self.waiting.pop(name, None)
        if state is not None:
            self.backoff.setdefault(name, Backoff()).restarted_at = time.time()
        if started.running:
            self.m.event(pod, "Normal", "Started", f"Started container {name}", name)

    def _backoff_left(self, name: str, state: ContainerState) -> float:
        """Seconds until the container may restart (0: now), advancing its backoff when it restarts."""
        now = time.time()
        entry = self.backoff.get(name)
        if entry is None or now - entry.restarted_at > 2 * self.m.backoff_max:
            entry = self.backoff[name] = Backoff()
        finished = state.finished_at or now
        left = finished + entry.delay - now
        if left > 0:
            return left
        entry.delay = min(max(entry.delay * 2, self.m.backoff_base), self.m.backoff_max)
        return 0.0

    def _config(
        self, pod: dict[str, Any], container: dict[str, Any], where: str, attempt: int, volumes: dict[str, str]
    ) -> ContainerConfig:
        spec = pod.get("spec") or {}
        env = resolve_env(container, pod, self.m.store, where)
        mounts = []
        for j, mount in enumerate(container.get("volumeMounts") or ()):
            source = volumes.get(mount.get("name", ""))
            if source is None:
                raise ContainerConfigError(f"{where}.volumeMounts[{j}]: volume {mount.get('name')!r} not found")
            sub = mount.get("subPath") or ""
            mounts.append(Mount(str(Path(source) / sub) if sub else source, mount.get("mountPath", ""),
                                bool(mount.get("readOnly"))))
        argv = [expand(a, env) for a in (container.get("command") or []) + (container.get("args") or [])]
        ports = [PortMapping(int(p["containerPort"]), int(p.get("hostPort") or 0), p.get("protocol") or "TCP")
                 for p in container.get("ports") or ()]
        return ContainerConfig(
            pod_uid=self.uid, pod_namespace=self.namespace, pod_name=self.name, name=container["name"],
            image=container.get("image", ""), command=argv, env=env, attempt=attempt,
            working_dir=container.get("workingDir") or "", mounts=mounts, ports=ports,
            image_pull_policy=container.get("imagePullPolicy") or "IfNotPresent",
            host_network=bool(spec.get("hostNetwork")), entrypoint_override=bool(container.get("command")),
        )

    def _probes(self, pod: dict[str, Any], container: dict[str, Any], state: ContainerState) -> Probes:
        name = container["name"]
        probes = self.probes.get(name)
        if probes is not None and probes.instance == state.id:
            return probes
        if probes is not None:
            probes.stop()
        probes = self.probes[name] = Probes(state.id)
        uid, runtime = self.uid, self.m.runtime

        async def exec_fn(command: list[str], time_limit: float) -> tuple[int, str]:
            return await runtime.exec_probe(uid, name, command, time_limit)

        def host() -> str:
            return runtime.pod_ip([state]) or self.m.host_ip

        def started() -> bool:
            startup = probes.workers.get(STARTUP)
            return startup is None or startup.result

        for kind, key in ((STARTUP, "startupProbe"), (LIVENESS, "livenessProbe"), (READINESS, "readinessProbe")):
            if container.get(key):
                worker = ProbeWorker(kind, container[key], container, host, exec_fn, self.wake,
                                     (lambda: True) if kind == STARTUP else started)
                probes.workers[kind] = worker
                worker.start()
        return probes

    # -- status --------------------------------------------------------------------------------------

    async def report(self, pod: dict[str, Any]) -> None:
        spec = pod.get("spec") or {}
        runtime = self.m.runtime
        inits = [await self._view(c, init=True) for c in spec.get("initContainers") or ()]
        mains = [await self._view(c, init=False) for c in spec.get("containers") or ()]
        states = [v.current for v in mains if v.current is not None]
        status = pod_status(pod, inits, mains, scheme=runtime.name, host_ip=self.m.host_ip,
                            pod_ip=runtime.pod_ip(states) or "")
        if status != (pod.get("status") or {}):
            meta = pod["metadata"]
            self.m.store.report_status("pods", meta["namespace"], meta["name"], status)

    async def _view(self, container: dict[str, Any], init: bool) -> ContainerView:
        name = container["name"]
        current = await self.m.runtime.inspect(self.uid, name)
        previous = await self.m.runtime.previous(self.uid, name) if current is not None else None
        view = ContainerView(container, current, previous, self.waiting.get(name))
        if current is not None and current.running and view.waiting is None:
            probes = self.probes.get(name)
            workers = probes.workers if probes is not None and probes.instance == current.id else {}
            view.started = STARTUP not in workers or workers[STARTUP].result
            view.ready = view.started and (READINESS not in workers or workers[READINESS].result)
            if init:
                view.ready = False
        elif init and current is not None and current.exit_code == 0:
            view.ready = True
        return view


def _restarts(policy: str, exit_code: int | None) -> bool:
    if policy == "Always":
        return True
    return policy == "OnFailure" and exit_code != 0
