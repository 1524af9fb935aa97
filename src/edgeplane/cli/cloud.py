"""``edgeplane cloud``: run the cloud side (API server and, as they land, controllers and the edge hub)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import click

from edgeplane.cloud.process import CloudConfig, CloudProcess
from edgeplane.controllers.settings import ControllerSettings, DurationError, parse_duration


class _Duration(click.ParamType):
    """A Go duration ("40s", "5m", "1h30m") or a number of seconds; must be positive."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except DurationError as exc:
                self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(f"{value!r} must be a positive duration", param, ctx)
        return seconds


@click.command("cloud")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, help="Where the store, certificates and admin kubeconfig live.")
@click.option("--bind-address", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=6443, show_default=True, help="HTTPS port.")
@click.option("--advertise-address", default="127.0.0.1", show_default=True,
              help="Address clients and edge nodes use to reach this server (goes into the kubeconfig "
                   "and the server certificate).")
@click.option("--tls-san", "extra_sans", multiple=True, help="Extra DNS name or IP for the server certificate.")
@click.option("--token-auth-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Static bearer tokens, one per line: token,user,uid,\"group1,group2\".")
@click.option("--history-retention", type=click.FloatRange(min=0.1), default=300.0, show_default=True,
              help="Seconds of change history kept; watches from older resourceVersions get 410 Gone.")
@click.option("--compaction-interval", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds between automatic compactions of the store's history.")
@click.option("--node-monitor-grace-period", type=_Duration(), default="40s", show_default=True,
              help="How long a node may go without renewing its Lease before it is marked unreachable.")
@click.option("--node-cert-validity", type=_Duration(), default="8760h", show_default=True,
              help="How long the client certificate an edge node gets at join or rotation is valid; nodes "
                   "rotate it when a third of it is left.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def command(data_dir: Path, bind_address: str, port: int, advertise_address: str, extra_sans: tuple[str, ...],
            token_auth_file: Path | None, history_retention: float, compaction_interval: float,
            node_monitor_grace_period: float, node_cert_validity: float, verbose: bool) -> None:
    """Run the cloud side: a Kubernetes-compatible API server on an embedded SQLite store."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = CloudConfig(data_dir=data_dir, bind_address=bind_address, port=port,
                         advertise_address=advertise_address, extra_sans=list(extra_sans),
                         token_file=token_auth_file, history_retention=history_retention,
                         compaction_interval=compaction_interval, node_cert_lifetime=node_cert_validity,
                         controller_settings=ControllerSettings(node_monitor_grace_period=node_monitor_grace_period))
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        raise click.ClickException(f"cannot start the API server: {exc}") from exc


async def _serve(config: CloudConfig) -> None:
    cloud = CloudProcess(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await cloud.start()
    click.echo(f"edgeplane cloud is serving the Kubernetes API at {config.server_url}")
    click.echo(f"  kubeconfig: {cloud.kubeconfig}")
    click.echo(f"  try:        KUBECONFIG={cloud.kubeconfig} kubectl get namespaces", err=False)
    click.echo("  stop with Ctrl-C", err=False)
    await stop.wait()
    click.echo("edgeplane cloud: shutting down")
    await cloud.stop()
