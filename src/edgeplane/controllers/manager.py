"""Runs the controllers while this process holds the leader lease."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import socket

from edgeplane.client.interface import Client
from edgeplane.controllers.base import Controller
from edgeplane.controllers.events import EventRecorder
from edgeplane.controllers.informers import SharedInformers
from edgeplane.controllers.leaderelection import LeaderElector
from edgeplane.controllers.settings import ControllerSettings

log = logging.getLogger(__name__)

# (module, class) of every controller `edgeplane cloud` runs.
CONTROLLERS: tuple[tuple[str, str], ...] = (
    ("edgeplane.controllers.scheduler", "Scheduler"),
    ("edgeplane.controllers.replicaset", "ReplicaSetController"),
    ("edgeplane.controllers.deployment", "DeploymentController"),
    ("edgeplane.controllers.daemonset", "DaemonSetController"),
    ("edgeplane.controllers.garbagecollector", "GarbageCollector"),
    ("edgeplane.controllers.namespace", "NamespaceController"),
    ("edgeplane.controllers.nodelifecycle", "NodeLifecycleController"),
    ("edgeplane.controllers.nodepool", "NodePoolController"),
    ("edgeplane.controllers.yurtappset", "YurtAppSetController"),
)


def load_controllers() -> list[type[Controller]]:
    classes = []
    for module_name, class_name in CONTROLLERS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not part of this build
            raise
        classes.append(getattr(module, class_name))
    return classes


class ControllerManager:
    def __init__(self, client: Client, identity: str | None = None,
                 controllers: list[type[Controller]] | None = None, lease_duration: float = 15.0,
                 renew_period: float = 5.0, settings: ControllerSettings | None = None) -> None:
        self.client = client
        self.settings = settings or ControllerSettings()
        self.identity = identity or f"{socket.gethostname()}_{os.getpid()}"
        self.controller_classes = controllers if controllers is not None else load_controllers()
        self.elector = LeaderElector(client, self.identity, lease_duration=lease_duration,
                                     renew_period=renew_period)
        self.controllers: list[Controller] = []
        self.informers: SharedInformers | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="controller-manager")

    async def _run(self) -> None:
        while True:
            started, lost = asyncio.Event(), asyncio.Event()
            election = asyncio.create_task(self.elector.run(started, lost))
            await started.wait()
            await self._start_controllers()
            await lost.wait()
            await self._stop_controllers()
            election.cancel()

    async def _start_controllers(self) -> None:
        self.informers = SharedInformers(self.client)
        events = EventRecorder(self.client, "edgeplane-controller-manager")
        self.controllers = [cls(self.client, self.informers, events) for cls in self.controller_classes]
        for controller in self.controllers:
            controller.settings = self.settings
            await controller.start()
        self.informers.start()
        log.info("started %d controllers", len(self.controllers))

    async def _stop_controllers(self) -> None:
        for controller in self.controllers:
            await controller.stop()
        if self.informers:
            await self.informers.stop()
        self.controllers = []

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stop_controllers()
