"""Leader election through a coordination.k8s.io Lease, as client-go's leaderelection does it.

The holder renews the lease every ``renew_period``; a candidate takes it over once it has not been
renewed for ``lease_duration``. Every write is a compare-and-swap on the lease's resourceVersion, so
two candidates can never both believe they hold it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from edgeplane.api.errors import APIError
from edgeplane.client.interface import Client

log = logging.getLogger(__name__)


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(ts, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


class LeaderElector:
    def __init__(
        self,
        client: Client,
        identity: str,
        name: str = "edgeplane-controller-manager",
        namespace: str = "kube-system",
        lease_duration: float = 15.0,
        renew_period: float = 5.0,
    ) -> None:
        self.client = client
        self.identity = identity
        self.name = name
        self.namespace = namespace
        self.lease_duration = lease_duration
        self.renew_period = renew_period
        self.leading = False

    async def try_acquire_or_renew(self) -> bool:
        now = _micro_now()
        spec = {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                "renewTime": now}
        try:
            lease = await self.client.get("coordination.k8s.io/v1", "leases", self.name, self.namespace)
        except APIError as exc:
            if exc.code != 404:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {**spec, "acquireTime": now, "leaseTransitions": 0}}
            try:
                await self.client.create("coordination.k8s.io/v1", "leases", body, self.namespace)
                return True
            except APIError as create_exc:
                if create_exc.code == 409:
                    return False
                raise
        current = lease.get("spec") or {}
        holder = current.get("holderIdentity")
        renewed = _parse(current.get("renewTime"))
        duration = timedelta(seconds=float(current.get("leaseDurationSeconds") or self.lease_duration))
        if holder and holder != self.identity and renewed and datetime.now(UTC) < renewed + duration:
            return False
        new_spec = dict(current)
        new_spec.update(spec)
        if holder != self.identity:
            new_spec["acquireTime"] = now
            new_spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
        lease["spec"] = new_spec
        try:
            await self.client.update("coordination.k8s.io/v1", "leases", lease, self.namespace)
        except APIError as exc:
            if exc.code == 409:
                return False
            raise
        return True

    async def run(self, on_started: asyncio.Event, on_lost: asyncio.Event) -> None:
        """Acquire, then renew until the lease is lost (sets ``on_lost``) or the task is cancelled."""
        while True:
            try:
                ok = await self.try_acquire_or_renew()
            except Exception as exc:
                log.warning("leader election: %s", exc)
                ok = False
            if ok and not self.leading:
                self.leading = True
                log.info("%s became the leader", self.identity)
                on_started.set()
            elif not ok and self.leading:
                log.warning("%s lost the leadership", self.identity)
                self.leading = False
                on_lost.set()
                return
            await asyncio.sleep(self.renew_period if self.leading else self.renew_period / 2)
