"""One informer per resource, shared by every controller of the process."""

from __future__ import annotations

import asyncio

from edgeplane.client.informer import Informer
from edgeplane.client.interface import Client


class SharedInformers:
    def __init__(self, client: Client) -> None:
        self.client = client
        self._informers: dict[tuple[str, str], Informer] = {}
        self._started = False

    def get(self, api_version: str, resource: str) -> Informer:
        key = (api_version, resource)
        informer = self._informers.get(key)
        if informer is None:
            informer = Informer(self.client, api_version, resource)
            self._informers[key] = informer
            if self._started:
                informer.start()
        return informer

    def start(self) -> None:
        self._started = True
        for informer in self._informers.values():
            informer.start()

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in list(self._informers.values())))

    async def stop(self) -> None:
        for informer in self._informers.values():
            await informer.stop()
