"""Rendering one pool's Deployment from a YurtAppSet: selection, pinning, tweaks, revisions, readiness."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from edgeplane.controllers.yurtappset import (
    TweakError,
    render_deployment,
    revision_of,
    selected_pools,
    workload_prefix,
    workload_ready,
)


def _pool(name: str, labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def _yas(tweaks: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "apps", "uid": "u-1"}, "spec": {**spec, "workload": {
        "workloadTemplate": {"deploymentTemplate": {
            "metadata": {"labels": {"app": "web"}, "annotations": {"note": "x"}},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}},
                                                 "spec": {"containers": [{"name": "c", "image": "img:1"}],
                                                          "initContainers": [{"name": "i", "image": "init:1"}]}}}}},
        "workloadTweaks": tweaks or []}}}


def test_pools_are_selected_by_name_and_by_label_once_each_and_only_if_they_exist() -> None:
    pools = [_pool("b", {"env": "prod"}), _pool("a"), _pool("c", {"env": "dev"})]
    chosen = selected_pools(_yas(pools=["a", "b", "ghost"], nodepoolSelector={"matchLabels": {"env": "prod"}}),
                            pools)
    assert [p["metadata"]["name"] for p in chosen] == ["a", "b"]
    assert selected_pools(_yas(), pools) == []


def test_the_rendered_deployment_is_labelled_owned_and_pinned_to_its_pool() -> None:
    yas = _yas()
    before = copy.deepcopy(yas)
    taints = [{"key": "k", "value": "v", "effect": "NoSchedule"}, {"key": "bare", "effect": "NoExecute"}]
    d = render_deployment(yas, _pool("hz", taints=taints), revision_of(yas))
    meta, spec = d["metadata"], d["spec"]
    assert meta["generateName"] == "web-hz-" and meta["namespace"] == "apps"
    assert meta["labels"] == {
        "app": "web", "apps.openyurt.io/pool-name": "hz", "apps.openyurt.io/yurtappset-owner": "web",
        "apps.openyurt.io/controller-revision-hash": revision_of(yas)}
    assert meta["annotations"]["note"] == "x" and meta["annotations"]["apps.openyurt.io/ref-nodepool"] == "hz"
    assert meta["ownerReferences"][0]["uid"] == "u-1" and meta["ownerReferences"][0]["controller"] is True
    assert spec["selector"] == {"matchLabels": {"apps.openyurt.io/pool-name": "hz"}}
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"] == {"apps.openyurt.io/nodepool": "hz"}
    assert pod["tolerations"] == [{"key": "k", "effect": "NoSchedule", "operator": "Equal", "value": "v"},
                                  {"key": "bare", "effect": "NoExecute", "operator": "Exists"}]
    assert yas == before, "rendering never changes the YurtAppSet"


def test_tweaks_apply_only_to_the_pools_they_select() -> None:
    yas = _yas([{"nodepoolSelector": {"matchLabels": {"big": "yes"}}, "tweaks": {
        "replicas": 5, "containerImages": [{"name": "c", "targetImage": "img:2"}, {"name": "i",
                                                                                  "targetImage": "init:2"}],
        "patches": [{"operation": "add", "path": "/spec/template/metadata/labels/pool", "value": "{{nodepool-name}}"},
                    {"operation": "remove", "path": "/metadata/annotations/note"}]}}])
    big = render_deployment(yas, _pool("sh", {"big": "yes"}), revision_of(yas))
    small = render_deployment(yas, _pool("bj"), revision_of(yas))
    assert big["spec"]["replicas"] == 5 and small["spec"]["replicas"] == 2
    assert big["spec"]["template"]["spec"]["containers"][0]["image"] == "img:2"
    assert big["spec"]["template"]["spec"]["initContainers"][0]["image"] == "init:2"
    assert big["spec"]["template"]["metadata"]["labels"]["pool"] == "sh"
    assert "note" not in big["metadata"]["annotations"] and small["metadata"]["annotations"]["note"] == "x"


def test_a_patch_replacing_the_labels_cannot_orphan_the_deployment() -> None:
    yas = _yas([{"pools": ["bj"], "tweaks": {"patches": [
        {"operation": "add", "path": "/metadata/labels", "value": {"foo": "bar"}}]}}])
    labels = render_deployment(yas, _pool("bj"), revision_of(yas))["metadata"]["labels"]
    assert labels["foo"] == "bar" and labels["apps.openyurt.io/pool-name"] == "bj"
    assert labels["apps.openyurt.io/yurtappset-owner"] == "web"


def test_a_patch_that_does_not_apply_names_the_pool_and_the_path() -> None:
    yas = _yas([{"pools": ["bj"], "tweaks": {"patches": [{"operation": "replace", "path": "/spec/missing",
                                                          "value": 1}]}}])
    with pytest.raises(TweakError, match=r"pool 'bj'.*/spec/missing"):
        render_deployment(yas, _pool("bj"), revision_of(yas))


def test_revision_and_rendered_hash_follow_what_matters() -> None:
    yas = _yas()
    changed = _yas()
    changed["spec"]["workload"]["workloadTemplate"]["deploymentTemplate"]["spec"]["replicas"] = 3
    assert revision_of(yas) == revision_of(_yas()) != revision_of(changed)
    key = "edgeplane.io/pool-workload-hash"
    plain = render_deployment(yas, _pool("hz"), revision_of(yas))["metadata"]["annotations"][key]
    tainted = render_deployment(yas, _pool("hz", taints=[{"key": "k", "effect": "NoSchedule"}]),
                                revision_of(yas))["metadata"]["annotations"][key]
    assert plain != tainted, "a new pool taint changes the Deployment (its tolerations)"


def test_long_names_fall_back_to_the_yurtappset_prefix() -> None:
    assert workload_prefix("web", "hz") == "web-hz-"
    assert workload_prefix("w" * 200, "p" * 60) == "w" * 200 + "-"


def test_a_workload_is_ready_when_all_its_desired_replicas_are() -> None:
    deployment = {"metadata": {}, "spec": {"replicas": 2}, "status": {"replicas": 2, "readyReplicas": 1}}
    assert not workload_ready(deployment)
    deployment["status"]["readyReplicas"] = 2
    assert workload_ready(deployment)
    assert not workload_ready({"metadata": {}, "spec": {}, "status": {}}), "replicas default to one"
