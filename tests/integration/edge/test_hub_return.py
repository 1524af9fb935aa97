"""After a long cut, the edge reconnects within seconds of the network's return, not after its backoff.

A real cloud (API server and hub) on a loopback port, the edge's HubClient on a real metastore, a TCP proxy
between them. The backoff is pinned long (every wait 15-30 s, as after minutes offline), so reconnecting
within a few seconds can only come from the probes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from edgeplane.cloud.process import CloudConfig, CloudProcess, free_port
from edgeplane.edge.hubclient import Backoff, HubClient
from edgeplane.edge.metastore import MetaStore
from edgeplane.edge.netprobe import PROBE_EVERY
from edgeplane.pki.ca import CertificateAuthority
from edgeplane.pki.tls import client_ssl_context
from tests.integration.netproxy import TCPProxy


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[CloudProcess]:
    proc = CloudProcess(CloudConfig(data_dir=tmp_path / "cloud", bind_address="127.0.0.1", port=free_port(),
                                    controllers=False, hub_heartbeat=1.0))
    await proc.start()
    yield proc
    await proc.stop()


@pytest.fixture
def proxy(cloud: CloudProcess) -> Iterator[TCPProxy]:
    p = TCPProxy("127.0.0.1", cloud.config.port).start()
    yield p
    p.stop()


async def _until(check, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.parametrize("blackhole", [True, False], ids=["silent-link", "refused"])
async def test_the_edge_returns_within_seconds_of_the_network(cloud: CloudProcess, proxy: TCPProxy, tmp_path: Path,
                                                              blackhole: bool) -> None:
    ca = CertificateAuthority.load(cloud.config.data_dir / "pki")
    cert, key = ca.issue_client_cert("system:node:n1", ["system:nodes"])
    ms = MetaStore(tmp_path / "metastore.db")
    hub = HubClient(ms, f"https://127.0.0.1:{proxy.port}", lambda: client_ssl_context(ca.cert_pem, cert, key),
                    heartbeat=1.0, backoff=Backoff(base=30.0, cap=30.0))
    task = asyncio.create_task(hub.run())
    try:
        await _until(hub.connected.is_set, 10, "the first connection")
        proxy.cut(blackhole=blackhole)
        await _until(lambda: not hub.connected.is_set(), 10, "the edge to notice the cut")
        await asyncio.sleep(3.0)  # the reconnect after the drop fails too; the 15-30 s wait has begun
        assert not hub.connected.is_set() and hub.connections == 1
        proxy.restore()
        took = await _until(hub.connected.is_set, 10, "the edge to reconnect after the network returned")
        assert hub.connections == 2
        assert took <= PROBE_EVERY + 2.0, f"reconnected {took:.1f} s after the network returned"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        ms.close()
