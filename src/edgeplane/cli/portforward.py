"""``edgeplane port-forward POD [LOCAL:]REMOTE``: kubectl port-forward's job, over the API server's WebSocket."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import click

from edgeplane.client.portforward import PortForwarder, PortForwardError, PortPair
from edgeplane.pki.kubeconfig import KubeconfigError


def _default_kubeconfig() -> Path:
    return Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config")


@click.command("port-forward")
@click.argument("pod")
@click.argument("ports", nargs=-1, required=True)
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True, help="Local address to listen on.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config).")
@click.option("--context", default=None, help="Kubeconfig context (default: the current one).")
def command(pod: str, ports: tuple[str, ...], namespace: str, address: str, kubeconfig: Path | None,
            context: str | None) -> None:
    """Forward local ports to a pod, also on an edge node behind NAT (through its hub connection)."""
    try:
        pairs = [PortPair.parse(p) for p in ports]
        forwarder = PortForwarder(kubeconfig or _default_kubeconfig(), namespace, pod, context=context)
    except (ValueError, KubeconfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from None

    def ready(pair: PortPair) -> Callable[[int], None]:
        return lambda port: click.echo(f"Forwarding from {address}:{port} -> {pair.remote}")

    async def serve() -> None:
        for pair in pairs:
            await forwarder.check(pair.remote)
        await asyncio.gather(*(forwarder.listen(pair, address, ready(pair)) for pair in pairs))

    try:
        asyncio.run(serve())
    except PortForwardError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass
