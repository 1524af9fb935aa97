"""``edgeplane token create|list|delete``: bootstrap tokens that let edge nodes join the cloud."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import click

from edgeplane.api.errors import APIError
from edgeplane.client.rest import RESTClient
from edgeplane.controllers.settings import DurationError, parse_duration
from edgeplane.pki.bootstraptoken import (
    SECRET_PREFIX,
    SECRET_TYPE,
    TOKEN_NAMESPACE,
    BootstrapToken,
    JoinToken,
    TokenError,
    format_rfc3339,
)
from edgeplane.pki.cahash import ca_cert_hash
from edgeplane.pki.kubeconfig import KubeconfigError, load_kubeconfig

_ADMIN_KUBECONFIG = "admin.kubeconfig"


def _ttl(ctx: click.Context, param: click.Parameter, value: str) -> timedelta | None:
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds < 0:
        raise click.BadParameter(f"{value!r} must not be negative (0 means the token never expires)")
    return timedelta(seconds=seconds) if seconds else None


_kubeconfig_option = click.option(
    "--kubeconfig", type=click.Path(dir_okay=False, path_type=Path),
    help="Admin kubeconfig of the cloud (default: DATA/admin.kubeconfig).")
_data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"), show_default=True,
    help="The cloud's data directory, where its admin kubeconfig lives.")


@click.group("token")
def command() -> None:
    """Bootstrap tokens for `edgeplane join`."""


@command.command("create")
@click.option("--ttl", default="24h", show_default=True, callback=_ttl,
              help='How long the token may be used to join, as a duration ("24h", "30m"); 0: forever.')
@click.option("--description", default="", help="A note stored with the token.")
@_kubeconfig_option
@_data_dir_option
def create(ttl: timedelta | None, description: str, kubeconfig: Path | None, data_dir: Path) -> None:
    """Create a bootstrap token and print the join token for `edgeplane join --token`."""
    path = _kubeconfig_path(kubeconfig, data_dir)
    token = BootstrapToken.generate(ttl, description)
    asyncio.run(_call(path, lambda c: c.create("v1", "secrets", token.to_secret(), TOKEN_NAMESPACE)))
    click.echo(str(JoinToken(_ca_hash(path), token)))


@command.command("list")
@_kubeconfig_option
@_data_dir_option
def list_(kubeconfig: Path | None, data_dir: Path) -> None:
    """List bootstrap tokens with their expiry."""
    path = _kubeconfig_path(kubeconfig, data_dir)
    ca_hash = _ca_hash(path)
    answer = asyncio.run(_call(path, lambda c: c.list("v1", "secrets", TOKEN_NAMESPACE)))
    rows = [("ID", "TTL", "EXPIRES", "DESCRIPTION", "JOIN TOKEN")]
    now = datetime.now(UTC)
    for secret in answer.get("items", []):
        if secret.get("type") != SECRET_TYPE or not secret["metadata"]["name"].startswith(SECRET_PREFIX):
            continue
        try:
            token = BootstrapToken.from_secret(secret)
        except TokenError as exc:
            click.echo(f"skipping {exc}", err=True)
            continue
        rows.append((token.token_id, _ttl_left(token, now),
                     format_rfc3339(token.expiration) if token.expiration else "<never>",
                     token.description or "<none>", str(JoinToken(ca_hash, token))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@command.command("delete")
@click.argument("tokens", nargs=-1, required=True)
@_kubeconfig_option
@_data_dir_option
def delete(tokens: tuple[str, ...], kubeconfig: Path | None, data_dir: Path) -> None:
    """Delete tokens, given by id, <id>.<secret> or the whole join token."""
    path = _kubeconfig_path(kubeconfig, data_dir)
    for text in tokens:
        token_id = _token_id(text)
        asyncio.run(_call(path, lambda c, i=token_id: c.delete("v1", "secrets", SECRET_PREFIX + i, TOKEN_NAMESPACE)))
        click.echo(f"bootstrap token {token_id} deleted")


# -- helpers ---------------------------------------------------------------------------------------------


def _token_id(text: str) -> str:
    for parse in (lambda t: JoinToken.parse(t).token, BootstrapToken.parse):
        try:
            return parse(text).token_id
        except TokenError:
            pass
    if re.fullmatch(r"[a-z0-9]{6}", text):
        return text
    raise click.BadParameter(f"{text!r} is neither a token id, <id>.<secret> nor a join token", param_hint="TOKENS")


def _ttl_left(token: BootstrapToken, now: datetime) -> str:
    if token.expiration is None:
        return "<forever>"
    left = (token.expiration - now).total_seconds()
    if left <= 0:
        return "<expired>"
    hours, rest = divmod(int(left), 3600)
    return f"{hours}h{rest // 60}m" if hours else f"{rest // 60}m{rest % 60}s"


def _kubeconfig_path(kubeconfig: Path | None, data_dir: Path) -> Path:
    path = kubeconfig or data_dir / _ADMIN_KUBECONFIG
    if not path.exists():
        raise click.ClickException(
            f"kubeconfig {path} does not exist: pass --kubeconfig, or --data-dir of the cloud "
            "(it writes admin.kubeconfig there)"
        )
    return path


def _ca_hash(path: Path) -> str:
    """The cluster CA's pin, from the admin kubeconfig the token was made with."""
    try:
        ca_pem = load_kubeconfig(path)["ca_pem"]
    except KubeconfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not ca_pem:
        raise click.ClickException(f"{path}: the cluster has no certificate-authority data to pin in the token")
    try:
        return ca_cert_hash(ca_pem)
    except ValueError as exc:
        raise click.ClickException(f"{path}: certificate-authority data is not a certificate: {exc}") from None


async def _call(path: Path, action: Any) -> Any:
    try:
        async with RESTClient.from_kubeconfig(path) as client:
            return await action(client)
    except KubeconfigError as exc:
        raise click.ClickException(str(exc)) from None
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise click.ClickException(f"cannot reach the cloud named in {path}: {exc}") from None
