"""``edgeplane streams``: work with stream rules offline."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import click
import orjson

from edgeplane.streams.sql.errors import SQLError


@click.group(name="streams")
def command() -> None:
    """Stream rules in eKuiper's SQL dialect."""


@command.command(name="test")
@click.option("--stream", "streams", multiple=True, required=True, metavar="SQL",
              help='A CREATE STREAM statement (repeatable).')
@click.option("--table", "tables", multiple=True, metavar="SQL", help="A CREATE TABLE statement (repeatable).")
@click.option("--sql", required=True, help="The rule's SELECT statement.")
@click.option("--input", "input_file", required=True, type=click.File("r"),
              help='JSON lines {"stream": ..., "timestamp": ms, "data": {...}} in arrival order ("-" for stdin).')
@click.option("--options", "options_json", default=None, metavar="JSON",
              help='Rule options, e.g. \'{"isEventTime": true, "lateTolerance": 1000}\'.')
@click.option("--until", type=int, default=None, metavar="MS", help="Advance time to MS after the last line.")
def test(streams: tuple[str, ...], tables: tuple[str, ...], sql: str, input_file: Any,
         options_json: str | None, until: int | None) -> None:
    """Replay recorded messages through a rule and print each emission as a JSON line."""
    from edgeplane.streams.testing import RecordingError, build_rule, replay

    options = _parse_options(options_json)
    lines = _read_lines(input_file)
    out = sys.stdout

    def emit(rows: list[dict[str, Any]]) -> None:  # printed as they happen: a long replay streams
        out.write(orjson.dumps(rows, default=_json_default).decode() + "\n")

    try:
        rule, catalog = build_rule(sql, streams, tables, options, on_emit=emit)
    except SQLError as exc:
        raise click.ClickException(f"invalid statement: {exc}") from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        replay(rule, catalog, lines, until)
    except RecordingError as exc:
        raise click.ClickException(str(exc)) from None
    for message in rule.errors:
        click.echo(f"error: {message}", err=True)
    if rule.error_count > len(rule.errors):
        click.echo(f"error: {rule.error_count - len(rule.errors)} more errors not shown", err=True)
    if rule.late_count:
        click.echo(f"dropped {rule.late_count} late event(s)", err=True)


def _parse_options(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--options") from None
    if not isinstance(options, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--options")
    return options


def _read_lines(handle: Any) -> list[dict]:
    lines = []
    for n, text in enumerate(handle, 1):
        if not text.strip():
            continue
        try:
            lines.append(orjson.loads(text))
        except orjson.JSONDecodeError as exc:
            raise click.ClickException(f"{getattr(handle, 'name', 'input')} line {n}: not JSON: {exc}") from None
    return lines


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()  # bytea, as eKuiper encodes it in JSON
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
