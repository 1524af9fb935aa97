"""Edge join and certificate rotation latency against an in-process cloud on loopback (TLS included).

Prints the median and p95 of: a full join (CA fetch, key, CSR, token check, signing, node-key record,
files written) and a rotation (CSR signed over the node's mTLS connection, certificate replaced).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from edgeplane.client.rest import RESTClient
from edgeplane.cloud.process import CloudConfig, CloudProcess, free_port
from edgeplane.edge.identity import JoinOptions, join
from edgeplane.pki.bootstraptoken import TOKEN_NAMESPACE, BootstrapToken, JoinToken
from edgeplane.pki.cahash import ca_cert_hash

JOINS = 50


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{name:10s} n={len(samples):3d}  median {statistics.median(ordered) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms"


async def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-join-"))
    cloud = CloudProcess(CloudConfig(data_dir=base / "cloud", bind_address="127.0.0.1", port=free_port(),
                                     controllers=False))
    await cloud.start()
    try:
        token = BootstrapToken.generate(None, "bench")
        assert cloud.kubeconfig is not None
        async with RESTClient.from_kubeconfig(cloud.kubeconfig) as admin:
            await admin.create("v1", "secrets", token.to_secret(), TOKEN_NAMESPACE)
        join_token = str(JoinToken(ca_cert_hash((base / "cloud" / "pki" / "ca.crt").read_bytes()), token))
        joins, rotations = [], []
        for i in range(JOINS):
            start = time.perf_counter()
            identity = await join(JoinOptions(cloud.config.server_url, join_token, base / f"edge-{i}",
                                              node_name=f"edge-{i}"))
            joins.append(time.perf_counter() - start)
            start = time.perf_counter()
            await identity.rotate()
            rotations.append(time.perf_counter() - start)
        print(_summary("join", joins))
        print(_summary("rotation", rotations))
    finally:
        await cloud.stop()


if __name__ == "__main__":
    asyncio.run(main())
