"""The ``edgeplane`` command. Each subcommand group lives in its own module beside this one."""

from __future__ import annotations

import importlib

import click

from edgeplane import __version__

# Subcommand modules: each defines a click command or group named ``command``.
_SUBCOMMANDS = ("up", "cloud", "streams", "token", "join", "edge", "reset")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgeplane")
def cli() -> None:
    """edgeplane: a Kubernetes-compatible control plane for edge nodes, IoT devices and stream rules."""


def _load_subcommands() -> None:
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(f"edgeplane.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"edgeplane.cli.{name}":
                continue  # not built yet
            raise
        cli.add_command(module.command)


_load_subcommands()


def main() -> None:
    cli()
