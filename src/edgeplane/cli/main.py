"""The ``edgeplane`` command. Each subcommand group lives in its own module beside this one.

Subcommand modules are imported only when their command runs (or help lists them): `edgeplane edge` on
a small device must not load the cloud's API server, schemas and stream engine just to start.
"""

from __future__ import annotations

import importlib

import click

from edgeplane import __version__

# Subcommands; each lives in the module of its name without dashes, as a click command named ``command``.
_SUBCOMMANDS = ("up", "cloud", "streams", "token", "join", "edge", "reset", "port-forward")


def _load(name: str) -> click.Command | None:
    module_name = f"edgeplane.cli.{name.replace('-', '')}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None  # not built yet
        raise
    return module.command


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in _SUBCOMMANDS if self.get_command(ctx, name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _SUBCOMMANDS:
            command = _load(cmd_name)
            if command is not None:
                self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgeplane")
def cli() -> None:
    """edgeplane: a Kubernetes-compatible control plane for edge nodes, IoT devices and stream rules."""


def main() -> None:
    cli()
