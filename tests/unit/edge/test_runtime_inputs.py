"""Env and volume resolution for runtimes: kubelet semantics and errors that say where the problem is."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from edgeplane.edge.runtimes.env import expand, resolve_env
from edgeplane.edge.runtimes.interface import ContainerConfigError
from edgeplane.edge.runtimes.volumes import materialise


class Store(dict):
    def get(self, resource, namespace, name):  # type: ignore[override]
        return super().get((resource, namespace, name))


POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"a": "1", "b": "2"}},
       "spec": {"nodeName": "n1"}, "status": {"podIP": "10.0.0.5"}}


def test_env_order_prefixes_and_expansion():
    store = Store({("configmaps", "ns", "cm"): {"data": {"A": "from-cm", "bad key": "x"}},
                   ("secrets", "ns", "s"): {"data": {"T": base64.b64encode(b"tok").decode()}}})
    container = {"envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}, "prefix": "S_"}],
                 "env": [{"name": "A", "value": "override-$(S_T)"}, {"name": "IP", "valueFrom": {
                     "fieldRef": {"fieldPath": "status.podIP"}}}, {"name": "L", "value": "$$(A)"},
                     {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "none", "key": "k", "optional": True}}}]}
    env = resolve_env(container, POD, store, "spec.containers[0]")
    assert env == {"A": "override-tok", "S_T": "tok", "IP": "10.0.0.5", "L": "$(A)"}
    assert expand("$(MISSING) $(A)", {"A": "x"}) == "$(MISSING) x"


def test_env_errors_name_the_field():
    with pytest.raises(ContainerConfigError, match=r"spec.containers\[1\].env\[0\] \(X\).*key k in configmap ns/cm"):
        resolve_env({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]}, POD,
                    Store({("configmaps", "ns", "cm"): {"data": {}}}), "spec.containers[1]")


def test_volumes_files_modes_items_and_updates(tmp_path: Path):
    store = Store({("configmaps", "ns", "cm"): {"data": {"a": "1", "b": "2"}}})
    pod = {**POD, "spec": {"volumes": [
        {"name": "all", "configMap": {"name": "cm"}},
        {"name": "some", "configMap": {"name": "cm", "items": [{"key": "b", "path": "sub/bee", "mode": 0o600}]}},
        {"name": "down", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"name": "scratch", "emptyDir": {}},
        {"name": "host", "hostPath": {"path": str(tmp_path / "made"), "type": "DirectoryOrCreate"}}]}}
    paths = materialise(pod, store, tmp_path / "pods")
    assert Path(paths["all"], "a").read_text() == "1" and Path(paths["all"], "b").read_text() == "2"
    bee = Path(paths["some"], "sub", "bee")
    assert bee.read_text() == "2" and oct(bee.stat().st_mode & 0o777) == "0o600"
    assert Path(paths["down"], "labels").read_text() == 'a="1"\nb="2"'
    assert Path(paths["scratch"]).is_dir() and paths["host"] == str(tmp_path / "made")
    # A ConfigMap update shows up in the files; a removed key's file goes.
    store[("configmaps", "ns", "cm")] = {"data": {"a": "changed"}}
    pod["spec"]["volumes"] = pod["spec"]["volumes"][:1]
    materialise(pod, store, tmp_path / "pods")
    assert Path(paths["all"], "a").read_text() == "changed" and not Path(paths["all"], "b").exists()


@pytest.mark.parametrize(("volume", "message"), [
    ({"name": "v", "secret": {"secretName": "absent"}}, r'spec.volumes\[0\] \(v\): Secret "absent" not found'),
    ({"name": "v", "nfs": {"server": "x", "path": "/"}}, "volume type nfs is not supported"),
    ({"name": "v", "hostPath": {"path": "/definitely/not/here", "type": "Directory"}}, "does not exist"),
    ({"name": "v", "configMap": {"name": "cm", "items": [{"key": "a", "path": "../x"}]}}, "must be relative"),
])
def test_volume_errors(tmp_path: Path, volume, message):
    store = Store({("configmaps", "ns", "cm"): {"data": {"a": "1"}}})
    with pytest.raises(ContainerConfigError, match=message):
        materialise({**POD, "spec": {"volumes": [volume]}}, store, tmp_path)
