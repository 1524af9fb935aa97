"""``edgeplane join``: join an edge node to a cloud with a token, then run it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from edgeplane.api.names import label_value, qualified_name
from edgeplane.cli.edge import data_dir_option, run_agent_foreground, setup_logging
from edgeplane.edge.identity import RUNTIMES, JoinError, JoinOptions, join


def _labels(ctx: click.Context, param: click.Parameter, value: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, eq, val = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r} is not key=value")
        problems = qualified_name(key) + [f"value {val!r}: {p}" for p in label_value(val)]
        if problems:
            raise click.BadParameter(f"label {item!r}: {'; '.join(problems)}")
        labels[key] = val
    return labels


@click.command("join")
@click.option("--server", required=True, help="The cloud's API server, e.g. https://cloud.example:6443.")
@click.option("--token", required=True, envvar="EDGEPLANE_TOKEN",
              help="Join token from `edgeplane token create` (or $EDGEPLANE_TOKEN).")
@click.option("--node-name", default="", help="Name of this node (default: the host name).")
@data_dir_option
@click.option("--runtime", type=click.Choice(RUNTIMES), default="process", show_default=True,
              help="How pods run: as supervised OS processes, or as podman containers.")
@click.option("--labels", default="", callback=_labels, help="Node labels, k=v,k2=v2.")
@click.option("--nodepool", default="", help="NodePool this node belongs to.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def command(server: str, token: str, node_name: str, data_dir: Path, runtime: str, labels: dict[str, str],
            nodepool: str, verbose: bool) -> None:
    """Join this machine to a cloud as an edge node, then run the node in the foreground."""
    setup_logging(verbose)
    options = JoinOptions(server=server, token=token, data_dir=data_dir, node_name=node_name, runtime=runtime,
                          labels=labels, nodepool=nodepool)
    try:
        identity = asyncio.run(join(options))
    except JoinError as exc:
        raise click.ClickException(f"join failed: {exc}") from None
    click.echo(f"joined {identity.server} as node {identity.node_name}; identity in {data_dir}")
    click.echo(f"  restart later with: edgeplane edge --data-dir {data_dir}")
    # Become that very command: the agent then runs without what joining loaded (cryptography, ~10 MB
    # resident), with the same process id, so whoever started `join` still supervises the agent.
    sys.stdout.flush()
    sys.stderr.flush()
    args = [sys.executable, "-m", "edgeplane.cli", "edge", "--data-dir", str(data_dir), *(["-v"] if verbose else [])]
    try:
        os.execv(sys.executable, args)
    except OSError as exc:  # no interpreter to exec (an embedded build): run the agent here instead
        click.echo(f"warning: cannot restart as `edgeplane edge` ({exc}); running the agent in this process",
                   err=True)
        run_agent_foreground(identity)
