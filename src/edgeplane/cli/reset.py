"""``edgeplane reset``: stop this node's pods and remove its local state, so the machine can join again.

Nothing changes in the cloud: the Node stays until an administrator deletes it, which also frees the
node name for a new key.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import click

from edgeplane.cli.edge import data_dir_option
from edgeplane.edge.identity import CERT_FILE, KEY_FILE, NODE_CONFIG, EdgeIdentity, IdentityError
from edgeplane.edge.runtimes import sweep

# Any of these marks an edge data directory; any of the cloud's marks a directory reset must not touch.
_EDGE_MARKS = (NODE_CONFIG, KEY_FILE, CERT_FILE, "metastore.db", "pods")
_CLOUD_MARKS = ("state.db", "admin.kubeconfig", "pki/ca.key")


@click.command("reset")
@data_dir_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--grace-period", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds each container has to exit after SIGTERM before it is killed.")
def command(data_dir: Path, yes: bool, grace_period: float) -> None:
    """Stop this edge node's pods and remove its identity and local state (stop the agent first)."""
    if not data_dir.is_dir():
        raise click.ClickException(f"{data_dir} does not exist: nothing to reset")
    cloud = [m for m in _CLOUD_MARKS if (data_dir / m).exists()]
    if cloud:
        raise click.ClickException(
            f"{data_dir} is a cloud data directory (it holds {', '.join(cloud)}), not an edge node's; refusing"
        )
    if not any((data_dir / m).exists() for m in _EDGE_MARKS):
        raise click.ClickException(f"{data_dir} does not look like an edge node's data directory; refusing")
    # A running agent would start the pods again, in a directory being removed.
    agents = sweep.holders(data_dir / "metastore.db")
    if agents:
        raise click.ClickException(f"the agent of this node is running (process {', '.join(map(str, agents))} "
                                   f"has {data_dir / 'metastore.db'} open): stop it first")
    entries = sorted(data_dir.iterdir())
    node_name, runtime = _node(data_dir)
    if not yes:
        click.confirm(f"Stop the pods of node {node_name or '?'} and remove everything in {data_dir} "
                      f"({len(entries)} entries)?", abort=True)
    pods = _pod_names(data_dir)
    problems = _stop_processes(data_dir, pods, grace_period)
    if runtime in ("podman", ""):  # "": the identity is gone, so look for both runtimes' containers
        problems += _stop_podman(data_dir, grace_period, required=runtime == "podman")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
            click.echo(f"removed {entry}/")
        else:
            entry.unlink()
            click.echo(f"removed {entry}")
    if problems:  # the state is gone all the same: a broken runtime must not keep the operator from resetting
        raise click.ClickException(f"{data_dir} is reset, but not all of its workloads are stopped: "
                                   + "; ".join(problems))
    click.echo(f"{data_dir} is reset; this machine can join again.")
    if node_name:
        click.echo(f"The Node is still registered in the cloud; to remove it there: kubectl delete node {node_name}")


def _node(data_dir: Path) -> tuple[str, str]:
    """The node's name and runtime ("", "" if its identity is gone)."""
    try:
        config = EdgeIdentity.load(data_dir).config
    except IdentityError:
        return "", ""
    return str(config["nodeName"]), str(config.get("runtime") or "process")


def _pod_names(data_dir: Path) -> dict[str, str]:
    """Pod uid -> namespace/name, from the metastore (empty if it cannot be read: progress shows uids then)."""
    if not (data_dir / "metastore.db").exists():
        return {}
    from edgeplane.edge.metastore import MetaStore

    try:
        store = MetaStore(data_dir / "metastore.db")
    except Exception:  # a damaged metastore must not keep the operator from resetting
        return {}
    try:
        return {p["metadata"].get("uid", ""): f"{p['metadata'].get('namespace', '')}/{p['metadata']['name']}"
                for p in store.list("pods")}
    finally:
        store.close()


def _stop_processes(data_dir: Path, pods: dict[str, str], grace: float) -> list[str]:
    """Stops the process runtime's containers (they outlive the agent by design, not a reset); what is left."""
    procs = sweep.processes_under(data_dir)
    containers = [p for p in procs if p.supervisor]
    for p in containers:
        click.echo(f"stopping container {p.container} of pod {pods.get(p.pod_uid, p.pod_uid)} (process {p.pid})")
    for p in procs:
        if not p.supervisor:
            click.echo(f"stopping process {p.pid} of container {p.container} of pod {pods.get(p.pod_uid, p.pod_uid)}"
                       " (its supervisor is gone)")
    left = sweep.end_processes(procs, grace)
    click.echo(f"stopped {len(containers)} running container(s) (process runtime)")
    return [f"could not stop {p.describe()}" for p in left]


def _stop_podman(data_dir: Path, grace: float, *, required: bool) -> list[str]:
    """Stops and removes the podman containers this node created (its log files are in the data directory)."""
    binary = shutil.which("podman")
    if binary is None:
        if required:
            click.echo("warning: podman is not installed: cannot look for this node's podman containers", err=True)
        return []
    podman = sweep.podman_command(binary)
    try:
        containers = sweep.podman_containers_under(data_dir, podman)
        for c in containers:
            click.echo(f"removing {c.describe()}")
        sweep.remove_podman_containers(containers, podman, grace)
        left = sweep.podman_containers_under(data_dir, podman)
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return [f"could not stop this node's podman containers: {exc}"]
    running = sum(c.state not in ("exited", "created", "configured", "stopped") for c in containers)
    click.echo(f"stopped {running} running container(s) and removed {len(containers) - len(left)} "
               "(podman runtime)")
    return [f"could not remove {c.describe()}" for c in left]
