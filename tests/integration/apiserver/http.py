"""A raw HTTPS session to the API server with the admin credentials, for tests that check the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from edgeplane.pki.kubeconfig import load_kubeconfig
from edgeplane.pki.tls import client_ssl_context


@asynccontextmanager
async def admin_session(kubeconfig: Path, limit: int = 100) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    cfg = load_kubeconfig(kubeconfig)
    ctx = client_ssl_context(cfg["ca_pem"], cfg["cert_pem"], cfg["key_pem"])
    connector = aiohttp.TCPConnector(ssl=ctx, limit=limit)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session, cfg["server"]


def configmap(name: str, namespace: str = "default", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": data}
