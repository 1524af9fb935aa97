"""Stock kubectl's typed `create` commands, which send Kubernetes protobuf, against `edgeplane cloud`.

For each command, `--dry-run=client -o json` shows the object kubectl builds; the real command sends that object
as protobuf; `kubectl get -o json` must then show every field kubectl sent, with the same value.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.integration.apiserver.conftest import Kubectl

NS = "shop"
PROTOBUF_REQUEST = "Content-Type: application/vnd.kubernetes.protobuf"

# (create arguments, the resource and name to read back)
COMMANDS = [
    (["create", "configmap", "app-config", "--from-literal=greeting=hello", "--from-literal=empty="],
     "configmap/app-config"),
    (["create", "secret", "generic", "db", "--from-literal=password=hunter2", "--from-literal=user=admin"],
     "secret/db"),
    (["create", "deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80"], "deployment/web"),
    (["create", "deployment", "idle", "--image=busybox:1.36", "--replicas=0"], "deployment/idle"),
    (["create", "service", "clusterip", "web", "--tcp=80:8080", "--tcp=8443:https"], "service/web"),
    (["create", "serviceaccount", "bot"], "serviceaccount/bot"),
]


def assert_kept(sent: Any, got: Any, path: str = "") -> None:
    """Every field of `sent` is in `got` with the same value; the server may add defaults around them."""
    if isinstance(sent, dict):
        assert isinstance(got, dict), f"{path}: sent an object, got {got!r}"
        for key, value in sent.items():
            if value is None:  # creationTimestamp: null, which the server fills in
                continue
            assert key in got, f"{path}.{key} was sent as {value!r} but is missing"
            assert_kept(value, got[key], f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(got, list) and len(got) == len(sent), f"{path}: sent {sent!r}, got {got!r}"
        for i, (a, b) in enumerate(zip(sent, got, strict=True)):
            assert_kept(a, b, f"{path}[{i}]")
    else:
        assert sent == got, f"{path}: sent {sent!r}, got {got!r}"


def _json(kubectl: Kubectl, *args: str) -> dict[str, Any]:
    return json.loads(kubectl(*args).stdout)


@pytest.fixture(scope="module")
def namespace(kubectl: Kubectl) -> str:
    proc = kubectl("create", "namespace", NS, "-v=8")
    assert PROTOBUF_REQUEST in proc.stderr  # namespaces come as protobuf too
    assert f"namespace/{NS} created" in proc.stdout
    return NS


def test_create_namespace_keeps_what_kubectl_sent(kubectl: Kubectl, namespace: str) -> None:
    sent = _json(kubectl, "create", "namespace", namespace, "--dry-run=client", "-o", "json")
    sent.pop("status", None)  # the server owns status
    assert_kept(sent, _json(kubectl, "get", "namespace", namespace, "-o", "json"))


@pytest.mark.parametrize(("args", "resource"), COMMANDS, ids=[r for _, r in COMMANDS])
def test_create_command_round_trips(kubectl: Kubectl, namespace: str, args: list[str], resource: str) -> None:
    sent = _json(kubectl, *args, "-n", namespace, "--dry-run=client", "-o", "json")
    proc = kubectl(*args, "-n", namespace, "-v=8")
    assert PROTOBUF_REQUEST in proc.stderr, "kubectl did not send protobuf; the test would prove nothing"
    assert f"{resource.split('/')[1]} created" in proc.stdout

    got = _json(kubectl, "get", resource, "-n", namespace, "-o", "json")
    sent.pop("status", None)
    assert_kept(sent, got)
    assert got["metadata"]["uid"] and got["metadata"]["resourceVersion"]


def test_values_that_need_special_decoding(kubectl: Kubectl, namespace: str) -> None:
    # runs after the parametrized creates (same module, file order)
    secret = _json(kubectl, "get", "secret/db", "-n", namespace, "-o", "json")
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"  # bytes map values, base64 in JSON

    cm = _json(kubectl, "get", "configmap/app-config", "-n", namespace, "-o", "json")
    assert cm["data"] == {"greeting": "hello", "empty": ""}  # an empty map value stays

    idle = _json(kubectl, "get", "deployment/idle", "-n", namespace, "-o", "json")
    assert idle["spec"]["replicas"] == 0  # a present zero pointer is not defaulted to 1

    svc = _json(kubectl, "get", "service/web", "-n", namespace, "-o", "json")
    ports = {p["port"]: p["targetPort"] for p in svc["spec"]["ports"]}
    assert ports == {80: 8080, 8443: "https"}  # IntOrString as int and as string
