"""YurtAppSet controller: one Deployment per selected NodePool, from one template with per-pool tweaks.

As OpenYurt's controller does it, a YurtAppSet selects pools by name (``spec.pools``) and by their labels
(``spec.nodepoolSelector``); each selected pool gets a Deployment named ``<yurtappset>-<pool>-<random>``,
labelled ``apps.openyurt.io/pool-name=<pool>`` and controlled by the YurtAppSet (ownerReference). Its pods are
pinned to the pool's nodes by a nodeSelector on ``apps.openyurt.io/nodepool`` and tolerate the pool's taints.
``spec.workload.workloadTweaks`` then adjust the Deployments of the pools they select: replicas, container
images, and JSON patches (add/remove/replace) on the whole Deployment, with ``{{nodepool-name}}`` in a value
replaced by the pool's name. Pools that stop being selected (removed from the list, relabelled, deleted) lose
their Deployment.

A Deployment is rewritten only when what the controller would render for it changes (a hash of that is kept
in an annotation), so an edit made directly to a Deployment stays until the YurtAppSet or its pool changes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

from edgeplane.api import names
from edgeplane.api.errors import APIError
from edgeplane.api.openyurt import (
    NODEPOOL_API_VERSION,
    NODEPOOL_LABEL,
    POOL_NAME_LABEL,
    REF_NODEPOOL_ANNOTATION,
    REVISION_HASH_LABEL,
    YURTAPPSET_API_VERSION,
    YURTAPPSET_OWNER_LABEL,
)
from edgeplane.api.patch import PatchError, apply_json_patch
from edgeplane.api.selectors import LabelSelector, SelectorError
from edgeplane.client.informer import Informer, split_key
from edgeplane.controllers.base import Controller
from edgeplane.controllers.ownerrefs import controller_ref, reference_to

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RENDERED_HASH_ANNOTATION = "edgeplane.io/pool-workload-hash"
NODEPOOL_NAME_PLACEHOLDER = "{{nodepool-name}}"
# Reasons as OpenYurt's controller records them (without the space it puts after "Successful").
CREATED, UPDATED, DELETED = "SuccessfulCreateWorkload", "SuccessfulUpdateWorkload", "SuccessfulDeleteWorkload"


class TweakError(ValueError):
    """A workload tweak that cannot be applied to a pool's Deployment."""


# --- which pools, which tweaks ---------------------------------------------------------------------------------


def _selects(holder: Obj, pool: Obj) -> bool:
    """Whether a YurtAppSet spec or a workload tweak selects ``pool`` by name or by its labels."""
    meta = pool["metadata"]
    if meta["name"] in (holder.get("pools") or ()):
        return True
    selector = holder.get("nodepoolSelector")
    if selector is None:
        return False
    try:
        return LabelSelector.from_dict(selector).matches(meta.get("labels") or {})
    except SelectorError:
        return False  # validation rejects malformed selectors; one stored before selects nothing


def selected_pools(yas: Obj, pools: list[Obj]) -> list[Obj]:
    spec = yas.get("spec") or {}
    return sorted((p for p in pools if _selects(spec, p)), key=lambda p: p["metadata"]["name"])


def related(yas: Obj, pool: Obj) -> bool:
    """Whether a change to ``pool`` can change what ``yas`` renders (selection or tweaks)."""
    spec = yas.get("spec") or {}
    tweaks = (spec.get("workload") or {}).get("workloadTweaks") or []
    return _selects(spec, pool) or any(_selects(t, pool) for t in tweaks)


def tweaks_for(yas: Obj, pool: Obj) -> list[Obj]:
    tweaks = ((yas.get("spec") or {}).get("workload") or {}).get("workloadTweaks") or []
    return [t.get("tweaks") or {} for t in tweaks if _selects(t, pool)]


# --- rendering one pool's Deployment ----------------------------------------------------------------------------

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' SafeEncodeString alphabet: no vowels, no look-alikes


def _digest(value: Any, size: int) -> str:
    raw = hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in raw[:size])


def revision_of(yas: Obj) -> str:
    """The YurtAppSet's current revision, ``<name>-<hash of spec.workload>`` as OpenYurt names revisions."""
    return f"{yas['metadata']['name']}-{_digest((yas.get('spec') or {}).get('workload'), 10)}"


def revision_label(revision: str) -> str:
    return revision if len(revision) <= 63 else revision.rsplit("-", 1)[1]


def workload_prefix(yas_name: str, pool_name: str) -> str:
    """OpenYurt's generateName: ``<yurtappset>-<pool>-``, or ``<yurtappset>-`` when that is too long."""
    prefix = f"{yas_name}-{pool_name}-"
    return prefix if not names.dns1123_subdomain(prefix + "a") else f"{yas_name}-"


def pool_tolerations(pool: Obj) -> list[Obj]:
    tolerations = []
    for taint in (pool.get("spec") or {}).get("taints") or ():
        toleration = {"key": taint.get("key", ""), "effect": taint.get("effect", "")}
        if taint.get("value"):
            toleration.update(operator="Equal", value=taint["value"])
        else:
            toleration["operator"] = "Exists"
        tolerations.append(toleration)
    return tolerations


def _tolerate(pod_spec: Obj, wanted: list[Obj]) -> None:
    tolerations = list(pod_spec.get("tolerations") or [])
    for toleration in wanted:
        if not any(t.get("key") == toleration["key"] and t.get("effect", "") in ("", toleration["effect"])
                   for t in tolerations):
            tolerations.append(toleration)
    if tolerations:
        pod_spec["tolerations"] = tolerations


def _apply_tweaks(deployment: Obj, tweaks: list[Obj], pool_name: str) -> Obj:
    pod_spec = deployment["spec"]["template"]["spec"]
    operations = []
    for tweak in tweaks:
        if tweak.get("replicas") is not None:
            deployment["spec"]["replicas"] = tweak["replicas"]
        for image in tweak.get("containerImages") or ():
            for container in [*(pod_spec.get("containers") or ()), *(pod_spec.get("initContainers") or ())]:
                if container.get("name") == image.get("name"):
                    container["image"] = image.get("targetImage")
        for patch in tweak.get("patches") or ():
            operation = {"op": patch.get("operation"), "path": patch.get("path")}
            if "value" in patch:
                text = json.dumps(patch["value"]).replace(NODEPOOL_NAME_PLACEHOLDER, pool_name)
                operation["value"] = json.loads(text)
            operations.append(operation)
    if not operations:
        return deployment
    try:
        return apply_json_patch(deployment, operations)
    except PatchError as exc:
        raise TweakError(f"workload tweak patches do not apply to the Deployment of pool {pool_name!r}: "
                         f"{exc.message}") from exc


def render_deployment(yas: Obj, pool: Obj, revision: str) -> Obj:
    """The Deployment ``yas`` wants in ``pool``; raises TweakError when its tweaks do not apply."""
    yas_meta = yas["metadata"]
    pool_name = pool["metadata"]["name"]
    template = ((yas.get("spec") or {}).get("workload") or {}).get("workloadTemplate") or {}
    deployment_template = template.get("deploymentTemplate") or {}
    template_meta = deployment_template.get("metadata") or {}
    spec = copy.deepcopy(deployment_template.get("spec") or {})
    selector = spec.get("selector") or {}
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POOL_NAME_LABEL: pool_name}
    spec["selector"] = selector
    pod_template = spec.setdefault("template", {})
    pod_meta = pod_template.setdefault("metadata", {})
    pod_meta["labels"] = {**(pod_meta.get("labels") or {}), POOL_NAME_LABEL: pool_name,
                          REVISION_HASH_LABEL: revision_label(revision)}
    pod_spec = pod_template.setdefault("spec", {})
    pod_spec["nodeSelector"] = {**(pod_spec.get("nodeSelector") or {}), NODEPOOL_LABEL: pool_name}
    _tolerate(pod_spec, pool_tolerations(pool))
    identity = {POOL_NAME_LABEL: pool_name, REVISION_HASH_LABEL: revision_label(revision),
                YURTAPPSET_OWNER_LABEL: yas_meta["name"]}
    deployment: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "generateName": workload_prefix(yas_meta["name"], pool_name),
            "namespace": yas_meta.get("namespace", "default"),
            "labels": {**(template_meta.get("labels") or {}), **identity},
            "annotations": {**(template_meta.get("annotations") or {}), REF_NODEPOOL_ANNOTATION: pool_name},
            "ownerReferences": [reference_to({"apiVersion": YURTAPPSET_API_VERSION, "kind": "YurtAppSet",
                                              "metadata": yas_meta})],
        },
        "spec": spec,
    }
    deployment = _apply_tweaks(deployment, tweaks_for(yas, pool), pool_name)
    # A patch may replace whole maps (JSON patch "add" on /metadata/labels does): the labels the controller
    # finds its Deployments by are put back, so a tweak can never orphan one.
    meta = deployment["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), **identity}
    meta["annotations"] = {**(meta.get("annotations") or {}), REF_NODEPOOL_ANNOTATION: pool_name}
    meta["annotations"][RENDERED_HASH_ANNOTATION] = _digest([meta, deployment.get("spec")], 16)
    return deployment


# --- status -------------------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(conditions: list[Obj], type_: str, status: str, reason: str = "", message: str = "") -> bool:
    """Set one condition in place; its lastTransitionTime moves only when its status changes (then True)."""
    for condition in conditions:
        if condition.get("type") == type_:
            changed = condition.get("status") != status
            if changed:
                condition["lastTransitionTime"] = _now()
            condition.update(status=status, reason=reason, message=message)
            return changed
    conditions.append({"type": type_, "status": status, "lastTransitionTime": _now(), "reason": reason,
                       "message": message})
    return True


def _desired_replicas(deployment: Obj) -> int:
    replicas = (deployment.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def workload_ready(deployment: Obj) -> bool:
    status = deployment.get("status") or {}
    want = _desired_replicas(deployment)
    return (status.get("readyReplicas") or 0) == want and (status.get("replicas") or 0) == want


def workload_updated(deployment: Obj, revision: str) -> bool:
    labels = deployment["metadata"].get("labels") or {}
    status = deployment.get("status") or {}
    return labels.get(REVISION_HASH_LABEL) == revision_label(revision) and \
        (status.get("updatedReplicas") or 0) == _desired_replicas(deployment)


# --- the controller -------------------------------------------------------------------------------------------


def _owning_yurtappset(deployment: Obj) -> str | None:
    ref = controller_ref(deployment)
    if ref is not None and ref.get("kind") == "YurtAppSet" and ref.get("apiVersion", "").startswith("apps.openyurt.io/"):
        return f"{deployment['metadata'].get('namespace', '')}/{ref['name']}"
    return None


def _workload_pool(deployment: Obj) -> str:
    meta = deployment["metadata"]
    return (meta.get("labels") or {}).get(POOL_NAME_LABEL) or \
        (meta.get("annotations") or {}).get(REF_NODEPOOL_ANNOTATION, "")


class YurtAppSetController(Controller):
    name = "yurtappset"

    def setup(self) -> None:
        self.yurtappsets: Informer = self.informer(YURTAPPSET_API_VERSION, "yurtappsets")
        self.pools: Informer = self.informer(NODEPOOL_API_VERSION, "nodepools")
        self.yurtappsets.add_handler(self.enqueue_handler)
        self.pools.add_handler(self._pool_changed)
        self.informer("apps/v1", "deployments").add_handler(self._deployment_changed)

    def _pool_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        if old is not None and new is not None:
            before, after = old["metadata"], new["metadata"]
            if before.get("labels") == after.get("labels") and \
                    (old.get("spec") or {}).get("taints") == (new.get("spec") or {}).get("taints"):
                return  # only labels (selection, tweaks) and taints (tolerations) matter here
        for yas in self.yurtappsets.list():
            if any(related(yas, pool) for pool in (old, new) if pool is not None):
                self.enqueue(yas)

    def _deployment_changed(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        for deployment in (old, new):
            owner = _owning_yurtappset(deployment) if deployment is not None else None
            if owner:
                self.queue.add(owner)

    async def reconcile(self, key: Hashable) -> None:
        yas = self.yurtappsets.get(str(key))
        if yas is None or yas["metadata"].get("deletionTimestamp"):
            return  # the garbage collector removes the Deployments it owns
        namespace, name = split_key(str(key))
        status = copy.deepcopy(yas.get("status") or {})
        conditions = status.setdefault("conditions", [])
        revision = revision_of(yas)
        pools = selected_pools(yas, self.pools.list())
        if pools:
            pool_names = " ".join(p["metadata"]["name"] for p in pools)
            set_condition(conditions, "PoolFound", "True", "FindPools",
                          f"There are {len(pools)} matched nodepools: [{pool_names}]")
        elif set_condition(conditions, "PoolFound", "False", "NoFindPools",
                           "There are no matched nodepools for YurtAppSet"):
            await self.events.record(yas, "Warning", "NoFindPools",
                                     f"There are no matched nodepools for YurtAppSet {namespace}/{name}")
        template = ((yas.get("spec") or {}).get("workload") or {}).get("workloadTemplate") or {}
        if template.get("deploymentTemplate") is None:
            unsupported = "statefulSetTemplate is accepted but StatefulSets are not served: no workloads created"
            if set_condition(conditions, "AppDispatched", "False", "StatefulSetNotSupported", unsupported):
                await self.events.record(yas, "Warning", "StatefulSetNotSupported", unsupported)
            await self._write_status(yas, status, revision, [])
            return
        listed = await self.client.list("apps/v1", "deployments", namespace,
                                        label_selector=f"{YURTAPPSET_OWNER_LABEL}={name}")
        mine = [d for d in listed["items"] if (controller_ref(d) or {}).get("uid") == yas["metadata"].get("uid")]
        workloads, retry = await self._sync_workloads(yas, pools, mine, revision, conditions)
        await self._write_status(yas, status, revision, workloads)
        if retry is not None:
            raise retry

    async def _sync_workloads(self, yas: Obj, pools: list[Obj], mine: list[Obj], revision: str,
                              conditions: list[Obj]) -> tuple[list[Obj], APIError | None]:
        """Create, update and delete Deployments; returns those that now exist and an error worth a retry."""
        wanted = {p["metadata"]["name"]: p for p in pools}
        current: dict[str, Obj] = {}
        stale: list[Obj] = []
        for deployment in sorted(mine, key=lambda d: d["metadata"].get("creationTimestamp", "")):
            pool = _workload_pool(deployment)
            if pool in wanted and pool not in current:
                current[pool] = deployment
            else:
                stale.append(deployment)  # its pool left the selection, or a duplicate for one pool
        counts = {CREATED: 0, UPDATED: 0, DELETED: 0}
        failures: list[str] = []
        retry: APIError | None = None
        workloads: list[Obj] = []
        namespace = yas["metadata"].get("namespace", "default")
        for pool_name, pool in wanted.items():
            try:
                desired = render_deployment(yas, pool, revision)
                existing = current.get(pool_name)
                if existing is None:
                    workloads.append(await self.client.create("apps/v1", "deployments", desired, namespace))
                    counts[CREATED] += 1
                elif _rendered_hash(existing) != _rendered_hash(desired):
                    workloads.append(await self.client.update("apps/v1", "deployments",
                                                              _updated(existing, desired), namespace))
                    counts[UPDATED] += 1
                else:
                    workloads.append(existing)
            except TweakError as exc:
                failures.append(str(exc))
                if pool_name in current:
                    workloads.append(current[pool_name])
            except APIError as exc:
                failures.append(f"pool {pool_name!r}: {exc.message}")
                if pool_name in current:
                    workloads.append(current[pool_name])
                if exc.code not in (400, 422):
                    retry = exc  # conflicts and server trouble pass; invalid templates wait for a new spec
        for deployment in stale:
            try:
                await self.client.delete("apps/v1", "deployments", deployment["metadata"]["name"], namespace,
                                         propagation_policy="Background")
                counts[DELETED] += 1
            except APIError as exc:
                if exc.code != 404:
                    retry = exc
        for reason, count in counts.items():
            if count:
                verb = reason.removeprefix("Successful").removesuffix("Workload").lower()
                await self.events.record(yas, "Normal", reason, f"{verb} {count} Deployment")
        if failures:
            message = "; ".join(failures)
            set_condition(conditions, "AppDispatched", "False", "CreateWorkloadError", message)
            await self.events.record(yas, "Warning", "FailedDispatchWorkload", message)
        else:
            set_condition(conditions, "AppDispatched", "True", "", "All expected workloads are created successfully")
        if counts[DELETED]:
            set_condition(conditions, "AppDeleted", "True", "", "Unexpected workloads are deleted successfully")
        if counts[UPDATED]:
            set_condition(conditions, "AppUpdated", "True", "", "All expected workloads are updated successfully")
        return workloads, retry

    async def _write_status(self, yas: Obj, status: Obj, revision: str, workloads: list[Obj]) -> None:
        conditions = status["conditions"]
        ready = sum(1 for d in workloads if workload_ready(d))
        total = len(workloads)
        if total == 0:
            set_condition(conditions, "AppReady", "False", "NoWorkloadFound")
        elif ready == total:
            set_condition(conditions, "AppReady", "True", "AllWorkloadsReady")
        else:
            set_condition(conditions, "AppReady", "False", "NotAllWorkloadsReady")
        status.update(observedGeneration=yas["metadata"].get("generation", 0), currentRevision=revision,
                      totalWorkloads=total, readyWorkloads=ready,
                      updatedWorkloads=sum(1 for d in workloads if workload_updated(d, revision)))
        status.setdefault("collisionCount", 0)
        if status == yas.get("status"):
            return
        meta = yas["metadata"]
        await self.client.patch(YURTAPPSET_API_VERSION, "yurtappsets", meta["name"], {"status": status},
                                meta.get("namespace", ""), subresource="status")


def _rendered_hash(deployment: Obj) -> str:
    return (deployment["metadata"].get("annotations") or {}).get(RENDERED_HASH_ANNOTATION, "")


def _updated(existing: Obj, desired: Obj) -> Obj:
    """``existing`` rewritten to ``desired``: labels and annotations merged over, the spec replaced."""
    meta, want = existing["metadata"], desired["metadata"]
    return {**existing, "metadata": {**meta, "labels": {**(meta.get("labels") or {}), **want["labels"]},
                                     "annotations": {**(meta.get("annotations") or {}), **want["annotations"]}},
            "spec": desired["spec"]}
