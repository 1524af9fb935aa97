"""Node status from the host: capacity, addresses, nodeInfo, conditions; reported only when it changed."""

from __future__ import annotations

import os
from pathlib import Path

from edgeplane.edge.metastore import MetaStore
from edgeplane.edge.nodestatus import KUBELET_VERSION, NodeStatusReporter, meminfo, runtime_version
from tests.unit.edge.podfixtures import put


def test_status_reflects_the_host_and_is_reported_once_until_it_changes(tmp_path: Path):
    store = MetaStore(tmp_path / "m.db")
    put(store, "nodes", {"metadata": {"name": "edge-1"}, "spec": {}})
    reporter = NodeStatusReporter(store, "edge-1", "process", runtime_version="process://1",
                                  data_dir=tmp_path, host_ip="192.0.2.7")
    assert reporter.report_once() is True
    status = store.get("nodes", "", "edge-1")["status"]
    assert status["capacity"]["cpu"] == str(os.cpu_count())
    assert status["capacity"]["memory"] == f"{meminfo()['MemTotal'] // 1024}Ki"
    assert status["capacity"]["pods"] == "110" and status["allocatable"] == status["capacity"]
    assert {"type": "InternalIP", "address": "192.0.2.7"} in status["addresses"]
    assert [a["type"] for a in status["addresses"]] == ["InternalIP", "Hostname"]
    info = status["nodeInfo"]
    assert info["kubeletVersion"] == KUBELET_VERSION and info["containerRuntimeVersion"] == "process://1"
    assert info["operatingSystem"] == "linux" and info["kernelVersion"] == os.uname().release
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True" and conditions["Ready"]["reason"] == "KubeletReady"
    assert conditions["MemoryPressure"]["status"] == "False"
    assert all(c["lastHeartbeatTime"] for c in conditions.values())
    queued = [e for e in store.outbox() if e.kind == "status"]
    assert len(queued) == 1 and queued[0].body["resource"] == "nodes"
    # Nothing changed: nothing is sent.
    assert reporter.report_once() is False
    # A changed address is reported; the Ready condition keeps its transition time.
    reporter.host_ip = "192.0.2.8"
    assert reporter.report_once() is True
    again = {c["type"]: c for c in store.get("nodes", "", "edge-1")["status"]["conditions"]}
    assert again["Ready"]["lastTransitionTime"] == conditions["Ready"]["lastTransitionTime"]
    store.close()


def test_due_report_refreshes_heartbeats(tmp_path: Path):
    store = MetaStore(tmp_path / "m.db")
    reporter = NodeStatusReporter(store, "edge-1", "process", runtime_version="process://1", report_every=0)
    assert reporter.report_once() and reporter.report_once()
    store.close()


async def test_runtime_versions():
    assert await runtime_version("process") == "process://1"
    assert (await runtime_version("podman")).startswith("podman://")
