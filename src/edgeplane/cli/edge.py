"""``edgeplane edge``: restart an edge node that has already joined, from its data directory alone."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from edgeplane.edge.identity import EdgeIdentity, IdentityError

data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("edge-data"), show_default=True,
    help="The edge node's data directory (identity, metastore, pods).")


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_agent_foreground(identity: EdgeIdentity) -> None:
    """Run the edge agent for ``identity`` until Ctrl-C or SIGTERM."""
    from edgeplane.edge.agent import AgentConfigError, run_agent  # pulls in runtimes and the hub: load on use

    click.echo(f"edge node {identity.node_name}: connecting to {identity.server} (stop with Ctrl-C)")
    try:
        asyncio.run(run_agent(identity.data_dir))
    except AgentConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass


@click.command("edge")
@data_dir_option
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def command(data_dir: Path, verbose: bool) -> None:
    """Run an already joined edge node (no token needed)."""
    setup_logging(verbose)
    try:
        identity = EdgeIdentity.load(data_dir)
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    run_agent_foreground(identity)
