"""``edgeplane reset``: stop this node's pods and remove its local state, so the machine can join again.

Nothing changes in the cloud: the Node stays until an administrator deletes it, which also frees the
node name for a new key.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import click

from edgeplane.cli.edge import data_dir_option
from edgeplane.edge.identity import CERT_FILE, KEY_FILE, NODE_CONFIG, EdgeIdentity, IdentityError

# Any of these marks an edge data directory; any of the cloud's marks a directory reset must not touch.
_EDGE_MARKS = (NODE_CONFIG, KEY_FILE, CERT_FILE, "metastore.db", "pods")
_CLOUD_MARKS = ("state.db", "admin.kubeconfig", "pki/ca.key")
_STOP_GRACE = 10.0


@click.command("reset")
@data_dir_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def command(data_dir: Path, yes: bool) -> None:
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
    entries = sorted(data_dir.iterdir())
    node_name, runtime = _node(data_dir)
    if not yes:
        click.confirm(f"Stop the pods of node {node_name or '?'} and remove everything in {data_dir} "
                      f"({len(entries)} entries)?", abort=True)
    try:
        stopped = asyncio.run(_stop_pods(data_dir, runtime))
    except Exception as exc:  # a broken runtime must not keep the operator from resetting
        click.echo(f"warning: could not stop the {runtime} pods of this node: {exc}", err=True)
    else:
        click.echo(f"stopped {stopped} running container(s) ({runtime} runtime)")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
            click.echo(f"removed {entry}/")
        else:
            entry.unlink()
            click.echo(f"removed {entry}")
    click.echo(f"{data_dir} is reset; this machine can join again.")
    if node_name:
        click.echo(f"The Node is still registered in the cloud; to remove it there: kubectl delete node {node_name}")


def _node(data_dir: Path) -> tuple[str, str]:
    """The node's name ("" if its identity is gone) and runtime."""
    try:
        config = EdgeIdentity.load(data_dir).config
    except IdentityError:
        return "", "process"
    return str(config["nodeName"]), str(config.get("runtime") or "process")


async def _stop_pods(data_dir: Path, runtime_name: str) -> int:
    """Stop and remove this node's containers: they outlive the agent by design, but not a reset."""
    from edgeplane.edge.agent import make_runtime  # loads the runtime only when there is one to stop

    runtime = make_runtime(runtime_name, data_dir)
    containers = await runtime.list()
    running = [c for c in containers if c.running]
    await asyncio.gather(*(runtime.stop(c.pod_uid, c.name, _STOP_GRACE) for c in running))
    for pod_uid in {c.pod_uid for c in containers}:
        await runtime.remove_pod(pod_uid)
    return len(running)
