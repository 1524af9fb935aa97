"""Rollout arithmetic (rounding, fenceposts, scaling steps, proportional scaling, history cleanup)."""

from __future__ import annotations

from typing import Any

import pytest

from edgeplane.controllers import rollout
from edgeplane.controllers.intorpercent import scaled_value, surge_and_unavailable

Obj = dict[str, Any]


def deployment(replicas: int, surge: int | str = "25%", unavailable: int | str = "25%", **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": 2, "annotations": {}},
            "spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": surge, "maxUnavailable": unavailable}},
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}},
                **spec}}


def rs(name: str, replicas: int, available: int | None = None, created: str = "2024-01-01T00:00:00Z",
       revision: int = 1, **annotations: str) -> Obj:
    return {"metadata": {"name": name, "creationTimestamp": created, "generation": 1,
                         "annotations": {rollout.REVISION: str(revision), **annotations}},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas, "availableReplicas": replicas if available is None else available,
                       "observedGeneration": 1}}


@pytest.mark.parametrize(("value", "total", "up", "expected"), [
    (3, 10, True, 3), ("3", 10, False, 3), ("25%", 10, True, 3), ("25%", 10, False, 2), ("0%", 7, True, 0),
    ("100%", 7, False, 7), ("33%", 3, True, 1), ("33%", 3, False, 0), (None, 5, True, 0), ("25", 10, True, 25),
])
def test_int_or_percent_rounds_as_kubernetes(value: Any, total: int, up: bool, expected: int) -> None:
    assert scaled_value(value, total, up) == expected


@pytest.mark.parametrize("bad", ["x%", "-1%", "1.5%", True, 2.5])
def test_bad_int_or_percent_names_the_field(bad: Any) -> None:
    with pytest.raises(ValueError, match="maxSurge"):
        scaled_value(bad, 10, True, "maxSurge")


def test_fenceposts_never_both_zero() -> None:
    assert surge_and_unavailable(0, 0, 5) == (0, 1)
    assert surge_and_unavailable("25%", "25%", 1) == (1, 0)
    assert surge_and_unavailable("25%", "25%", 10) == (3, 2)


def test_template_hash_ignores_key_order_and_changes_with_collisions() -> None:
    a = {"metadata": {"labels": {"x": "1", "y": "2"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    b = {"spec": {"containers": [{"image": "i", "name": "c"}]}, "metadata": {"labels": {"y": "2", "x": "1"}}}
    assert rollout.template_hash(a) == rollout.template_hash(b)
    assert rollout.template_hash(a) != rollout.template_hash(a, 1)
    assert set(rollout.template_hash(a)) <= set("bcdfghjklmnpqrstvwxz2456789")
    changed = {**a, "spec": {"containers": [{"name": "c", "image": "j"}]}}
    assert rollout.template_hash(changed) != rollout.template_hash(a)


def test_same_template_ignores_the_hash_label_only() -> None:
    d = deployment(3)
    made = rollout.new_replicaset(d, "abc", 1, 0)
    assert made["metadata"]["name"] == "web-abc"
    assert made["spec"]["template"]["metadata"]["labels"] == {"app": "web", rollout.HASH_LABEL: "abc"}
    assert made["spec"]["selector"]["matchLabels"] == {"app": "web", rollout.HASH_LABEL: "abc"}
    assert rollout.same_template(made["spec"]["template"], d["spec"]["template"])
    other = rollout.new_replicaset(deployment(3), "abc", 1, 0)
    other["spec"]["template"]["metadata"]["labels"]["extra"] = "1"
    assert not rollout.same_template(other["spec"]["template"], d["spec"]["template"])


def test_new_replicaset_annotations() -> None:
    d = deployment(4, surge=1)
    d["metadata"]["annotations"] = {"team": "a", "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                    rollout.REVISION: "7"}
    made = rollout.new_replicaset(d, "h", 3, 1)
    assert made["metadata"]["annotations"] == {"team": "a", rollout.REVISION: "3",
                                               rollout.DESIRED_REPLICAS: "4", rollout.MAX_REPLICAS: "5"}
    # An existing new ReplicaSet never has its revision lowered, and keeps its replica annotations.
    existing = rs("web-h", 1, revision=9, **{rollout.DESIRED_REPLICAS: "2"})
    annotations = rollout.new_rs_annotations(d, existing, 3, exists=True)
    assert annotations[rollout.REVISION] == "9" and annotations[rollout.DESIRED_REPLICAS] == "2"


def test_new_rs_grows_up_to_replicas_plus_surge() -> None:
    d = deployment(10, surge=3, unavailable=2)
    new = rs("new", 0)
    old = rs("old", 10)
    assert rollout.new_rs_replicas(d, [old, new], new) == 3
    assert rollout.new_rs_replicas(d, [rs("old", 13), new], new) == 0  # already at the surge limit
    assert rollout.new_rs_replicas(d, [rs("old", 1), rs("new", 9)], rs("new", 9)) == 10  # never beyond replicas


def test_old_pods_go_only_while_enough_stay_available() -> None:
    d = deployment(10, surge=3, unavailable=2)
    new = rs("new", 3, available=0)
    old = rs("old", 10)
    # 13 pods, at least 8 must stay available, 3 new ones are not available yet: 13 - 8 - 3 = 2 may go.
    assert rollout.old_scale_down_budget(d, [old, new], new) == 2
    assert rollout.rolling_scale_down(d, [old, new], [old]) == {"old": 8}
    # Unavailable old pods are cut first, oldest ReplicaSet first.
    older = rs("older", 2, available=0, created="2023-01-01T00:00:00Z")
    assert rollout.unhealthy_cleanup([rs("old", 5, available=4), older], 3) == {"older": 0, "old": 4}


def test_proportional_scaling_mid_rollout() -> None:
    # 10 -> 15 replicas mid-rollout with maxSurge 3: 13 pods exist (new 5, old 8), 18 are allowed.
    d = deployment(15, surge=3, unavailable=2)
    annotations = {rollout.MAX_REPLICAS: "13"}
    new = rs("new", 5, created="2024-02-01T00:00:00Z", **annotations)
    old = rs("old", 8, created="2024-01-01T00:00:00Z", **annotations)
    sizes = rollout.proportional_sizes(d, [new, old])
    assert sum(sizes.values()) == 18
    assert sizes == {"old": 11, "new": 7}  # 8*18/13 = 11.08 -> 11, 5*18/13 = 6.9 -> 7
    # Scaling down to 0 empties everything.
    assert rollout.proportional_sizes(deployment(0), [new, old]) == {"old": 0, "new": 0}


def test_scaling_event_and_saturation() -> None:
    d = deployment(5)
    assert rollout.is_scaling_event(d, [rs("a", 3, **{rollout.DESIRED_REPLICAS: "3"})])
    assert not rollout.is_scaling_event(d, [rs("a", 5, **{rollout.DESIRED_REPLICAS: "5"})])
    assert not rollout.is_scaling_event(d, [rs("a", 0, **{rollout.DESIRED_REPLICAS: "3"})])  # inactive
    assert rollout.is_saturated(d, rs("a", 5, **{rollout.DESIRED_REPLICAS: "5"}))
    assert not rollout.is_saturated(d, rs("a", 5, available=4, **{rollout.DESIRED_REPLICAS: "5"}))


def test_history_cleanup_keeps_the_limit_and_busy_replicasets() -> None:
    d = deployment(1, revisionHistoryLimit=1)
    old = [rs("r1", 0, revision=1), rs("r2", 0, revision=2), rs("r3", 0, revision=3)]
    assert [r["metadata"]["name"] for r in rollout.cleanable(d, old)] == ["r1", "r2"]
    busy = rs("r1", 0, revision=1)
    busy["status"]["replicas"] = 1  # pods still terminating
    assert [r["metadata"]["name"] for r in rollout.cleanable(d, [busy, *old[1:]])] == ["r2"]


def test_status_and_conditions() -> None:
    d = deployment(4, surge=1, unavailable=1)
    new = rs("new", 2, available=1)
    old = rs("old", 3, available=2)
    status = rollout.calculate_status(d, [old, new], new)
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"],
            status["unavailableReplicas"], status["observedGeneration"]) == (5, 2, 3, 2, 2)
    assert rollout.condition(status, rollout.AVAILABLE)["status"] == "True"  # 3 >= 4 - 1
    assert not rollout.is_complete(d, status)
    done = rollout.calculate_status(d, [rs("old", 0), rs("new", 4)], rs("new", 4))
    assert rollout.is_complete(d, done)
    short = rollout.calculate_status(d, [rs("new", 4, available=2)], rs("new", 4, available=2))
    assert rollout.condition(short, rollout.AVAILABLE)["reason"] == "MinimumReplicasUnavailable"


def test_set_condition_keeps_transition_time_while_status_holds() -> None:
    status: Obj = {"conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                   "message": "m", "lastTransitionTime": "2020-01-01T00:00:00Z",
                                   "lastUpdateTime": "2020-01-01T00:00:00Z"}]}
    rollout.set_condition(status, "Progressing", "True", rollout.NEW_RS_AVAILABLE, "done")
    [cond] = status["conditions"]
    assert cond["lastTransitionTime"] == "2020-01-01T00:00:00Z" and cond["lastUpdateTime"] != "2020-01-01T00:00:00Z"
    rollout.set_condition(status, "Progressing", "False", rollout.TIMED_OUT, "late")
    assert status["conditions"][0]["lastTransitionTime"] != "2020-01-01T00:00:00Z"


def test_progress_deadline() -> None:
    d = deployment(1, progressDeadlineSeconds=60)
    status: Obj = {"conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                   "lastUpdateTime": "2020-01-01T00:00:00Z"}]}
    remaining = rollout.deadline_in(d, status)
    assert remaining is not None and remaining < 0
    status["conditions"][0]["reason"] = rollout.NEW_RS_AVAILABLE
    assert rollout.deadline_in(d, status) is None
