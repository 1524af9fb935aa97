"""An edge node whose connection is down: every command fails at once, naming the node and since when."""

from __future__ import annotations

import re
import subprocess
import sys
import time

from tests.integration.cloudproc import Cloud, kubectl_env
from tests.integration.edge.edgeproc import EdgeNode
from tests.integration.operate.cluster import Kubectl, PodTracker, create_pod, pod_manifest, wait_running


def test_commands_fail_at_once_when_the_node_is_offline(cloud: Cloud, kubectl: Kubectl, edge: EdgeNode,
                                                        pods: PodTracker) -> None:
    create_pod(kubectl, pod_manifest("stranded", edge.node_name, "echo hi; exec sleep 100000", pods.directory))
    wait_running(kubectl, "stranded", edge)
    assert kubectl("logs", "stranded") == "hi\n"
    edge.stop()  # the agent goes; its pod keeps running, unreachable from the cloud
    offline = re.compile(rf'node "{edge.node_name}" is offline since '
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: its connection to the cloud is down")
    commands = [
        [kubectl.binary, "logs", "stranded"],
        [kubectl.binary, "logs", "-f", "stranded"],
        [kubectl.binary, "exec", "stranded", "--", "true"],
        [kubectl.binary, "exec", "-it", "stranded", "--", "sh"],
        [kubectl.binary, "attach", "stranded"],
        [sys.executable, "-m", "edgeplane.cli", "port-forward", "stranded", "8080"],
    ]
    for argv in commands:
        started = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=kubectl_env(cloud),
                              stdin=subprocess.DEVNULL)
        elapsed = time.monotonic() - started
        assert done.returncode != 0, argv
        assert offline.search(done.stderr), (argv, done.stderr)
        assert elapsed < 5, (argv, elapsed)
