"""Deployments: ReplicaSets per pod template, rolled from old to new (RollingUpdate or Recreate), scaled
proportionally, pausable, with revisions kubectl's rollout commands read, as Kubernetes' deployment
controller does it. The arithmetic lives in ``rollout``; this module reads caches and writes objects."""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any

from edgeplane.api.errors import APIError
from edgeplane.client.informer import object_key
from edgeplane.controllers import rollout
from edgeplane.controllers.base import Controller
from edgeplane.controllers.claiming import CONTROLLER_INDEX, Claimer, owner_key_of, selector_of
from edgeplane.controllers.expectations import WriteFence
from edgeplane.controllers.podcontrol import deep_copy
from edgeplane.controllers.pods import is_active

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class DeploymentController(Controller):
    name = "deployment-controller"

    def setup(self) -> None:
        self.deployments = self.informer("apps/v1", "deployments")
        self.replicasets = self.informer("apps/v1", "replicasets")
        self.pods = self.informer("v1", "pods")
        self.claimer = Claimer(self.client, self.replicasets, "apps/v1", "replicasets")
        Claimer(self.client, self.pods, "v1", "pods")  # the pod index finds a Recreate rollout's old pods
        self.fence = WriteFence(self.replicasets)
        self.deployments.add_handler(self.enqueue_handler)
        self.replicasets.add_handler(self._replicaset_changed)
        self.pods.add_handler(self._pod_deleted)

    def _replicaset_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        for rs in (old, new):
            if rs is None:
                continue
            owner = owner_key_of(rs, "Deployment")
            if owner is not None:
                self.queue.add(owner)
            elif rs is new and not rs["metadata"].get("deletionTimestamp"):
                for d in self.deployments.list(rs["metadata"].get("namespace", "")):
                    if selector_of(d).matches(rs["metadata"].get("labels")):
                        self.enqueue(d)

    def _pod_deleted(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        """A Recreate rollout waits for the old pods to be gone before it starts new ones."""
        if new is not None or old is None:
            return
        rs_key = owner_key_of(old, "ReplicaSet")
        rs = self.replicasets.get(rs_key) if rs_key else None
        owner = owner_key_of(rs, "Deployment") if rs else None
        if owner is not None:
            d = self.deployments.get(owner)
            if d is not None and (d["spec"].get("strategy") or {}).get("type") == "Recreate":
                self.queue.add(owner)

    # -- the sync loop ---------------------------------------------------------------------------------

    async def reconcile(self, key: Hashable) -> None:
        assert isinstance(key, str)
        cached = self.deployments.get(key)
        if cached is None:
            return
        if not self.fence.caught_up(key):
            self.queue.add_after(key, 0.02)  # our own last writes are not in the cache yet
            return
        d = deep_copy(cached)  # kept current with our own writes during this sync; the cache stays untouched
        selector = (d.get("spec") or {}).get("selector")
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            await self.events.record(d, "Warning", "SelectingAll",
                                     "This deployment is selecting all pods. A non-empty selector is required.")
            return
        rs_list = await self.claimer.claim(d, selector_of(d))
        if d["metadata"].get("deletionTimestamp"):
            await self._sync_status(d, rs_list)
            return
        d = await self._check_paused_condition(d)
        if d["spec"].get("paused") or rollout.is_scaling_event(d, rs_list):
            await self._sync_scale(key, d, rs_list)
        elif (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            await self._rollout_recreate(key, d, rs_list)
        else:
            await self._rollout_rolling(key, d, rs_list)

    async def _rollout_rolling(self, key: str, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rs = await self._new_and_old(key, d, rs_list, create=True)
        assert new_rs is not None
        all_rs = [*old_rs, new_rs]
        if await self._reconcile_new(key, d, all_rs, new_rs):
            await self._sync_rollout_status(d, all_rs, new_rs)
            return
        if await self._reconcile_old(key, d, all_rs, old_rs, new_rs):
            await self._sync_rollout_status(d, all_rs, new_rs)
            return
        if rollout.is_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rs)
        await self._sync_rollout_status(d, all_rs, new_rs)

    async def _rollout_recreate(self, key: str, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rs = await self._new_and_old(key, d, rs_list, create=False)
        all_rs = [*old_rs, *([new_rs] if new_rs else [])]
        scaled = False
        for rs in rollout.active(old_rs):
            scaled |= await self._scale(key, d, rs, 0)
        if scaled or self._old_pods_running(old_rs):
            await self._sync_rollout_status(d, all_rs, new_rs)
            return
        if new_rs is None:
            new_rs, old_rs = await self._new_and_old(key, d, rs_list, create=True)
            assert new_rs is not None
            all_rs = [*old_rs, new_rs]
        await self._scale(key, d, new_rs, rollout.replicas(d))
        if rollout.is_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rs)
        await self._sync_rollout_status(d, all_rs, new_rs)

    async def _sync_scale(self, key: str, d: Obj, rs_list: list[Obj]) -> None:
        """A paused deployment or a resized one: scale what exists, start no rollout (sync)."""
        new_rs, old_rs = await self._new_and_old(key, d, rs_list, create=False)
        all_rs = [*old_rs, *([new_rs] if new_rs else [])]
        await self._scale_all(key, d, new_rs, old_rs)
        if d["spec"].get("paused"):
            await self._cleanup(d, old_rs)
        await self._update_status(d, rollout.calculate_status(d, all_rs, new_rs))

    async def _sync_status(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs = self._find_new(d, rs_list)
        await self._update_status(d, rollout.calculate_status(d, rs_list, new_rs))

    # -- new and old ReplicaSets -----------------------------------------------------------------------

    @staticmethod
    def _find_new(d: Obj, rs_list: list[Obj]) -> Obj | None:
        for rs in rollout.oldest_first(rs_list):
            if rollout.same_template(rs["spec"].get("template"), d["spec"].get("template")):
                return rs
        return None

    async def _new_and_old(self, key: str, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: the new ReplicaSet (made when ``create``) with its revision and
        annotations brought up to date, the old ones, and the deployment's revision annotation synced."""
        new_rs = self._find_new(d, rs_list)
        old_rs = [rs for rs in rs_list if rs is not new_rs]
        new_revision = rollout.max_revision(old_rs) + 1
        if new_rs is not None:
            wanted = rollout.new_rs_annotations(d, new_rs, new_revision, exists=True)
            min_ready = int(d["spec"].get("minReadySeconds") or 0)
            if wanted != (new_rs["metadata"].get("annotations") or {}) or \
                    int(new_rs["spec"].get("minReadySeconds") or 0) != min_ready:
                body = deep_copy(new_rs)
                body["metadata"]["annotations"] = wanted
                body["spec"]["minReadySeconds"] = min_ready
                new_rs = await self._write_rs(key, body)
        elif create:
            new_rs = await self._create_new(key, d, old_rs, new_revision)
        if new_rs is not None:
            await self._sync_revision(d, rollout.revision(new_rs))
        return new_rs, old_rs

    async def _create_new(self, key: str, d: Obj, old_rs: list[Obj], new_revision: int) -> Obj:
        collisions = int((d.get("status") or {}).get("collisionCount") or 0)
        hash_ = rollout.template_hash(d["spec"]["template"], collisions)
        body = rollout.new_replicaset(d, hash_, new_revision, 0)
        body["spec"]["replicas"] = rollout.new_rs_replicas(d, [*old_rs, body], body)
        namespace = d["metadata"]["namespace"]
        try:
            made = await self.client.create("apps/v1", "replicasets", body, namespace)
        except APIError as exc:
            if exc.code != 409:
                raise
            existing = await self.client.get("apps/v1", "replicasets", body["metadata"]["name"], namespace)
            ref = (existing["metadata"].get("ownerReferences") or [{}])[0]
            if ref.get("uid") == d["metadata"]["uid"] and rollout.same_template(
                    existing["spec"].get("template"), d["spec"]["template"]):
                return existing  # ours, made by an earlier sync the cache has not shown yet
            # A namesake with another template: hash again with a higher collision count.
            await self._update_status(d, {**(d.get("status") or {}), "collisionCount": collisions + 1})
            raise APIError(409, "Conflict", f"hash collision on ReplicaSet {body['metadata']['name']}") from exc
        self.fence.wrote(key, made)
        replicas = rollout.replicas(made)
        if replicas > 0:
            await self.events.record(d, "Normal", "ScalingReplicaSet",
                                     f"Scaled up replica set {made['metadata']['name']} from 0 to {replicas}")
        status = dict(d.get("status") or {})
        rollout.set_condition(status, rollout.PROGRESSING, "True", "NewReplicaSetCreated",
                              f'Created new replica set "{made["metadata"]["name"]}"')
        await self._update_status(d, status)
        return made

    async def _sync_revision(self, d: Obj, revision: int) -> None:
        annotations = d["metadata"].get("annotations") or {}
        if revision and annotations.get(rollout.REVISION) != str(revision):
            m = d["metadata"]
            updated = await self.client.patch("apps/v1", "deployments", m["name"],
                                              {"metadata": {"annotations": {rollout.REVISION: str(revision)}}},
                                              m["namespace"])
            d["metadata"]["annotations"] = updated["metadata"].get("annotations")
            d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]

    # -- scaling ---------------------------------------------------------------------------------------

    async def _reconcile_new(self, key: str, d: Obj, all_rs: list[Obj], new_rs: Obj) -> bool:
        want = rollout.replicas(d)
        current = rollout.replicas(new_rs)
        if current == want:
            return False
        if current > want:
            return await self._scale(key, d, new_rs, want)
        return await self._scale(key, d, new_rs, rollout.new_rs_replicas(d, all_rs, new_rs))

    async def _reconcile_old(self, key: str, d: Obj, all_rs: list[Obj], old_rs: list[Obj], new_rs: Obj) -> bool:
        active_old = rollout.active(old_rs)
        if not active_old:
            return False
        budget = rollout.old_scale_down_budget(d, all_rs, new_rs)
        if budget <= 0:
            return False
        sizes = rollout.unhealthy_cleanup(active_old, budget)
        if not sizes:
            sizes = rollout.rolling_scale_down(d, all_rs, active_old)
        scaled = False
        by_name = {rs["metadata"]["name"]: rs for rs in active_old}
        for name, size in sizes.items():
            scaled |= await self._scale(key, d, by_name[name], size)
        return scaled

    async def _scale_all(self, key: str, d: Obj, new_rs: Obj | None, old_rs: list[Obj]) -> None:
        """scale(): one active ReplicaSet takes the new size; a saturated new one lets the old go; otherwise
        a rolling deployment spreads the change proportionally."""
        candidates = [*old_rs, *([new_rs] if new_rs else [])]
        active_rs = rollout.active(candidates)
        if len(active_rs) <= 1:
            target = active_rs[0] if active_rs else new_rs or (rollout.oldest_first(old_rs)[-1] if old_rs else None)
            if target is not None:
                await self._scale(key, d, target, rollout.replicas(d))
            return
        if rollout.is_saturated(d, new_rs):
            for rs in rollout.active(old_rs):
                await self._scale(key, d, rs, 0)
            return
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return
        by_name = {rs["metadata"]["name"]: rs for rs in active_rs}
        for name, size in rollout.proportional_sizes(d, active_rs).items():
            await self._scale(key, d, by_name[name], size)

    async def _scale(self, key: str, d: Obj, rs: Obj, size: int) -> bool:
        """Sets a ReplicaSet's size and replica annotations; True when the size changed."""
        old_size = rollout.replicas(rs)
        annotations = {**(rs["metadata"].get("annotations") or {}), **rollout.replica_annotations(d)}
        if old_size == size and annotations == (rs["metadata"].get("annotations") or {}):
            return False
        body = deep_copy(rs)
        body["spec"]["replicas"] = size
        body["metadata"]["annotations"] = annotations
        await self._write_rs(key, body)
        if old_size != size:
            direction = "up" if size > old_size else "down"
            await self.events.record(d, "Normal", "ScalingReplicaSet",
                                     f"Scaled {direction} replica set {rs['metadata']['name']} from {old_size} to {size}")
        return old_size != size

    async def _write_rs(self, key: str, body: Obj) -> Obj:
        written = await self.client.update("apps/v1", "replicasets", body, body["metadata"]["namespace"])
        self.fence.wrote(key, written)
        return written

    def _old_pods_running(self, old_rs: list[Obj]) -> bool:
        for rs in old_rs:
            if rollout.status_count(rs, "replicas") > 0:
                return True
            for pod in self.pods.by_index(CONTROLLER_INDEX, rs["metadata"]["uid"]):
                if is_active(pod) or pod["metadata"].get("deletionTimestamp"):
                    return True
        return False

    async def _cleanup(self, d: Obj, old_rs: list[Obj]) -> None:
        for rs in rollout.cleanable(d, old_rs):
            m = rs["metadata"]
            log.info("deployment %s: deleting old replica set %s", object_key(d), m["name"])
            try:
                await self.client.delete("apps/v1", "replicasets", m["name"], m["namespace"], precondition_uid=m["uid"])
            except APIError as exc:
                if exc.code not in (404, 409):
                    raise

    # -- status ----------------------------------------------------------------------------------------

    async def _check_paused_condition(self, d: Obj) -> Obj:
        status = dict(d.get("status") or {})
        cond = rollout.condition(status, rollout.PROGRESSING)
        if cond is not None and cond.get("reason") == rollout.TIMED_OUT:
            return d
        paused = bool(d["spec"].get("paused"))
        reason = (cond or {}).get("reason")
        if paused and reason != "DeploymentPaused":
            rollout.set_condition(status, rollout.PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused")
        elif not paused and reason == "DeploymentPaused":
            rollout.set_condition(status, rollout.PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed")
        else:
            return d
        return await self._update_status(d, status)

    async def _sync_rollout_status(self, d: Obj, all_rs: list[Obj], new_rs: Obj | None) -> None:
        status = rollout.calculate_status(d, all_rs, new_rs)
        if d["spec"].get("progressDeadlineSeconds") is not None and not d["spec"].get("paused"):
            name = new_rs["metadata"]["name"] if new_rs else ""
            cond = rollout.condition(status, rollout.PROGRESSING)
            if rollout.is_complete(d, status):
                rollout.set_condition(status, rollout.PROGRESSING, "True", rollout.NEW_RS_AVAILABLE,
                                      f'ReplicaSet "{name}" has successfully progressed.')
            elif rollout.is_progressing(d, status):
                message = f'ReplicaSet "{name}" is progressing.'
                if cond is not None and cond.get("status") == "True" and cond.get("reason") == "ReplicaSetUpdated":
                    cond["lastUpdateTime"] = rollout.now_rfc3339()  # progress moves the deadline on
                else:
                    rollout.set_condition(status, rollout.PROGRESSING, "True", "ReplicaSetUpdated", message)
            elif (remaining := rollout.deadline_in(d, status)) is not None:
                if remaining <= 0:
                    rollout.set_condition(status, rollout.PROGRESSING, "False", rollout.TIMED_OUT,
                                          f'ReplicaSet "{name}" has timed out progressing.')
                else:
                    self.queue.add_after(object_key(d), remaining + 0.1)
        await self._update_status(d, status)

    async def _update_status(self, d: Obj, status: Obj) -> Obj:
        """Writes the status and keeps ``d`` (this sync's copy) current, so later writes do not conflict."""
        if status == (d.get("status") or {}):
            return d
        m = d["metadata"]
        updated = await self.client.update("apps/v1", "deployments", {**d, "status": status}, m["namespace"],
                                           subresource="status")
        d["status"] = updated.get("status") or {}
        m["resourceVersion"] = updated["metadata"]["resourceVersion"]
        return d

