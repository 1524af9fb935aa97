"""`edgeplane up` (what `make up` runs) starts a working system: cloud plus a local edge node, and stops on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_binary
from tests.integration.cloudproc import free_port
from tests.integration.edge.edgeproc import wait_for


def test_up_runs_a_pod_on_its_local_node_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    kubectl = require_binary("kubectl")
    data = tmp_path / "data"
    port = free_port()
    log_path = tmp_path / "up.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "EDGEPLANE_METASERVER_PORT": "0"}
    pid_file = tmp_path / "hello.pid"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "edgeplane.cli", "up", "--data-dir", str(data),
                                 "--port", str(port), "--node-name", "local"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    kenv = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    kenv.update(KUBECONFIG=str(data / "admin.kubeconfig"), HOME=str(tmp_path))

    def k(*args: str) -> str:
        done = subprocess.run([kubectl, *args], capture_output=True, text=True, env=kenv, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        wait_for(lambda: "edgeplane is up" in log_path.read_text(), 30, f"the banner\n{log_path.read_text()}")
        banner = log_path.read_text()
        assert f"export KUBECONFIG={(data / 'admin.kubeconfig').resolve()}" in banner

        def ready() -> bool:
            node = json.loads(k("get", "node", "local", "-o", "json"))
            return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))

        wait_for(ready, 30, f"the local node Ready\n{log_path.read_text()}")
        # $$$$: Kubernetes turns $$ into $ in commands; the shell's PID stays the sleep's after exec.
        k("run", "hello", "--image=busybox", "--restart=Never", "--command", "--",
          "sh", "-c", f"echo $$$$ > {pid_file}; exec sleep 3600")
        wait_for(lambda: json.loads(k("get", "pod", "hello", "-o", "json"))["status"].get("phase") == "Running",
                 30, f"the pod Running\n{log_path.read_text()}")
        child = int(wait_for(pid_file.read_text, 5, "the pod's PID"))
        assert _running(child), "the pod runs as a process of the local node"

        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0, log_path.read_text()
        assert "shutting down" in log_path.read_text()
        wait_for(lambda: not _running(child), 10, "the pod's process stopped with `edgeplane up`")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if pid_file.exists():
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False
