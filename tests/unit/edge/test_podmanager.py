"""The pod manager against real processes: start, status, restart policy, backoff, deletion, failures, adoption."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest

from edgeplane.edge.metastore import MetaStore
from edgeplane.edge.podmanager import PodManager
from edgeplane.edge.runtimes.process import ProcessRuntime
from tests.unit.edge.podfixtures import NODE, container, eventually, pod, put, sh, status


@pytest.fixture
def store(tmp_path: Path):
    s = MetaStore(tmp_path / "metastore.db")
    yield s
    s.close()


@pytest.fixture
async def manager(tmp_path: Path, store: MetaStore):
    runtime = ProcessRuntime(tmp_path, host_ip="192.0.2.10")
    m = PodManager(store, NODE, runtime, tmp_path, sync_period=0.05, backoff_base=0.3, host_ip="192.0.2.10")
    await m.start()
    yield m
    await m.stop()
    for state in await runtime.list():
        await runtime.remove_pod(state.pod_uid)


def running(store: MetaStore, name: str) -> bool:
    s = status(store, name)
    return s.get("phase") == "Running" and all("running" in c["state"] for c in s["containerStatuses"])


async def test_pod_runs_with_env_and_volumes_and_reports_kubernetes_status(manager, store, tmp_path):
    put(store, "configmaps", {"metadata": {"name": "cfg"}, "data": {"greeting": "hello", "file.txt": "from-cm"}})
    put(store, "secrets", {"metadata": {"name": "sec"}, "data": {"token": base64.b64encode(b"s3cret").decode()}})
    out = tmp_path / "out.txt"
    p = pod("web", sh("app", f"echo $GREETING $TOKEN $POD_NAME $NODE $LITERAL > {out}; "
                             f"echo $(cat etc/cfg/file.txt) $(cat etc/sec/token) >> {out}; sleep 30",
                     env=[{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "greeting"}}},
                          {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
                          {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                          {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                          {"name": "LITERAL", "value": "x-$(POD_NAME)"}],
                     volumeMounts=[{"name": "c", "mountPath": "/etc/cfg"}, {"name": "s", "mountPath": "/etc/sec"}]),
            volumes=[{"name": "c", "configMap": {"name": "cfg"}},
                     {"name": "s", "secret": {"secretName": "sec", "defaultMode": 0o400}}])
    put(store, "pods", p)
    await eventually(lambda: running(store, "web"))
    await eventually(lambda: out.exists() and out.read_text().count("\n") >= 2)
    assert out.read_text() == f"hello s3cret web {NODE} x-web\nfrom-cm s3cret\n"
    s = status(store, "web")
    c = s["containerStatuses"][0]
    assert c["containerID"].startswith("process://") and c["ready"] and c["started"]
    assert c["restartCount"] == 0 and c["lastState"] == {}
    assert s["podIP"] == s["hostIP"] == "192.0.2.10" and s["podIPs"] == [{"ip": "192.0.2.10"}]
    assert {cond["type"]: cond["status"] for cond in s["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
        "ContainersReady": "True", "PodScheduled": "True"}
    assert s["qosClass"] == "BestEffort" and s["startTime"].endswith("Z")
    uid = p["metadata"]["uid"]
    secret_file = tmp_path / "pods" / uid / "volumes" / "s" / "token"
    assert oct(secret_file.stat().st_mode & 0o777) == "0o400"
    # Status goes upstream through the outbox, and only when it changes.
    queued = [e for e in store.outbox() if e.kind == "status"]
    assert queued and queued[-1].body["status"] == s
    before = store.outbox_size()
    await manager.workers[("default", "web")].sync()
    assert store.outbox_size() == before


async def test_restart_policy_and_crash_loop_backoff(manager, store):
    put(store, "pods", pod("crash", sh("c", "echo boom; exit 3")))
    await eventually(lambda: container(store, "crash", "c").get("restartCount", 0) >= 2, timeout=6)
    waiting = await eventually(
        lambda: container(store, "crash", "c").get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
        and container(store, "crash", "c"))
    assert "back-off" in waiting["state"]["waiting"]["message"]
    last = waiting["lastState"]["terminated"]
    assert last["exitCode"] == 3 and last["reason"] == "Error"
    assert status(store, "crash")["phase"] == "Running"
    # Backoff doubles: restarts slow down rather than spinning.
    count = waiting["restartCount"]
    await eventually(lambda: container(store, "crash", "c")["restartCount"] > count, timeout=6)


@pytest.mark.parametrize(("policy", "code", "phase", "reason"), [
    ("Never", 0, "Succeeded", "Completed"),
    ("Never", 1, "Failed", "Error"),
    ("OnFailure", 0, "Succeeded", "Completed"),
])
async def test_terminal_phases(manager, store, policy, code, phase, reason):
    put(store, "pods", pod("job", sh("c", f"exit {code}"), restartPolicy=policy))
    s = await eventually(lambda: status(store, "job").get("phase") == phase and status(store, "job"))
    c = s["containerStatuses"][0]
    assert c["state"]["terminated"]["exitCode"] == code and c["state"]["terminated"]["reason"] == reason
    assert c["restartCount"] == 0 and not c["ready"]
    ready = next(x for x in s["conditions"] if x["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "PodCompleted"


async def test_init_containers_run_first_in_order(manager, store, tmp_path):
    marker = tmp_path / "order"
    p = pod("init", sh("main", f"echo main >> {marker}; sleep 30"),
            initContainers=[sh("one", f"echo one >> {marker}"), sh("two", f"echo two >> {marker}")])
    put(store, "pods", p)
    await eventually(lambda: running(store, "init"))
    assert marker.read_text() == "one\ntwo\nmain\n"
    s = status(store, "init")
    assert [c["state"]["terminated"]["reason"] for c in s["initContainerStatuses"]] == ["Completed", "Completed"]


async def test_bad_pods_say_why_and_others_carry_on(manager, store):
    put(store, "pods", pod("good", sh("c", "sleep 30")))
    put(store, "pods", pod("nocmd", {"name": "c", "image": "busybox"}))
    put(store, "pods", pod("nocm", sh("c", "sleep 30"), volumes=[{"name": "v", "configMap": {"name": "missing"}}]))
    put(store, "pods", pod("nokey", sh("c", "sleep 30", env=[
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}])))
    put(store, "pods", pod("noexe", {"name": "c", "image": "x", "command": ["/nonexistent/binary"]},
                           restartPolicy="Never"))
    await eventually(lambda: running(store, "good"))

    def waiting(name: str) -> dict:
        return container(store, name, "c").get("state", {}).get("waiting", {})

    await eventually(lambda: waiting("nocmd").get("reason") == "CreateContainerConfigError")
    assert "has no command" in waiting("nocmd")["message"]
    await eventually(lambda: waiting("nocm").get("reason") == "CreateContainerConfigError")
    assert 'ConfigMap "missing" not found' in waiting("nocm")["message"]
    assert "spec.volumes[0]" in waiting("nocm")["message"]
    await eventually(lambda: "absent" in waiting("nokey").get("message", ""))
    assert status(store, "nocm")["phase"] == "Pending"
    term = await eventually(lambda: container(store, "noexe", "c").get("state", {}).get("terminated"))
    assert term["reason"] == "StartError" and "nonexistent" in term["message"]
    assert status(store, "noexe")["phase"] == "Failed"
    assert running(store, "good")
    # The missing ConfigMap arrives: the pod starts without anything else happening.
    put(store, "configmaps", {"metadata": {"name": "missing"}, "data": {"a": "b"}})
    await eventually(lambda: running(store, "nocm"))
    events = [e.body for e in store.outbox() if e.kind == "event"]
    assert any(e["reason"] == "Failed" and e["involvedObject"]["name"] == "nocmd" for e in events)


async def test_graceful_deletion_then_confirmation(manager, store, tmp_path):
    p = put(store, "pods", pod("del", sh("c", "trap 'echo bye; exit 0' TERM; while true; do sleep 0.05; done")))
    await eventually(lambda: running(store, "del"))
    deleting = {**p, "metadata": {**p["metadata"], "deletionTimestamp": "2030-01-01T00:00:00Z",
                                  "deletionGracePeriodSeconds": 5}}
    put(store, "pods", deleting)
    uid = p["metadata"]["uid"]
    entry = await eventually(lambda: [e for e in store.outbox() if e.kind == "podDeleted"])
    assert entry[0].body == {"namespace": "default", "name": "del", "uid": uid}
    term = container(store, "del", "c")["state"]["terminated"]
    assert term["exitCode"] == 0  # the process handled SIGTERM within its grace period
    current, _ = manager.runtime.log_paths(uid, "c")
    assert current is not None and "stdout F bye" in current.read_text()
    # The hub client removes the pod once the cloud confirmed: its files go too.
    store.remove("pods", "default", "del", uid)
    await eventually(lambda: not (tmp_path / "pods" / uid).exists())


async def test_sigkill_after_grace_period(manager, store):
    p = put(store, "pods", pod("stubborn", sh("c", "trap '' TERM; while true; do sleep 0.05; done"),
                              terminationGracePeriodSeconds=1))
    await eventually(lambda: running(store, "stubborn"))
    store.remove("pods", "default", "stubborn", p["metadata"]["uid"])
    started = time.monotonic()
    await eventually(lambda: not manager.workers, timeout=5)
    assert 0.9 < time.monotonic() - started < 4
    assert await manager.runtime.list() == []


async def test_pods_of_other_nodes_are_ignored(manager, store):
    other = pod("elsewhere", sh("c", "sleep 30"))
    other["spec"]["nodeName"] = "edge-2"
    put(store, "pods", other)
    put(store, "pods", pod("here", sh("c", "sleep 30")))
    await eventually(lambda: running(store, "here"))
    assert status(store, "elsewhere") == {"phase": "Pending", "qosClass": "BestEffort"}
    assert {s.pod_uid for s in await manager.runtime.list()} == {store.get("pods", "default", "here")["metadata"]["uid"]}


async def test_agent_restart_adopts_running_pods_and_stops_orphans(tmp_path, store):
    runtime = ProcessRuntime(tmp_path, host_ip="192.0.2.10")
    first = PodManager(store, NODE, runtime, tmp_path, sync_period=0.05, backoff_base=0.3)
    await first.start()
    keep = put(store, "pods", pod("keep", sh("c", "sleep 30")))
    gone = put(store, "pods", pod("gone", sh("c", "sleep 30")))
    await eventually(lambda: running(store, "keep") and running(store, "gone"))
    before = container(store, "keep", "c")["containerID"]
    await first.stop()  # the agent goes away: its pods keep running
    states = {s.pod_uid: s for s in await runtime.list()}
    assert all(s.running for s in states.values()) and len(states) == 2
    # While the agent was down the pod "gone" was deleted (removed locally by the hub client).
    store.remove("pods", "default", "gone", gone["metadata"]["uid"])
    second = PodManager(store, NODE, ProcessRuntime(tmp_path, host_ip="192.0.2.10"), tmp_path,
                        sync_period=0.05, backoff_base=0.3)
    await second.start()
    try:
        await eventually(lambda: running(store, "keep"))
        assert container(store, "keep", "c")["containerID"] == before  # adopted, not restarted
        assert container(store, "keep", "c")["restartCount"] == 0
        assert [s.pod_uid for s in await runtime.list()] == [keep["metadata"]["uid"]]
    finally:
        await second.stop()
        await runtime.remove_pod(keep["metadata"]["uid"])


async def test_container_killed_while_agent_down_restarts_with_unknown_last_state(tmp_path, store):
    runtime = ProcessRuntime(tmp_path, host_ip="192.0.2.10")
    first = PodManager(store, NODE, runtime, tmp_path, sync_period=0.05, backoff_base=0.3)
    await first.start()
    p = put(store, "pods", pod("reboot", sh("c", "sleep 30")))
    await eventually(lambda: running(store, "reboot"))
    await first.stop()
    uid = p["metadata"]["uid"]
    state = runtime._read_state(uid, "c", 0)
    os.kill(state["supervisorPid"], 9)  # as a host reboot would: supervisor and child gone, no exit recorded
    os.killpg(state["childPid"], 9)
    second = PodManager(store, NODE, runtime, tmp_path, sync_period=0.05, backoff_base=0.3)
    await second.start()
    try:
        c = await eventually(lambda: container(store, "reboot", "c").get("restartCount") == 1
                             and "running" in container(store, "reboot", "c")["state"]
                             and container(store, "reboot", "c"))
        assert c["lastState"]["terminated"]["reason"] == "Unknown"
        assert c["lastState"]["terminated"]["exitCode"] == 255
    finally:
        await second.stop()
        await runtime.remove_pod(uid)


async def test_readiness_and_liveness_probes(manager, store, tmp_path):
    ready, dead = tmp_path / "ready", tmp_path / "dead"
    fast = {"periodSeconds": 0.1, "failureThreshold": 2}
    put(store, "pods", pod("probed", sh("c", "sleep 30",
        readinessProbe={"exec": {"command": ["test", "-f", str(ready)]}, **fast},
        livenessProbe={"exec": {"command": ["test", "!", "-f", str(dead)]}, **fast})))
    await eventually(lambda: running(store, "probed"))
    c = container(store, "probed", "c")
    assert c["started"] and not c["ready"]
    assert next(x for x in status(store, "probed")["conditions"] if x["type"] == "Ready")["status"] == "False"
    ready.touch()
    await eventually(lambda: container(store, "probed", "c")["ready"])
    first = container(store, "probed", "c")["containerID"]
    dead.touch()  # liveness fails: the container is killed and restarted by policy
    await eventually(lambda: container(store, "probed", "c")["restartCount"] == 1)
    dead.unlink()
    c = await eventually(lambda: "running" in container(store, "probed", "c")["state"]
                         and container(store, "probed", "c"))
    assert c["containerID"] != first and c["lastState"]["terminated"]["exitCode"] == 143
    events = [e.body["reason"] for e in store.outbox() if e.kind == "event"]
    assert "Unhealthy" in events and "Killing" in events
