"""One cloud process: PKI, store, API server over HTTPS; started and stopped as a unit.

The API port is served by the hub's listener (``cloudhub/listener.py``): connections that offer the hub's
ALPN go to the cloud hub's lean TLS and WebSocket stack, everything else to the aiohttp application
behind the stdlib TLS.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from edgeplane import heaptrim
from edgeplane.apiserver.auth import Authenticator, Authorizer
from edgeplane.apiserver.bootstrap import Bootstrap
from edgeplane.apiserver.podproxy import PodProxy
from edgeplane.apiserver.server import APIServer
from edgeplane.client.local import LocalClient
from edgeplane.cloudhub import protocol
from edgeplane.cloudhub.hub import CloudHub
from edgeplane.cloudhub.join import JoinService
from edgeplane.cloudhub.listener import Listener, Route, lean_tls_route, tls_route
from edgeplane.cloudhub.tls.handshake import LeanTLSContext
from edgeplane.cloudhub.tunnel import Tunnel
from edgeplane.controllers.manager import ControllerManager
from edgeplane.controllers.settings import ControllerSettings
from edgeplane.pki.admin import ensure_admin_kubeconfig
from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.tls import server_ssl_context
from edgeplane.store import open_store
from edgeplane.store.interface import Store

log = logging.getLogger(__name__)


@dataclass
class CloudConfig:
    data_dir: Path
    bind_address: str = "0.0.0.0"
    port: int = 6443
    advertise_address: str = "127.0.0.1"
    extra_sans: list[str] = field(default_factory=list)
    token_file: Path | None = None
    history_retention: float = 300.0  # seconds of store history kept for watches and consistent paging
    compaction_interval: float = 60.0
    controllers: bool = True
    controller_settings: ControllerSettings = field(default_factory=ControllerSettings)
    hub_heartbeat: float = 15.0  # seconds of silence after which an edge hub connection is pinged
    # "lean": hub connections keep only TLS 1.3 record keys after an OpenSSL handshake (a few hundred bytes);
    # "stdlib": asyncio's SSL transport, as for every other client (for comparison, or as a fallback).
    hub_tls: str = "lean"
    node_cert_lifetime: float = 365 * 86400.0  # seconds an edge node's client certificate is valid
    heap_trim_interval: float = heaptrim.DEFAULT_INTERVAL  # seconds between returns of free heap to the OS

    @property
    def server_url(self) -> str:
        host = self.advertise_address
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}"


class CloudProcess:
    def __init__(self, config: CloudConfig) -> None:
        self.config = config
        self.store: Store | None = None
        self.api: APIServer | None = None
        self.bootstrap: Bootstrap | None = None
        self._runner: web.AppRunner | None = None
        self.listener: Listener | None = None
        self.kubeconfig: Path | None = None
        self.controllers: ControllerManager | None = None
        self.hub: CloudHub | None = None
        self._heap_trim: asyncio.Task[None] | None = None

    async def start(self) -> None:
        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        pki_dir = cfg.data_dir / "pki"
        ca = await asyncio.to_thread(CertificateAuthority.load_or_create, pki_dir)
        hosts = [cfg.advertise_address, *cfg.extra_sans]
        if cfg.bind_address not in ("0.0.0.0", "::"):
            hosts.append(cfg.bind_address)
        cert_file, key_file = await asyncio.to_thread(ca.issue_server_cert, pki_dir, "apiserver", hosts)
        ssl_context = server_ssl_context(ca, cert_file, key_file)
        self.kubeconfig = await asyncio.to_thread(ensure_admin_kubeconfig, cfg.data_dir, cfg.server_url, ca)

        self.store = open_store(cfg.data_dir, retain_seconds=cfg.history_retention,
                                compact_interval=cfg.compaction_interval)
        authenticator = Authenticator(cfg.token_file)
        self.api = APIServer(self.store, authenticator=authenticator, authorizer=Authorizer())
        self.api.ctx.server_address = f"{cfg.advertise_address}:{cfg.port}"
        JoinService(LocalClient(self.api.ctx), ca, timedelta(seconds=cfg.node_cert_lifetime)).install(self.api)
        self.bootstrap = Bootstrap(self.api.ctx)
        await self.bootstrap.start()
        self.hub = CloudHub(self.api.ctx, authenticator, self.api.authorizer, heartbeat=cfg.hub_heartbeat)
        await self.hub.start()
        self.api.extra_routes.extend(self.hub.routes())
        self.api.public_paths |= self.hub.public_paths
        self.api.extra_routes.extend(PodProxy(self.api.ctx, self.api.authorizer, Tunnel(self.hub)).routes())

        self._runner = web.AppRunner(self.api.make_app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=2.0)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        self.listener = Listener(cfg.bind_address, cfg.port, hub=self._hub_route(cert_file, key_file, ca),
                                 other=tls_route(server, ssl_context))
        await self.listener.start()
        self.api.ready = True
        log.info("API server listening on %s", cfg.server_url)
        if cfg.controllers:
            self.controllers = ControllerManager(LocalClient(self.api.ctx), settings=cfg.controller_settings)
            self.controllers.start()
        self._heap_trim = asyncio.create_task(heaptrim.trim_periodically(cfg.heap_trim_interval), name="heap trim")

    def _hub_route(self, cert_file: Path, key_file: Path, ca: CertificateAuthority) -> Route:
        assert self.hub is not None
        if self.config.hub_tls == "lean":
            return lean_tls_route(self.hub.protocol, LeanTLSContext(cert_file, key_file, ca_pem=ca.cert_pem))
        if self.config.hub_tls == "stdlib":
            hub_context = server_ssl_context(ca, cert_file, key_file)
            hub_context.set_alpn_protocols([protocol.HUB_ALPN])
            return tls_route(self.hub.protocol, hub_context)
        raise ValueError(f'hub_tls must be "lean" or "stdlib", not {self.config.hub_tls!r}')

    async def stop(self) -> None:
        if self._heap_trim:
            self._heap_trim.cancel()
        if self.controllers:
            await self.controllers.stop()
        if self.api:
            self.api.ready = False
        if self.listener:
            await self.listener.close()
        if self.hub:
            await self.hub.stop()
        if self._runner:
            await self._runner.cleanup()
        if self.bootstrap:
            await self.bootstrap.stop()
        if self.api:
            await self.api.ctx.stop()
        if self.store:
            await self.store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
