"""The arithmetic of Deployment rollouts, as Kubernetes' deployment util package does it: template hashes and
ReplicaSet names, revisions, how far to scale the new and old ReplicaSets, proportional scaling, and the
status and conditions kubectl reads. Pure functions over objects, so they are tested on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from edgeplane.controllers.intorpercent import surge_and_unavailable
from edgeplane.controllers.pods import parse_time

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# Deployment annotations never copied to its ReplicaSets (annotationsToSkip).
_SKIPPED_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
    DESIRED_REPLICAS, MAX_REPLICAS, "deprecated.deployment.rollback.to",
})
# rand.SafeEncodeString's alphabet: no vowels (no words) and no look-alikes such as 0/o or 1/l.
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

AVAILABLE = "Available"
PROGRESSING = "Progressing"
TIMED_OUT = "ProgressDeadlineExceeded"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"


# -- identity of a template ------------------------------------------------------------------------------

def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """The pod-template-hash: FNV-32a of the template (and the collision count, when there is one), encoded
    with Kubernetes' safe alphabet."""
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += collision_count.to_bytes(4, "little")
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in str(_fnv32a(data)).encode())


def _without_hash(template: Obj) -> Obj:
    t = orjson.loads(orjson.dumps(template))
    labels = (t.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(HASH_LABEL, None)
        if not labels:
            del t["metadata"]["labels"]
    if "metadata" in t and not t["metadata"]:
        del t["metadata"]
    return t


def same_template(a: Obj | None, b: Obj | None) -> bool:
    """EqualIgnoreHash: templates equal apart from the pod-template-hash label."""
    return _without_hash(a or {}) == _without_hash(b or {})


# -- revisions and annotations ----------------------------------------------------------------------------

def revision(obj: Obj) -> int:
    value = (obj["metadata"].get("annotations") or {}).get(REVISION, "")
    return int(value) if str(value).isdigit() else 0


def max_revision(replicasets: list[Obj]) -> int:
    return max((revision(rs) for rs in replicasets), default=0)


def replicas(obj: Obj | None) -> int:
    return int(((obj or {}).get("spec") or {}).get("replicas") or 0)


def status_count(obj: Obj | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a deployment; Recreate has neither."""
    strategy = d["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    return surge_and_unavailable(rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%"), replicas(d))


def max_unavailable(d: Obj) -> int:
    if (d["spec"].get("strategy") or {}).get("type") == "Recreate" or replicas(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas(d))


def replica_annotations(d: Obj) -> dict[str, str]:
    return {DESIRED_REPLICAS: str(replicas(d)), MAX_REPLICAS: str(replicas(d) + fenceposts(d)[0])}


def new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> dict[str, str]:
    """The annotations the new ReplicaSet should carry: the deployment's own (minus the skipped ones), its
    revision (never lowered) and, on a ReplicaSet about to be made, the replica annotations (an existing one
    gets those when it is scaled)."""
    annotations = dict(rs["metadata"].get("annotations") or {})
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key not in _SKIPPED_ANNOTATIONS:
            annotations[key] = value
    if revision(rs) < new_revision:
        annotations[REVISION] = str(new_revision)
    if not exists:
        annotations.update(replica_annotations(d))
    return annotations


def new_replicaset(d: Obj, hash_: str, new_revision: int, count: int) -> Obj:
    template = orjson.loads(orjson.dumps(d["spec"]["template"]))
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = hash_
    selector = orjson.loads(orjson.dumps(d["spec"]["selector"]))
    selector.setdefault("matchLabels", {})[HASH_LABEL] = hash_
    m = d["metadata"]
    rs: Obj = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{m['name']}-{hash_}", "namespace": m["namespace"],
                     "labels": dict(template["metadata"]["labels"]),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": m["name"],
                                          "uid": m["uid"], "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"replicas": count, "minReadySeconds": int(d["spec"].get("minReadySeconds") or 0),
                 "selector": selector, "template": template},
    }
    rs["metadata"]["annotations"] = new_rs_annotations(d, rs, new_revision, exists=False)
    return rs


# -- how far to scale ------------------------------------------------------------------------------------

def active(replicasets: list[Obj]) -> list[Obj]:
    return [rs for rs in replicasets if replicas(rs) > 0]


def new_rs_replicas(d: Obj, all_rs: list[Obj], new_rs: Obj) -> int:
    """NewRSNewReplicas: how big the new ReplicaSet may grow now without passing replicas + maxSurge."""
    if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
        return replicas(d)
    surge, _ = fenceposts(d)
    current = sum(replicas(rs) for rs in all_rs)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
    return replicas(new_rs) + max(0, scale_up)


def old_scale_down_budget(d: Obj, all_rs: list[Obj], new_rs: Obj | None) -> int:
    """maxScaledDown of reconcileOldReplicaSets: how many old pods may go while keeping replicas -
    maxUnavailable available, counting new pods that are not available yet as missing."""
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = replicas(new_rs) - status_count(new_rs, "availableReplicas")
    return sum(replicas(rs) for rs in all_rs) - min_available - new_unavailable


def oldest_first(replicasets: list[Obj]) -> list[Obj]:
    return sorted(replicasets, key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]))


def unhealthy_cleanup(old_rs: list[Obj], budget: int) -> dict[str, int]:
    """cleanupUnhealthyReplicas: old ReplicaSets shrink first by their unavailable pods (oldest first), within
    ``budget``. Returns new sizes by name."""
    sizes: dict[str, int] = {}
    for rs in oldest_first(old_rs):
        if budget <= 0:
            break
        size = replicas(rs)
        unhealthy = size - status_count(rs, "availableReplicas")
        if size == 0 or unhealthy <= 0:
            continue
        cut = min(budget, unhealthy)
        sizes[rs["metadata"]["name"]] = size - cut
        budget -= cut
    return sizes


def rolling_scale_down(d: Obj, all_rs: list[Obj], old_rs: list[Obj]) -> dict[str, int]:
    """scaleDownOldReplicaSetsForRollingUpdate: shrink old ReplicaSets (oldest first) by as many available
    pods as may go above replicas - maxUnavailable. Returns new sizes by name."""
    min_available = replicas(d) - max_unavailable(d)
    available = sum(status_count(rs, "availableReplicas") for rs in all_rs)
    budget = available - min_available
    sizes: dict[str, int] = {}
    for rs in oldest_first(old_rs):
        if budget <= 0:
            break
        if replicas(rs) == 0:
            continue
        cut = min(replicas(rs), budget)
        sizes[rs["metadata"]["name"]] = replicas(rs) - cut
        budget -= cut
    return sizes


def is_scaling_event(d: Obj, replicasets: list[Obj]) -> bool:
    """A changed spec.replicas shows as an active ReplicaSet whose desired-replicas annotation differs."""
    for rs in active(replicasets):
        desired = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
        if desired is not None and desired != str(replicas(d)):
            return True
    return False


def is_saturated(d: Obj, new_rs: Obj | None) -> bool:
    if new_rs is None:
        return False
    desired = (new_rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
    return (replicas(new_rs) == replicas(d) and desired == str(replicas(d))
            and status_count(new_rs, "availableReplicas") == replicas(d))


def proportional_sizes(d: Obj, replicasets: list[Obj]) -> dict[str, int]:
    """Kubernetes' proportional scaling for a rolling deployment resized mid-rollout: each active ReplicaSet
    grows or shrinks in proportion to its share (from its max-replicas annotation), leftovers going to the
    largest (newest on scale-up, oldest on scale-down)."""
    active_rs = active(replicasets)
    surge, _ = fenceposts(d)
    allowed = replicas(d) + surge if replicas(d) > 0 else 0
    to_add = allowed - sum(replicas(rs) for rs in active_rs)
    if to_add > 0:
        ordered = sorted(active_rs, key=lambda rs: (-replicas(rs), _negated_time(rs)))
    else:
        ordered = sorted(active_rs, key=lambda rs: (-replicas(rs), rs["metadata"].get("creationTimestamp", "")))
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        size = replicas(rs)
        if to_add != 0 and to_add != added and size != 0:
            fraction = _fraction(rs, d, surge)
            allowed_left = to_add - added
            share = min(fraction, allowed_left) if to_add > 0 else max(fraction, allowed_left)
            added += share
            size += share
        sizes[rs["metadata"]["name"]] = size
    if ordered and to_add != 0:
        first = ordered[0]["metadata"]["name"]
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes


def _negated_time(rs: Obj) -> float:
    created = parse_time(rs["metadata"].get("creationTimestamp"))
    return -(created.timestamp() if created else 0.0)


def _fraction(rs: Obj, d: Obj, surge: int) -> int:
    if replicas(d) == 0:
        return -replicas(rs)
    annotated = (rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS, "")
    total = int(annotated) if str(annotated).isdigit() else status_count(d, "replicas")
    if total <= 0:
        return 0
    scaled = replicas(rs) * (replicas(d) + surge) / total
    return int(scaled + 0.5) - replicas(rs)  # Go's math.Round for non-negative values


def cleanable(d: Obj, old_rs: list[Obj]) -> list[Obj]:
    """Old ReplicaSets past revisionHistoryLimit that are empty and settled, oldest revision first."""
    limit = d["spec"].get("revisionHistoryLimit")
    if limit is None:
        return []
    alive = [rs for rs in old_rs if not rs["metadata"].get("deletionTimestamp")]
    excess = len(alive) - int(limit)
    if excess <= 0:
        return []
    ordered = sorted(alive, key=lambda rs: (revision(rs), rs["metadata"].get("creationTimestamp", "")))
    return [rs for rs in ordered[:excess]
            if replicas(rs) == 0 and status_count(rs, "replicas") == 0
            and rs["metadata"].get("generation", 0) <= status_count(rs, "observedGeneration")]


# -- status ----------------------------------------------------------------------------------------------

def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(status: Obj, type_: str) -> Obj | None:
    return next((c for c in status.get("conditions") or () if c.get("type") == type_), None)


def set_condition(status: Obj, type_: str, state: str, reason: str, message: str) -> None:
    """SetDeploymentCondition: lastTransitionTime moves only when the status flips; lastUpdateTime always."""
    now = now_rfc3339()
    old = condition(status, type_)
    if old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (state, reason, message):
        return
    cond = {"type": type_, "status": state, "reason": reason, "message": message, "lastUpdateTime": now,
            "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == state
            and old.get("lastTransitionTime") else now}
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != type_] + [cond]


def calculate_status(d: Obj, all_rs: list[Obj], new_rs: Obj | None) -> Obj:
    available = sum(status_count(rs, "availableReplicas") for rs in all_rs)
    total = sum(replicas(rs) for rs in all_rs)
    status: Obj = {
        "observedGeneration": d["metadata"].get("generation", 0),
        "replicas": sum(status_count(rs, "replicas") for rs in all_rs),
        "updatedReplicas": status_count(new_rs, "replicas"),
        "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in all_rs),
        "availableReplicas": available,
        "unavailableReplicas": max(0, total - available),
    }
    old = d.get("status") or {}
    if old.get("collisionCount"):
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = orjson.loads(orjson.dumps(old["conditions"]))
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, AVAILABLE, "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    else:
        set_condition(status, AVAILABLE, "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.")
    for omitted_when_zero in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                              "unavailableReplicas"):
        if not status[omitted_when_zero]:
            del status[omitted_when_zero]
    return status


def is_complete(d: Obj, status: Obj) -> bool:
    want = replicas(d)
    return (status_count({"status": status}, "updatedReplicas") == want
            and status_count({"status": status}, "replicas") == want
            and status_count({"status": status}, "availableReplicas") == want
            and int(status.get("observedGeneration") or 0) >= d["metadata"].get("generation", 0))


def is_progressing(d: Obj, new_status: Obj) -> bool:
    """Some progress since the last status: more updated, ready or available pods, or fewer old ones."""
    old = d.get("status") or {}

    def count(s: Obj, f: str) -> int:
        return int(s.get(f) or 0)

    old_old = count(old, "replicas") - count(old, "updatedReplicas")
    new_old = count(new_status, "replicas") - count(new_status, "updatedReplicas")
    return (count(new_status, "updatedReplicas") > count(old, "updatedReplicas") or new_old < old_old
            or count(new_status, "readyReplicas") > count(old, "readyReplicas")
            or count(new_status, "availableReplicas") > count(old, "availableReplicas"))


def deadline_in(d: Obj, status: Obj, now: datetime | None = None) -> float | None:
    """Seconds until the rollout times out (<= 0: it has); None when no deadline applies."""
    deadline = d["spec"].get("progressDeadlineSeconds")
    cond = condition(status, PROGRESSING)
    if deadline is None or cond is None or cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT):
        return None
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return None
    return (since + timedelta(seconds=int(deadline)) - (now or datetime.now(UTC))).total_seconds()
