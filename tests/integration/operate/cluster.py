"""A cloud and joined edge nodes as real OS processes, and kubectl pointed at the cloud, for the operate tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import require_binary
from tests.integration.cloudproc import Cloud, kubectl_env
from tests.integration.edge.edgeproc import EdgeNode, wait_for


class Kubectl:
    def __init__(self, cloud: Cloud) -> None:
        self.binary = require_binary("kubectl")
        self.env = kubectl_env(cloud)

    def run(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, *args], input=input, capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60) -> str:
        proc = self.run(*args, input=input, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc.stdout

    def popen(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        return subprocess.Popen([self.binary, *args], env=self.env, text=True, **kwargs)

    def json(self, *args: str) -> Any:
        return json.loads(self("get", *args, "-o", "json"))


@dataclass
class PodTracker:
    """Where test pods record their PIDs, so cleanup can kill them (pods outlive their agent by design)."""

    directory: Path
    names: list[str] = field(default_factory=list)

    def kill_all(self) -> None:
        for pid_file in self.directory.iterdir():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (ValueError, OSError):
                pass


def pod_manifest(name: str, node: str, script: str, pids: Path, **spec: Any) -> dict[str, Any]:
    """A process pod running ``sh -c script`` on ``node``, recording its PID first.

    Kubernetes turns ``$$`` into ``$`` in commands, so scripts spell the shell's ``$`` as ``$$``.
    """
    container = {"name": "main", "image": "busybox",
                 "command": ["sh", "-c", f"echo $$$$ > {pids}/{name}; {script}"]}
    container.update(spec.pop("container", {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "restartPolicy": spec.pop("restartPolicy", "Never"),
                     "containers": [container], **spec}}


def create_pod(kubectl: Kubectl, manifest: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=json.dumps(manifest))


def phase(kubectl: Kubectl, name: str) -> str:
    return (kubectl.json("pod", name).get("status") or {}).get("phase", "")


def wait_running(kubectl: Kubectl, name: str, edge: EdgeNode, timeout: float = 30) -> None:
    wait_for(lambda: phase(kubectl, name) == "Running", timeout, f"pod {name} Running\n{edge.log()}")
