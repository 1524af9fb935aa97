"""``edgeplane up``: the cloud and one local edge node in one command, for trying edgeplane on one machine.

The cloud runs in this process; the edge node joins it with a bootstrap token made here, exactly as a
remote node would (CA pinning, key and CSR, node certificate), and its agent runs in this process too.
DATA holds the cloud (store, certificates, admin kubeconfig) and DATA/edge the edge node, so a second
``edgeplane up`` restarts the same cluster and the same node.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta
from pathlib import Path

import click

from edgeplane.client.local import LocalClient
from edgeplane.cloud.process import CloudConfig, CloudProcess
from edgeplane.edge.agent import AgentConfig, AgentConfigError, EdgeAgent
from edgeplane.edge.identity import EdgeIdentity, JoinError, JoinOptions, default_node_name, join
from edgeplane.pki.bootstraptoken import TOKEN_NAMESPACE, BootstrapToken, JoinToken
from edgeplane.pki.cahash import ca_cert_hash

EDGE_SUBDIR = "edge"


async def _join_local_node(cloud: CloudProcess, edge_dir: Path, node_name: str) -> EdgeIdentity:
    """The local node's identity: the one already in ``edge_dir``, or a fresh join with a one-off token."""
    if (edge_dir / "node.json").exists():
        return EdgeIdentity.load(edge_dir)
    assert cloud.api is not None
    token = BootstrapToken.generate(timedelta(minutes=10), "edgeplane up: local edge node")
    await LocalClient(cloud.api.ctx).create("v1", "secrets", token.to_secret(), TOKEN_NAMESPACE)
    ca_pem = (cloud.config.data_dir / "pki" / "ca.crt").read_bytes()
    join_token = JoinToken(ca_cert_hash(ca_pem), token)
    return await join(JoinOptions(server=cloud.config.server_url, token=str(join_token), data_dir=edge_dir,
                                  node_name=node_name, runtime="process"))


async def _stop_pods(agent: EdgeAgent) -> int:
    """Stops every container the local node runs (``up`` owns its node; ``--keep-pods`` skips this)."""
    runtime = getattr(agent.pods, "runtime", None)
    if runtime is None:
        return 0
    containers = [c for c in await runtime.list() if c.running]
    await asyncio.gather(*(runtime.stop(c.pod_uid, c.name, 5.0) for c in containers), return_exceptions=True)
    return len(containers)


async def _up(data_dir: Path, port: int, node_name: str, keep_pods: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cloud = CloudProcess(CloudConfig(data_dir=data_dir, port=port))
    agent: EdgeAgent | None = None
    try:
        await cloud.start()
        identity = await _join_local_node(cloud, data_dir / EDGE_SUBDIR, node_name)
        agent = EdgeAgent(AgentConfig.from_env(identity.data_dir))
        await agent.start()
        kubeconfig = cloud.kubeconfig.resolve() if cloud.kubeconfig else data_dir / "admin.kubeconfig"
        click.echo(f"edgeplane is up: the Kubernetes API at {cloud.config.server_url}, "
                   f"edge node {identity.node_name} (data in {data_dir})")
        click.echo(f"  export KUBECONFIG={kubeconfig}")
        click.echo("  kubectl get nodes -o wide")
        click.echo("  kubectl create deployment hello --image=busybox -- sleep 3600")
        click.echo("  kubectl get pods -o wide")
        click.echo("stop with Ctrl-C", err=False)
        await stop.wait()
        click.echo("edgeplane up: shutting down")
    finally:
        if agent is not None:
            if not keep_pods:
                stopped = await _stop_pods(agent)
                if stopped:
                    click.echo(f"  stopped {stopped} container(s) of the local node")
            await agent.stop()
        await cloud.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@click.command("up")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Where the cloud keeps its state; the edge node's is in DATA/edge.")
@click.option("--port", type=click.IntRange(1, 65535), default=6443, show_default=True,
              help="HTTPS port of the Kubernetes API (on all addresses).")
@click.option("--node-name", default="", help="Name of the local edge node (default: the host name).")
@click.option("--keep-pods", is_flag=True,
              help="Leave the local node's pods running on exit (the next `edgeplane up` adopts them).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def command(data_dir: Path, port: int, node_name: str, keep_pods: bool, verbose: bool) -> None:
    """Start the cloud and one local edge node; stop both with Ctrl-C."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_up(data_dir, port, node_name or default_node_name(), keep_pods))
    except (JoinError, AgentConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None
