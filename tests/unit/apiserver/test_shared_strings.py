"""The watch cache keeps one string object per repeated value of its decoded objects."""

from __future__ import annotations

import orjson

from edgeplane.apiserver.shared_strings import share_strings


def _node(name: str, uid: str) -> dict:
    return orjson.loads(orjson.dumps({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": uid, "creationTimestamp": "2026-11-21T10:00:00Z",
                     "labels": {"kubernetes.io/os": "linux"}},
        "status": {"capacity": {"memory": "8Gi"},
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "lastHeartbeatTime": "2026-11-21T10:00:00Z"}],
                   "images": [{"names": ["docker.io/library/busybox:latest"]}]},
    }))


def test_repeated_values_become_one_object() -> None:
    a, b = share_strings(_node("a", "uid-aaaa")), share_strings(_node("b", "uid-bbbb"))
    assert a["kind"] is b["kind"]
    assert a["metadata"]["labels"]["kubernetes.io/os"] is b["metadata"]["labels"]["kubernetes.io/os"]
    assert a["status"]["capacity"]["memory"] is b["status"]["capacity"]["memory"]
    assert a["status"]["conditions"][0]["reason"] is b["status"]["conditions"][0]["reason"]
    assert a["status"]["images"][0]["names"][0] is b["status"]["images"][0]["names"][0]  # strings in lists too
    assert a == _node("a", "uid-aaaa")  # values unchanged


def test_unique_long_and_payload_values_are_left_alone() -> None:
    a, b = share_strings(_node("a", "same-uid")), share_strings(_node("b", "same-uid"))
    assert a["metadata"]["uid"] is not b["metadata"]["uid"]
    assert a["metadata"]["creationTimestamp"] is not b["metadata"]["creationTimestamp"]
    long = "x" * 100
    c1 = share_strings(orjson.loads(orjson.dumps({"kind": "ConfigMap", "data": {"k": "v1"}, "note": long})))
    c2 = share_strings(orjson.loads(orjson.dumps({"kind": "ConfigMap", "data": {"k": "v1"}, "note": long})))
    assert c1["data"]["k"] is not c2["data"]["k"]
    assert c1["note"] is not c2["note"]


def test_deeply_nested_objects_do_not_exhaust_the_stack() -> None:
    obj: dict = {"leaf": "value"}
    for i in range(5_000):
        obj = {"spec": obj} if i % 2 else {"items": [obj]}
    share_strings(obj)  # would raise RecursionError if it recursed
    while "spec" in obj or "items" in obj:
        obj = obj["spec"] if "spec" in obj else obj["items"][0]
    assert obj["leaf"] == "value"
