"""`edgeplane streams test` run as a real process on eKuiper's documented rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conformance.streams.streams_cases import CASES_DIR, load_file

EDGEPLANE = Path(sys.executable).with_name("edgeplane")


def run_cli(tmp_path: Path, streams: list[str], sql: str, lines: list[dict], until: int | None = None) -> subprocess.CompletedProcess:
    source = tmp_path / "input.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    args = [str(EDGEPLANE), "streams", "test", "--sql", sql, "--input", str(source)]
    for stream in streams:
        args += ["--stream", stream]
    if until is not None:
        args += ["--until", str(until)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def emissions(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _needs_cli() -> None:
    if not EDGEPLANE.exists():
        pytest.fail(f"the edgeplane command is not installed next to {sys.executable}")


def test_getting_started_rule(tmp_path: Path) -> None:
    # eKuiper's getting started: CREATE STREAM demo ..., rule SELECT * FROM demo WHERE temperature > 30;
    # publishing {"temperature": 40, "humidity": 20} gives [{"humidity":20,"temperature":40}].
    stream = 'CREATE STREAM demo (temperature float, humidity bigint) WITH (FORMAT="JSON", DATASOURCE="demo")'
    lines = [
        {"stream": "demo", "timestamp": 1541152486013, "data": {"temperature": 40, "humidity": 20}},
        {"stream": "demo", "timestamp": 1541152487013, "data": {"temperature": 20, "humidity": 30}},
    ]
    done = run_cli(tmp_path, [stream], "SELECT * FROM demo WHERE temperature > 30", lines)
    assert done.returncode == 0, done.stderr
    assert emissions(done.stdout) == [[{"humidity": 20, "temperature": 40}]]


def test_hopping_window_join(tmp_path: Path) -> None:
    case = next(c for c in load_file(CASES_DIR / "joins.yaml") if c.name == "hopping_join_documented_data")
    done = run_cli(tmp_path, case.streams, case.sql, case.input, case.until)
    assert done.returncode == 0, done.stderr
    assert emissions(done.stdout) == case.expect


def test_malformed_statement_fails_with_position(tmp_path: Path) -> None:
    stream = 'CREATE STREAM demo (temperature float) WITH (FORMAT="JSON", DATASOURCE="demo")'
    done = run_cli(tmp_path, [stream], "SELECT FROM demo", [{"stream": "demo", "timestamp": 1, "data": {}}])
    assert done.returncode != 0
    assert "expected" in done.stderr.lower() and done.stdout == ""
