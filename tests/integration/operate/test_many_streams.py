"""Many streams on one node's connection while one log streams 50 MB: everything completes, the cloud's memory
stays bounded and pod status keeps flowing through the same connection."""

from __future__ import annotations

import subprocess
import threading
import time

from tests.integration.cloudproc import Cloud
from tests.integration.edge.edgeproc import EdgeNode, wait_for
from tests.integration.operate.cluster import (
    Kubectl,
    PodTracker,
    create_pod,
    phase,
    pod_manifest,
    wait_running,
)

CHUNKS = 50  # of 1,000,000 bytes: 10,000 lines of 100 bytes
TOTAL = CHUNKS * 1_000_000


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.1)


def count_bytes(proc: subprocess.Popen[bytes], into: list[int]) -> None:
    assert proc.stdout is not None
    while chunk := proc.stdout.read1(1 << 16):
        into[0] += len(chunk)


def test_fifty_megabytes_beside_ten_followers_and_two_execs(cloud: Cloud, kubectl: Kubectl, edge: EdgeNode,
                                                            pods: PodTracker) -> None:
    create_pod(kubectl, pod_manifest(
        "talker", edge.node_name, "i=0; while true; do i=$$((i+1)); echo talk $$i; sleep 0.1; done", pods.directory))
    line = "0123456789" * 9 + "abcdefghi"  # 100 bytes with its newline: chunks end with whole lines
    bulk_script = (f"yes {line} | head -c 1000000 > chunk; sleep 1; for i in $$(seq {CHUNKS}); do cat chunk; "
                   "sleep 0.04; done")
    create_pod(kubectl, pod_manifest("bulk", edge.node_name, bulk_script, pods.directory))
    wait_running(kubectl, "talker", edge)
    wait_running(kubectl, "bulk", edge)
    assert cloud.proc is not None
    baseline = rss_kib(cloud.proc.pid)
    sampler = Sampler(cloud.proc.pid)
    sampler.start()

    followers = [kubectl.popen("logs", "-f", "talker", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(10)]
    execs = [kubectl.popen("exec", "talker", "--", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo e$i; "
                           "sleep 0.2; done", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    bulk = subprocess.Popen([kubectl.binary, "logs", "-f", "bulk"], env=kubectl.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    received = [0]
    reader = threading.Thread(target=count_bytes, args=(bulk, received), daemon=True)
    reader.start()

    # While the bulk log flows, a new pod on the same node still starts and reports Running.
    wait_for(lambda: received[0] > 5_000_000, 30, "the bulk log to flow")
    started = time.monotonic()
    create_pod(kubectl, pod_manifest("latecomer", edge.node_name, "exec sleep 100000", pods.directory))
    wait_for(lambda: phase(kubectl, "latecomer") == "Running", 15, "a pod status during the bulk transfer")
    status_delay = time.monotonic() - started
    in_flight = received[0] < TOTAL

    assert bulk.wait(60) == 0, bulk.stderr.read() if bulk.stderr else ""
    reader.join(10)
    sampler.done.set()
    sampler.join()
    for proc in execs:
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert out.split() == [f"e{i}" for i in range(1, 11)]
    for proc in followers:
        proc.send_signal(2)
    outputs = [proc.communicate(timeout=10)[0] for proc in followers]

    assert received[0] == TOTAL
    assert all(out.count("talk ") >= 20 for out in outputs), [out.count("talk ") for out in outputs]
    growth_mib = (sampler.peak - baseline) / 1024
    print(f"cloud RSS {baseline / 1024:.1f} MiB before, peak {sampler.peak / 1024:.1f} MiB; "
          f"status during the transfer in {status_delay:.2f}s (transfer still running: {in_flight})")
    assert growth_mib < 40, f"the cloud grew by {growth_mib:.1f} MiB while relaying {TOTAL >> 20} MiB"
