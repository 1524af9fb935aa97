"""Stock kubectl against `edgeplane cloud`: the everyday workflow of someone who runs Kubernetes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.apiserver.conftest import Kubectl
from tests.integration.cloudproc import Cloud, kubectl_env

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: shop
  labels: {app: web, tier: frontend}
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
        env:
        - name: MODE
          value: production
"""


def _configmap(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: shop\n"


@pytest.fixture(scope="module")
def applied(kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifests") / "shop.yaml"
    path.write_text(MANIFEST)
    out = kubectl("apply", "-f", str(path)).stdout
    assert "namespace/shop created" in out
    assert "configmap/app-config created" in out
    assert "deployment.apps/web created" in out
    return path


def test_apply_again_is_unchanged_and_a_change_is_configured(kubectl: Kubectl, applied: Path) -> None:
    out = kubectl("apply", "-f", str(applied)).stdout
    assert "namespace/shop unchanged" in out
    assert "configmap/app-config unchanged" in out
    assert "deployment.apps/web unchanged" in out

    changed = applied.with_name("shop-changed.yaml")
    changed.write_text(MANIFEST.replace("greeting: hello", "greeting: bonjour"))
    out = kubectl("apply", "-f", str(changed)).stdout
    assert "configmap/app-config configured" in out
    assert "deployment.apps/web unchanged" in out
    data = json.loads(kubectl("get", "cm", "app-config", "-n", "shop", "-o", "json").stdout)
    assert data["data"] == {"greeting": "bonjour"}
    kubectl("apply", "-f", str(applied))


def test_diff_shows_the_change_and_persists_nothing(kubectl: Kubectl, applied: Path) -> None:
    changed = applied.with_name("shop-diff.yaml")
    changed.write_text(MANIFEST.replace("replicas: 2", "replicas: 5"))
    before = json.loads(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json").stdout)
    proc = kubectl("diff", "-f", str(changed), check=False)
    assert proc.returncode == 1, proc.stderr  # 1: differences found
    assert "-  replicas: 2" in proc.stdout and "+  replicas: 5" in proc.stdout
    after = json.loads(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json").stdout)
    assert after["spec"]["replicas"] == 2
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert kubectl("diff", "-f", str(applied), check=False).returncode == 0


def test_get_in_every_output_format(kubectl: Kubectl, applied: Path) -> None:
    table = kubectl("get", "deployments", "-n", "shop").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[0] == "web"

    wide = kubectl("get", "deploy", "-n", "shop", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "nginx:1.27" in wide[1] and "app=web" in wide[1]

    doc = yaml.safe_load(kubectl("get", "cm", "app-config", "-n", "shop", "-o", "yaml").stdout)
    assert doc["kind"] == "ConfigMap" and doc["metadata"]["namespace"] == "shop"
    assert doc["metadata"]["uid"] and doc["metadata"]["creationTimestamp"]

    lst = json.loads(kubectl("get", "cm", "-n", "shop", "-o", "json").stdout)
    assert lst["kind"] == "List" and [i["metadata"]["name"] for i in lst["items"]] == ["app-config"]

    path = kubectl("get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert path.stdout == "nginx:1.27"

    everywhere = kubectl("get", "configmaps", "-A").stdout.splitlines()
    assert everywhere[0].split()[:2] == ["NAMESPACE", "NAME"]
    assert any(line.split()[:2] == ["shop", "app-config"] for line in everywhere[1:])

    labels = kubectl("get", "cm", "app-config", "-n", "shop", "--show-labels").stdout.splitlines()
    assert labels[0].split()[-1] == "LABELS" and "app=web,tier=frontend" in labels[1]


def test_label_selectors(kubectl: Kubectl, applied: Path) -> None:
    for name, tier in (("sel-a", "backend"), ("sel-b", "frontend"), ("sel-c", "cache")):
        kubectl("apply", "-f", "-", input=_configmap(name))
        kubectl("label", "configmap", name, "-n", "shop", f"tier={tier}", "group=sel")

    def names(selector: str) -> list[str]:
        out = kubectl("get", "cm", "-n", "shop", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}").stdout
        return sorted(out.split())

    assert names("group=sel,tier=backend") == ["sel-a"]
    assert names("group=sel,tier!=backend") == ["sel-b", "sel-c"]
    assert names("tier in (frontend, cache),group") == ["sel-b", "sel-c"]
    assert names("group=sel,tier notin (frontend)") == ["sel-a", "sel-c"]
    assert names("!group,tier") == ["app-config"]
    bad = kubectl("get", "cm", "-n", "shop", "-l", "tier in frontend", check=False)
    assert (bad.returncode != 0 and "tier in frontend" in bad.stderr) or "unable to parse" in bad.stderr


def test_get_all_and_api_resources(kubectl: Kubectl, applied: Path) -> None:
    out = kubectl("get", "all", "-n", "shop").stdout
    assert "deployment.apps/web" in out
    resources = kubectl("api-resources").stdout.splitlines()
    header = resources[0].split()
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {line.split()[0]: line.split() for line in resources[1:]}
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["nodes"][1:] == ["no", "v1", "false", "Node"]
    assert "customresourcedefinitions" in rows and "leases" in rows


def test_label_annotate_scale_and_patch(kubectl: Kubectl, applied: Path) -> None:
    kubectl("label", "deploy", "web", "-n", "shop", "release=stable")
    kubectl("annotate", "deploy", "web", "-n", "shop", "owner=team-a")
    kubectl("scale", "deploy", "web", "-n", "shop", "--replicas=4")
    d = json.loads(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json").stdout)
    assert d["metadata"]["labels"]["release"] == "stable"
    assert d["metadata"]["annotations"]["owner"] == "team-a"
    assert d["spec"]["replicas"] == 4

    kubectl("patch", "deploy", "web", "-n", "shop", "--type", "merge", "-p", '{"spec":{"replicas":3}}')
    kubectl("patch", "deploy", "web", "-n", "shop", "--type", "json",
            "-p", '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.28"}]')
    kubectl("patch", "deploy", "web", "-n", "shop", "--type", "strategic",
            "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"LEVEL","value":"2"}]}]}}}}')
    d = json.loads(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json").stdout)
    container = d["spec"]["template"]["spec"]["containers"][0]
    assert d["spec"]["replicas"] == 3
    assert container["image"] == "nginx:1.28"
    # strategic merge: env merged by name, the existing entry kept
    assert {e["name"]: e["value"] for e in container["env"]} == {"MODE": "production", "LEVEL": "2"}
    assert d["metadata"]["generation"] >= 3

    kubectl("label", "deploy", "web", "-n", "shop", "release-")
    d = json.loads(kubectl("get", "deploy", "web", "-n", "shop", "-o", "json").stdout)
    assert "release" not in d["metadata"]["labels"]


def test_edit_with_a_scripted_editor(kubectl: Kubectl, applied: Path, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/greeting: .*/greeting: edited/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    out = kubectl("edit", "cm", "app-config", "-n", "shop", env={"KUBE_EDITOR": str(editor)}).stdout
    assert "configmap/app-config edited" in out
    data = json.loads(kubectl("get", "cm", "app-config", "-n", "shop", "-o", "json").stdout)
    assert data["data"]["greeting"] == "edited"


def test_describe_shows_events(kubectl: Kubectl, applied: Path) -> None:
    uid = kubectl("get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.metadata.uid}").stdout
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "shop"},
        "involvedObject": {"kind": "Deployment", "name": "web", "namespace": "shop", "apiVersion": "apps/v1",
                           "uid": uid},
        "reason": "ScalingReplicaSet", "message": "Scaled up replica set web-1 to 2", "type": "Normal",
        "source": {"component": "deployment-controller"}, "count": 1,
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z",
    }
    kubectl("create", "-f", "-", input=json.dumps(event))
    out = kubectl("describe", "deploy", "web", "-n", "shop").stdout
    assert "Name:" in out and "web" in out
    assert "Events:" in out and "ScalingReplicaSet" in out and "Scaled up replica set web-1 to 2" in out


def test_explain(kubectl: Kubectl) -> None:
    out = kubectl("explain", "pod.spec.containers").stdout
    assert "KIND:" in out and "Pod" in out
    assert "FIELD: containers" in out or "containers <[]Container>" in out
    assert "image" in out
    out = kubectl("explain", "deployment.spec.strategy").stdout
    assert "rollingUpdate" in out


def test_invalid_manifest_names_the_field_and_stores_nothing(kubectl: Kubectl, applied: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(MANIFEST.split("---\n")[2].replace("name: web\n", "name: broken\n", 1)
                   .replace("image: nginx:1.27", "image: ''"))
    proc = kubectl("apply", "-f", str(bad), check=False)
    assert proc.returncode != 0
    assert 'The Deployment "broken" is invalid' in proc.stderr
    assert "spec.template.spec.containers[0].image: Required value" in proc.stderr
    assert kubectl("get", "deploy", "broken", "-n", "shop", check=False).returncode != 0

    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: shop\ndatta:\n  a: b\n")
    proc = kubectl("apply", "-f", str(unknown), check=False)
    assert proc.returncode != 0
    assert 'unknown field "datta"' in proc.stderr
    assert kubectl("get", "cm", "typo", "-n", "shop", check=False).returncode != 0


def test_get_watch_prints_changes_as_they_happen(cloud: Cloud, kubectl: Kubectl, applied: Path) -> None:
    from tests.conftest import require_binary

    proc = subprocess.Popen(
        [require_binary("kubectl"), "get", "configmaps", "-n", "shop", "-w", "--output-watch-events",
         "-l", "watched=yes"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kubectl_env(cloud),
    )
    try:
        time.sleep(1.5)
        kubectl("apply", "-f", "-", input=_configmap("watched"))
        kubectl("label", "configmap", "watched", "-n", "shop", "watched=yes")
        kubectl("annotate", "configmap", "watched", "-n", "shop", "note=1")
        kubectl("delete", "configmap", "watched", "-n", "shop")
        time.sleep(1.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    events = [line.split()[:2] for line in out.splitlines() if line.strip() and not line.startswith("EVENT")]
    assert events == [["ADDED", "watched"], ["MODIFIED", "watched"], ["DELETED", "watched"]], out + err


def test_delete_returns_once_the_object_is_gone(kubectl: Kubectl, applied: Path) -> None:
    kubectl("apply", "-f", "-", input=_configmap("doomed"))
    out = kubectl("delete", "configmap", "doomed", "-n", "shop").stdout
    assert 'configmap "doomed" deleted' in out
    proc = kubectl("get", "configmap", "doomed", "-n", "shop", check=False)
    assert proc.returncode == 1 and 'configmaps "doomed" not found' in proc.stderr


def test_admin_kubeconfig_is_private(cloud: Cloud) -> None:
    assert stat.S_IMODE(os.stat(cloud.kubeconfig).st_mode) == 0o600
