"""`kubectl logs` against a process pod on an edge node, through the edge's own hub connection."""

from __future__ import annotations

import re
import subprocess
import time
from datetime import UTC, datetime

from tests.integration.edge.edgeproc import EdgeNode, wait_for
from tests.integration.operate.cluster import (
    Kubectl,
    PodTracker,
    create_pod,
    phase,
    pod_manifest,
    wait_running,
)

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


def test_logs_tail_timestamps_since_limit(kubectl: Kubectl, edge: EdgeNode, pods: PodTracker) -> None:
    script = "for i in 1 2 3 4 5; do echo line $$i; done; echo oops >&2; sleep 2; echo late; exec sleep 100000"
    create_pod(kubectl, pod_manifest("counter", edge.node_name, script, pods.directory))
    wait_running(kubectl, "counter", edge)
    wait_for(lambda: "late" in kubectl("logs", "counter"), 20, "the late line")

    assert kubectl("logs", "counter") == "line 1\nline 2\nline 3\nline 4\nline 5\noops\nlate\n"
    assert kubectl("logs", "counter", "--tail=2") == "oops\nlate\n"
    assert kubectl("logs", "counter", "--tail=0") == ""
    stamped = kubectl("logs", "counter", "--timestamps", "--tail=3").splitlines()
    assert [STAMP.sub("", line) for line in stamped] == ["line 5", "oops", "late"]
    assert all(STAMP.match(line) for line in stamped)
    assert kubectl("logs", "counter", "--since=1h").count("\n") == 7
    time.sleep(1.2)
    assert kubectl("logs", "counter", "--since=1s") == ""  # every line is older than a second now
    late_at = datetime.strptime(stamped[-1][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    since = late_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert kubectl("logs", "counter", f"--since-time={since}") == "late\n"
    assert kubectl("logs", "counter", "--limit-bytes=10") == "line 1\nlin"


def test_logs_previous_instance(kubectl: Kubectl, edge: EdgeNode, pods: PodTracker) -> None:
    script = ('n=$$(cat runs 2>/dev/null || echo 0); n=$$((n+1)); echo $$n > runs; echo "run $$n"; '
              'if [ $$n -eq 1 ]; then exit 1; fi; exec sleep 100000')
    create_pod(kubectl, pod_manifest("restarter", edge.node_name, script, pods.directory, restartPolicy="Always"))
    wait_for(lambda: kubectl("logs", "restarter") == "run 2\n", 30, f"the second run\n{edge.log()}")
    assert kubectl("logs", "restarter", "--previous") == "run 1\n"
    failed = kubectl.run("logs", "counter-missing")
    assert failed.returncode != 0 and 'pods "counter-missing" not found' in failed.stderr


def test_previous_of_a_first_instance_is_a_clear_error(kubectl: Kubectl, edge: EdgeNode, pods: PodTracker) -> None:
    create_pod(kubectl, pod_manifest("firstrun", edge.node_name, "exec sleep 100000", pods.directory))
    wait_running(kubectl, "firstrun", edge)
    failed = kubectl.run("logs", "firstrun", "--previous")
    assert failed.returncode == 1
    assert 'previous terminated container "main" in pod "firstrun" not found' in failed.stderr


def test_follow_shows_lines_as_written_and_ends_with_the_pod(kubectl: Kubectl, edge: EdgeNode,
                                                             pods: PodTracker) -> None:
    script = "for i in 1 2 3 4 5 6; do echo tick $$i; sleep 0.5; done"
    create_pod(kubectl, pod_manifest("ticker", edge.node_name, script, pods.directory))
    wait_running(kubectl, "ticker", edge)
    follower = kubectl.popen("logs", "-f", "ticker", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert follower.stdout is not None
    arrivals: list[tuple[float, str]] = []
    for line in follower.stdout:
        arrivals.append((time.monotonic(), line.strip()))
    assert follower.wait(10) == 0, follower.stderr.read() if follower.stderr else ""
    assert [text for _, text in arrivals][-3:] == ["tick 4", "tick 5", "tick 6"]
    # Lines arrived as the pod wrote them (half a second apart), not all at once at the end.
    assert arrivals[-1][0] - arrivals[-3][0] > 0.6
    wait_for(lambda: phase(kubectl, "ticker") == "Succeeded", 20, "the pod to finish")


def test_interrupted_follow_stops_cleanly(kubectl: Kubectl, edge: EdgeNode, pods: PodTracker) -> None:
    create_pod(kubectl, pod_manifest("quiet", edge.node_name, "echo hello; exec sleep 100000", pods.directory))
    wait_running(kubectl, "quiet", edge)
    follower = kubectl.popen("logs", "-f", "quiet", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert follower.stdout is not None
    assert follower.stdout.readline() == "hello\n"
    follower.send_signal(2)  # Ctrl-C
    follower.wait(10)
    # A new request works and the pod is untouched.
    assert kubectl("logs", "quiet") == "hello\n"
    assert phase(kubectl, "quiet") == "Running"
