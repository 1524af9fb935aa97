"""Leader election through a Lease: of several controller managers on one API, exactly one leads, and another
takes over once the leader stops renewing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edgeplane.apiserver.bootstrap import Bootstrap
from edgeplane.apiserver.server import APIServer
from edgeplane.client.local import LocalClient
from edgeplane.controllers.leaderelection import LeaderElector
from edgeplane.store import open_store


async def test_one_leader_at_a_time_and_takeover_after_the_lease_expires(tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    api = APIServer(store)
    boot = Bootstrap(api.ctx)
    await boot.start()
    client = LocalClient(api.ctx)
    electors = [LeaderElector(client, f"replica-{i}", lease_duration=1.0, renew_period=0.2) for i in range(3)]
    started = [asyncio.Event() for _ in electors]
    lost = [asyncio.Event() for _ in electors]
    tasks = [asyncio.create_task(e.run(s, lo)) for e, s, lo in zip(electors, started, lost, strict=True)]
    try:
        await asyncio.wait_for(asyncio.wait([asyncio.create_task(s.wait()) for s in started],
                                            return_when=asyncio.FIRST_COMPLETED), 5)
        await asyncio.sleep(1.5)  # several renewal rounds: nobody else may take over a renewed lease
        leaders = [i for i, e in enumerate(electors) if e.leading]
        assert len(leaders) == 1
        first = leaders[0]
        lease = await client.get("coordination.k8s.io/v1", "leases", "edgeplane-controller-manager", "kube-system")
        assert lease["spec"]["holderIdentity"] == f"replica-{first}"

        tasks[first].cancel()  # the leader dies without releasing the lease
        others = [i for i in range(3) if i != first]
        await asyncio.wait_for(asyncio.wait([asyncio.create_task(started[i].wait()) for i in others],
                                            return_when=asyncio.FIRST_COMPLETED), 5)
        await asyncio.sleep(0.5)
        new_leaders = [i for i in others if electors[i].leading]
        assert len(new_leaders) == 1
        lease = await client.get("coordination.k8s.io/v1", "leases", "edgeplane-controller-manager", "kube-system")
        assert lease["spec"]["holderIdentity"] == f"replica-{new_leaders[0]}"
        assert lease["spec"]["leaseTransitions"] >= 1
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await boot.stop()
        await api.ctx.stop()
        await store.close()
